"""A simulated Telegram behind a real Telethon `TelegramClient`, for the tests and `demo`.

Only the network boundary is replaced: the client's MTProto sender becomes `_WorldSender`,
which serializes every request with `bytes(request)`, reads it back as the server would,
answers from an in-memory `World` with real TL objects, and hands the serialized answer to
the request's own `read_result`. Updates are serialized the same way and pushed into the
client's update queue, so Telethon's message box and event dispatch process them as they
would on the wire. Product code cannot tell the difference; this module is the only place
that touches Telethon's private internals.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import math
import os
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import TelegramClient, errors
from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.extensions import BinaryReader
from telethon.tl import TLObject, functions, types
from telethon.tl.types import contacts as tl_contacts
from telethon.tl.types import messages as tl_messages
from telethon.tl.types import updates as tl_updates

from monitor.clock import Clock

_VECTOR = struct.pack("<I", 0x1CB5C415)
_BOOL_TRUE = struct.pack("<I", 0x997275B5)
_BOOL_FALSE = struct.pack("<I", 0xBC799737)
SANDBOX_API_ID = 1
SANDBOX_API_HASH = "0" * 32


class SandboxRpcError(Exception):
    """Raised inside the world to answer a request with a Telegram RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SimMessage:
    id: int
    date: datetime
    text: str = ""
    edit_date: datetime | None = None
    views: int = 0
    forwards: int = 0
    replies: int | None = None
    reactions: dict[str, int] = field(default_factory=dict)
    grouped_id: int | None = None
    forward_from_name: str | None = None
    reply_to: int | None = None
    post_author: str | None = None
    photo: bool = False
    service: bool = False


@dataclass
class SimChannel:
    id: int
    access_hash: int
    title: str
    username: str | None
    created: datetime
    megagroup: bool = False
    messages: dict[int, SimMessage] = field(default_factory=dict)
    next_id: int = 1
    pts: int = 1
    members: set[int] = field(default_factory=set)
    private: bool = False  # the account has lost access
    deleted: bool = False


@dataclass
class SimUser:
    id: int
    access_hash: int
    first_name: str
    username: str | None = None
    bot: bool = False
    phone: str | None = None
    password: str | None = None


@dataclass
class RatePolicy:
    """How often each request type may be sent before Telegram answers FLOOD_WAIT.

    `per_second` maps a request's class name (e.g. "GetHistoryRequest") to the permitted rate.
    A request sooner than 1/rate after the previous one of its type gets a flood wait for
    the remaining time; one sent during a flood wait it was told about doubles the wait.
    """

    per_second: dict[str, float] = field(default_factory=dict)
    _next_allowed: dict[str, datetime] = field(default_factory=dict)
    _penalty_until: dict[str, datetime] = field(default_factory=dict)
    flood_waits: list[tuple[str, int]] = field(default_factory=list)

    def check(self, name: str, now: datetime) -> None:
        rate = self.per_second.get(name)
        if not rate:
            return
        penalty = self._penalty_until.get(name)
        if penalty is not None and now < penalty:
            seconds = math.ceil((penalty - now).total_seconds()) * 2
            self._penalty_until[name] = now + timedelta(seconds=seconds)
            self.flood_waits.append((name, seconds))
            raise SandboxRpcError(420, f"FLOOD_WAIT_{seconds}")
        allowed = self._next_allowed.get(name)
        if allowed is not None and now < allowed:
            seconds = max(1, math.ceil((allowed - now).total_seconds()))
            self._penalty_until[name] = now + timedelta(seconds=seconds)
            self.flood_waits.append((name, seconds))
            raise SandboxRpcError(420, f"FLOOD_WAIT_{seconds}")
        self._next_allowed[name] = now + timedelta(seconds=1 / rate)


def _blank(cls: type[TLObject], **values: Any) -> TLObject:
    """A TL object with every required field filled with an empty value of its type."""
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in values or parameter.default is not inspect.Parameter.empty:
            continue
        annotation = str(parameter.annotation)
        if "List" in annotation:
            values[name] = []
        elif "datetime" in annotation:
            values[name] = datetime(2024, 1, 1, tzinfo=UTC)
        elif "str" in annotation:
            values[name] = ""
        elif "bool" in annotation:
            values[name] = False
        else:
            values[name] = 0
    return cls(**values)


def _serialize_result(value: Any) -> bytes:
    if isinstance(value, bool):
        return _BOOL_TRUE if value else _BOOL_FALSE
    if isinstance(value, list):
        return _VECTOR + struct.pack("<i", len(value)) + b"".join(bytes(item) for item in value)
    return bytes(value)


def _wire(obj: TLObject) -> Any:
    """The object as the other side of the connection sees it: serialized and read back."""
    with BinaryReader(bytes(obj)) as reader:
        return reader.tgread_object()


class World:
    """Channels, users and messages of the simulated Telegram, on a given clock."""

    def __init__(self, clock: Clock, seed: int = 1) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.policy = RatePolicy()
        self.channels: dict[int, SimChannel] = {}
        self.users: dict[int, SimUser] = {}
        self.usernames: dict[str, tuple[str, int]] = {}
        self.drop_rate = 0.0
        self.network_up = True
        self.channel_limit = 500
        self.login_codes: dict[str, str] = {}
        self.requests: list[str] = []
        # Called with each request's name before it is answered: tests cut the network here.
        self.on_request: Callable[[str], None] | None = None
        self.dropped_updates = 0
        self._authorized: dict[bytes, int] = {}
        self._senders: list[_WorldSender] = []
        self._ids = itertools.count(1_000_001)
        self.account = self.add_user("Analyst", phone="+10000000000")
        self.bot = self.add_user("Monitor Bot", username="monitor_test_bot", bot=True)
        self.bot_token = f"{self.bot.id}:SANDBOXTOKENSANDBOXTOKENSANDBOXTOKEN"

    # ---- building the world -------------------------------------------------------------

    def add_user(self, first_name: str, username: str | None = None, bot: bool = False,
                 phone: str | None = None) -> SimUser:  # fmt: skip
        user = SimUser(next(self._ids), self.rng.getrandbits(63), first_name, username, bot, phone)
        self.users[user.id] = user
        if username:
            self.usernames[username.lower()] = ("user", user.id)
        return user

    def add_channel(self, title: str, username: str | None = None, megagroup: bool = False,
                    created: datetime | None = None) -> SimChannel:  # fmt: skip
        channel = SimChannel(
            id=next(self._ids) + 1_700_000_000,
            access_hash=self.rng.getrandbits(63),
            title=title,
            username=username,
            created=created or self.clock.now() - timedelta(days=365),
            megagroup=megagroup,
        )
        self.channels[channel.id] = channel
        if username:
            self.usernames[username.lower()] = ("channel", channel.id)
        return channel

    def authorize(self, sender_key: bytes, user: SimUser) -> None:
        self._authorized[sender_key] = user.id

    # ---- what happens in channels --------------------------------------------------------

    def post(self, channel: SimChannel, text: str = "", date: datetime | None = None,
             **fields: Any) -> SimMessage:  # fmt: skip
        message = SimMessage(channel.next_id, date or self.clock.now(), text, **fields)
        channel.next_id += 1
        channel.messages[message.id] = message
        self._push(
            channel,
            lambda pts: types.UpdateNewChannelMessage(self._tl_message(channel, message), pts, 1),
        )
        return message

    def album(self, channel: SimChannel, captions: list[str]) -> list[SimMessage]:
        grouped = self.rng.getrandbits(62)
        return [self.post(channel, caption, grouped_id=grouped, photo=True) for caption in captions]

    def edit(self, channel: SimChannel, message_id: int, text: str | None = None,
             reactions: dict[str, int] | None = None, views: int | None = None) -> SimMessage:  # fmt: skip
        message = channel.messages[message_id]
        if text is not None:
            message.text = text
            message.edit_date = self.clock.now()
        if reactions is not None:
            message.reactions = dict(reactions)
        if views is not None:
            message.views = views
        self._push(
            channel,
            lambda pts: types.UpdateEditChannelMessage(self._tl_message(channel, message), pts, 1),
        )
        return message

    def delete(self, channel: SimChannel, message_ids: Iterable[int]) -> None:
        ids = [i for i in message_ids if channel.messages.pop(i, None) is not None]
        if ids:
            self._push(
                channel,
                lambda pts: types.UpdateDeleteChannelMessages(channel.id, ids, pts, len(ids)),
            )

    def make_private(self, channel: SimChannel) -> None:
        channel.private = True

    def delete_channel(self, channel: SimChannel) -> None:
        channel.deleted = True
        if channel.username:
            self.usernames.pop(channel.username.lower(), None)

    def rename(self, channel: SimChannel, username: str | None) -> None:
        if channel.username:
            self.usernames.pop(channel.username.lower(), None)
        channel.username = username
        if username:
            self.usernames[username.lower()] = ("channel", channel.id)

    def cut_network(self) -> None:
        self.network_up = False
        for sender in list(self._senders):
            sender.drop_connection()

    def restore_network(self) -> None:
        self.network_up = True

    def _push(self, channel: SimChannel, make_update: Callable[[int], TLObject]) -> None:
        # A dropped update never consumes pts: Telegram just stays silent, as in Telethon #4345.
        if self.drop_rate and self.rng.random() < self.drop_rate:
            self.dropped_updates += 1
            return
        channel.pts += 1
        update = make_update(channel.pts)
        for sender in self._senders:
            if sender.user_id in channel.members and sender.connected:
                envelope = types.Updates(
                    [update], [], [self._tl_channel(channel, sender.user_id)], self.clock.now(), 0
                )
                sender.push(_wire(envelope))

    # ---- TL objects --------------------------------------------------------------------------

    def _tl_channel(self, channel: SimChannel, viewer: int | None) -> TLObject:
        if channel.deleted or (channel.private and viewer not in channel.members):
            return types.ChannelForbidden(
                channel.id, channel.access_hash, channel.title, broadcast=not channel.megagroup
            )
        return types.Channel(
            id=channel.id, title=channel.title, photo=types.ChatPhotoEmpty(), date=channel.created,
            access_hash=channel.access_hash, username=channel.username,
            broadcast=not channel.megagroup, megagroup=channel.megagroup,
            left=viewer not in channel.members, signatures=True,
        )  # fmt: skip

    def _tl_user(self, user: SimUser, viewer: int | None) -> TLObject:
        return types.User(
            id=user.id, is_self=user.id == viewer, access_hash=user.access_hash,
            first_name=user.first_name, username=user.username, bot=user.bot,
            bot_info_version=1 if user.bot else None,
            phone=user.phone if user.id == viewer else None,
        )  # fmt: skip

    def _tl_message(self, channel: SimChannel, message: SimMessage) -> TLObject:
        peer = types.PeerChannel(channel.id)
        if message.service:
            return types.MessageService(
                id=message.id,
                peer_id=peer,
                date=message.date,
                action=types.MessageActionPinMessage(),
                post=True,
            )
        reactions = (
            types.MessageReactions(
                [
                    types.ReactionCount(types.ReactionEmoji(emoji), count)
                    for emoji, count in message.reactions.items()
                ]
            )
            if message.reactions
            else None
        )
        return types.Message(
            id=message.id, peer_id=peer, date=message.date, message=message.text, post=True,
            edit_date=message.edit_date, views=message.views, forwards=message.forwards,
            replies=types.MessageReplies(message.replies, 0) if message.replies is not None else None,
            reactions=reactions, grouped_id=message.grouped_id, post_author=message.post_author,
            fwd_from=types.MessageFwdHeader(date=message.date, from_name=message.forward_from_name)
            if message.forward_from_name else None,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=message.reply_to) if message.reply_to else None,
            media=types.MessageMediaPhoto(photo=types.PhotoEmpty(message.id)) if message.photo else None,
        )  # fmt: skip

    # ---- the server side of requests ---------------------------------------------------------

    def handle(self, request: TLObject, sender: _WorldSender) -> Any:
        name = type(request).__name__
        self.requests.append(name)
        if self.on_request is not None:
            self.on_request(name)
        if not self.network_up:
            raise ConnectionError("the simulated network is down")
        if isinstance(request, functions.InvokeWithLayerRequest | functions.InitConnectionRequest):
            return self.handle(request.query, sender)
        if isinstance(request, functions.help.GetConfigRequest):
            return _blank(types.Config, this_dc=2, date=self.clock.now(), expires=self.clock.now())
        self.policy.check(name, self.clock.now())
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:
            raise SandboxRpcError(400, "METHOD_NOT_SIMULATED")
        if name not in _WITHOUT_LOGIN and sender.user_id is None:
            raise SandboxRpcError(401, "AUTH_KEY_UNREGISTERED")
        return handler(request, sender)

    def _channel_of(self, peer: Any, sender: _WorldSender) -> SimChannel:
        channel_id = getattr(peer, "channel_id", None)
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel is None or channel.access_hash != getattr(peer, "access_hash", None):
            raise SandboxRpcError(400, "CHANNEL_INVALID")
        if channel.deleted:
            raise SandboxRpcError(400, "CHANNEL_INVALID")
        if channel.private:
            raise SandboxRpcError(400, "CHANNEL_PRIVATE")
        return channel

    def _on_GetUsersRequest(self, request: Any, sender: _WorldSender) -> list[TLObject]:
        found = []
        for wanted in request.id:
            if isinstance(wanted, types.InputUserSelf):
                found.append(self._tl_user(self.users[sender.user_id or 0], sender.user_id))
            elif (user := self.users.get(getattr(wanted, "user_id", 0))) is not None:
                found.append(self._tl_user(user, sender.user_id))
        return found

    def _on_GetStateRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        return tl_updates.State(pts=1, qts=0, date=self.clock.now(), seq=0, unread_count=0)

    def _on_GetDifferenceRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        return tl_updates.DifferenceEmpty(date=self.clock.now(), seq=0)

    def _on_GetChannelDifferenceRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.channel, sender)
        return tl_updates.ChannelDifferenceEmpty(pts=channel.pts, final=True, timeout=300)

    def _on_ResolveUsernameRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        kind, entity_id = self.usernames.get(request.username.lower(), ("", 0))
        if kind == "channel":
            channel = self.channels[entity_id]
            return tl_contacts.ResolvedPeer(
                types.PeerChannel(entity_id), [self._tl_channel(channel, sender.user_id)], []
            )
        if kind == "user":
            return tl_contacts.ResolvedPeer(
                types.PeerUser(entity_id),
                [],
                [self._tl_user(self.users[entity_id], sender.user_id)],
            )
        raise SandboxRpcError(400, "USERNAME_NOT_OCCUPIED")

    def _on_GetChannelsRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        chats = []
        for peer in request.id:
            channel = self.channels.get(getattr(peer, "channel_id", 0))
            if channel is None or channel.access_hash != getattr(peer, "access_hash", None):
                raise SandboxRpcError(400, "CHANNEL_INVALID")
            chats.append(self._tl_channel(channel, sender.user_id))
        return tl_messages.Chats(chats)

    def _on_JoinChannelRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.channel, sender)
        user_id = sender.user_id or 0
        if user_id not in channel.members:
            joined = sum(1 for c in self.channels.values() if user_id in c.members)
            if joined >= self.channel_limit:
                raise SandboxRpcError(400, "CHANNELS_TOO_MUCH")
            channel.members.add(user_id)
        return types.Updates(
            [types.UpdateChannel(channel.id)],
            [],
            [self._tl_channel(channel, user_id)],
            self.clock.now(),
            0,
        )

    def _on_LeaveChannelRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.channel, sender)
        channel.members.discard(sender.user_id or 0)
        return types.Updates(
            [types.UpdateChannel(channel.id)],
            [],
            [self._tl_channel(channel, sender.user_id)],
            self.clock.now(),
            0,
        )

    def _visible(self, channel: SimChannel) -> list[SimMessage]:
        return sorted(channel.messages.values(), key=lambda m: m.id, reverse=True)

    def _on_GetHistoryRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.peer, sender)
        newest_first = self._visible(channel)
        start = 0
        if request.offset_id:
            start = next(
                (i for i, m in enumerate(newest_first) if m.id < request.offset_id),
                len(newest_first),
            )
        elif request.offset_date:
            start = next(
                (i for i, m in enumerate(newest_first) if m.date < request.offset_date),
                len(newest_first),
            )
        # The window [start + add_offset, + limit) is clipped to the history, not shifted into it.
        low = start + request.add_offset
        high = low + max(0, min(request.limit, 100))
        page = newest_first[max(0, low) : max(0, high)]
        page = [
            m for m in page
            if (not request.min_id or m.id > request.min_id) and (not request.max_id or m.id < request.max_id)
        ]  # fmt: skip
        return tl_messages.ChannelMessages(
            pts=channel.pts, count=len(newest_first), topics=[], users=[],
            messages=[self._tl_message(channel, m) for m in page],
            chats=[self._tl_channel(channel, sender.user_id)],
        )  # fmt: skip

    def _on_GetMessagesRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.channel, sender)
        found: list[TLObject] = []
        for wanted in request.id:
            message = channel.messages.get(getattr(wanted, "id", 0))
            found.append(
                self._tl_message(channel, message)
                if message
                else types.MessageEmpty(
                    id=getattr(wanted, "id", 0), peer_id=types.PeerChannel(channel.id)
                )
            )
        # Telegram promises no order: shuffle, so code matching results by position fails here.
        self.rng.shuffle(found)
        return tl_messages.ChannelMessages(
            pts=channel.pts, count=len(found), messages=found, topics=[], users=[],
            chats=[self._tl_channel(channel, sender.user_id)],
        )  # fmt: skip

    # ---- signing in -------------------------------------------------------------------------

    def _user_by_phone(self, phone: str) -> SimUser | None:
        digits = phone.lstrip("+")
        return next((u for u in self.users.values() if (u.phone or "").lstrip("+") == digits), None)

    def _on_SendCodeRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        user = self._user_by_phone(request.phone_number)
        if user is None:
            raise SandboxRpcError(400, "PHONE_NUMBER_INVALID")
        code = f"{self.rng.randrange(10000, 99999)}"
        self.login_codes[request.phone_number] = code
        code_hash = hashlib.sha256(code.encode()).hexdigest()[:16]
        return _blank(
            types.auth.SentCode, type=types.auth.SentCodeTypeApp(5), phone_code_hash=code_hash
        )

    def _on_SignInRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        expected = self.login_codes.get(request.phone_number)
        if expected is None or request.phone_code != expected:
            raise SandboxRpcError(400, "PHONE_CODE_INVALID")
        user = self._user_by_phone(request.phone_number)
        assert user is not None
        if user.password:
            sender.pending_user = user.id
            raise SandboxRpcError(401, "SESSION_PASSWORD_NEEDED")
        self.authorize(sender.key, user)
        return types.auth.Authorization(user=self._tl_user(user, user.id))

    def _password_algo(self) -> TLObject:
        return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=b"sandbox-salt-one", salt2=b"sandbox-salt-two", g=3, p=_telegram_prime()
        )

    def _on_GetPasswordRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        user = self.users.get(sender.pending_user or 0)
        if user is None or not user.password:
            raise SandboxRpcError(400, "PASSWORD_EMPTY")
        algo = self._password_algo()
        sender.srp = _SrpServer(algo, user.password)
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32), has_password=True, current_algo=algo,
            srp_B=sender.srp.public, srp_id=sender.srp.srp_id,
        )  # fmt: skip

    def _on_CheckPasswordRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        check = request.password
        srp = sender.srp
        if srp is None or check.srp_id != srp.srp_id or not srp.verify(check.A, check.M1):
            raise SandboxRpcError(400, "PASSWORD_HASH_INVALID")
        user = self.users[sender.pending_user or 0]
        self.authorize(sender.key, user)
        return types.auth.Authorization(user=self._tl_user(user, user.id))

    def _on_ImportBotAuthorizationRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        if request.bot_auth_token != self.bot_token:
            raise SandboxRpcError(400, "ACCESS_TOKEN_INVALID")
        self.authorize(sender.key, self.bot)
        return types.auth.Authorization(user=self._tl_user(self.bot, self.bot.id))


_WITHOUT_LOGIN = frozenset(
    {
        "SendCodeRequest",
        "SignInRequest",
        "ImportBotAuthorizationRequest",
        "GetPasswordRequest",
        "CheckPasswordRequest",
    }
)


def _telegram_prime() -> bytes:
    """The 2048-bit prime Telegram uses for SRP, taken from Telethon's own check of it."""
    from telethon import password

    constants = password.check_prime_and_good.__code__.co_consts
    return bytes(next(c for c in constants if isinstance(c, tuple) and len(c) == 256))


class _SrpServer:
    """The server half of the SRP exchange behind two-step verification."""

    def __init__(self, algo: Any, secret: str) -> None:
        from telethon import password

        self._pw = password
        self.algo = algo
        self.p = int.from_bytes(algo.p, "big")
        x = int.from_bytes(password.compute_hash(algo, secret), "big")
        self.v = pow(algo.g, x, self.p)
        self.b = int.from_bytes(os.urandom(256), "big")
        k = int.from_bytes(
            password.sha256(password.num_bytes_for_hash(algo.p), password.big_num_for_hash(algo.g)),
            "big",
        )
        self.public = password.big_num_for_hash((k * self.v + pow(algo.g, self.b, self.p)) % self.p)
        self.srp_id = int.from_bytes(os.urandom(7), "big")

    def verify(self, a_bytes: bytes, m1: bytes) -> bool:
        pw, algo = self._pw, self.algo
        a = int.from_bytes(a_bytes, "big")
        u = int.from_bytes(pw.sha256(pw.big_num_for_hash(a), self.public), "big")
        s = pow(a * pow(self.v, u, self.p) % self.p, self.b, self.p)
        expected = pw.sha256(
            pw.xor(
                pw.sha256(pw.num_bytes_for_hash(algo.p)), pw.sha256(pw.big_num_for_hash(algo.g))
            ),
            pw.sha256(algo.salt1),
            pw.sha256(algo.salt2),
            pw.big_num_for_hash(a),
            self.public,
            pw.sha256(pw.big_num_for_hash(s)),
        )
        return bool(expected == m1)


class _WorldSender:
    """Stands where Telethon's MTProtoSender stands: requests in, results and updates out."""

    def __init__(self, world: World, auth_key: AuthKey, updates_queue: asyncio.Queue[Any]) -> None:
        self.world = world
        self.auth_key = auth_key
        self._updates = updates_queue
        self.connected = False
        self.pending_user: int | None = None
        self.srp: _SrpServer | None = None
        self._disconnected: asyncio.Future[None] | None = None

    @property
    def key(self) -> bytes:
        return bytes(self.auth_key.key or b"")

    @property
    def user_id(self) -> int | None:
        return self.world._authorized.get(self.key)

    async def connect(self, connection: Any) -> bool:
        if self.connected:
            return False
        if not self.world.network_up:
            raise ConnectionError("the simulated network is down")
        if self.auth_key.key is None:
            self.auth_key.key = os.urandom(256)  # what the key exchange would produce
        self.connected = True
        self._disconnected = asyncio.get_running_loop().create_future()
        self.world._senders.append(self)
        return True

    def is_connected(self) -> bool:
        return self.connected

    @property
    def disconnected(self) -> asyncio.Future[None]:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
            self._disconnected.set_result(None)
        return self._disconnected

    def drop_connection(self) -> None:
        self.connected = False
        if self in self.world._senders:
            self.world._senders.remove(self)
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_exception(ConnectionError("connection lost"))
            self._disconnected.exception()  # retrieved: Telethon may never look at it

    async def disconnect(self) -> None:
        self.connected = False
        if self in self.world._senders:
            self.world._senders.remove(self)
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    def _transport_connected(self) -> bool:
        return self.connected

    def _keepalive_ping(self, ping_id: int) -> None:
        return None

    def push(self, update: Any) -> None:
        self._updates.put_nowait(update)

    def send(self, request: TLObject, ordered: bool = False) -> Any:
        if isinstance(request, list):
            return [self.send(item, ordered) for item in request]
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.connected or not self.world.network_up:
            future.set_exception(ConnectionError("the simulated network is down"))
            return future
        received = _wire(request)  # what the server reads off the wire
        try:
            answer = self.world.handle(received, self)
        except ConnectionError as error:
            self.drop_connection()
            future.set_exception(error)
            return future
        except SandboxRpcError as error:
            future.set_exception(
                rpc_message_to_error(types.RpcError(error.code, error.message), request)
            )
            return future
        with BinaryReader(_serialize_result(answer)) as reader:
            future.set_result(request.read_result(reader))
        return future


class SandboxClient(TelegramClient):  # type: ignore[misc]
    """A real TelegramClient whose connection leads into a World instead of Telegram."""

    def __init__(self, session: Any, world: World, **kwargs: Any) -> None:
        kwargs.setdefault("receive_updates", True)
        kwargs.setdefault("flood_sleep_threshold", 0)
        super().__init__(session, SANDBOX_API_ID, SANDBOX_API_HASH, **kwargs)
        self._sender = _WorldSender(
            world, self.session.auth_key or AuthKey(None), self._updates_queue
        )
        self.world = world

    async def settle(self, quiet_rounds: int = 20) -> None:
        """Let Telethon process every update pushed so far and wait for the handlers it ran
        to finish, without waiting on the wall clock."""
        quiet = 0
        while quiet < quiet_rounds:
            await asyncio.sleep(0)
            if self._event_handler_tasks:
                await asyncio.gather(*self._event_handler_tasks, return_exceptions=True)
                quiet = 0
            elif not self._updates_queue.empty():
                quiet = 0
            else:
                quiet += 1

    async def _call(
        self, sender: Any, request: Any, ordered: bool = False, flood_sleep_threshold: Any = None
    ) -> Any:
        # Telethon remembers flood waits by the wall clock; the world keeps its own clock, and
        # answers a too-early retry itself, so the client-side memory is cleared.
        self._flood_waited_requests.clear()
        return await super()._call(sender, request, ordered, flood_sleep_threshold)


def client_factory(world: World) -> Callable[..., TelegramClient]:
    """Build clients as `monitor.telegram.session` would, but connected to `world`."""

    def make(
        session: Any, api_id: int | None = None, api_hash: str | None = None, **kwargs: Any
    ) -> TelegramClient:
        return SandboxClient(session, world, **kwargs)

    return make


__all__ = [
    "RatePolicy",
    "SandboxClient",
    "SimChannel",
    "SimMessage",
    "World",
    "client_factory",
    "errors",
]


def signed_in_session(world: World, user: SimUser | None = None) -> str:
    """A session string already signed in to `world` as `user` (the account by default)."""
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    world.authorize(bytes(session.auth_key.key), user or world.account)
    return str(session.save())

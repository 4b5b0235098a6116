"""A simulated Telegram behind a real Telethon `TelegramClient`, for the tests and `demo`.

Only the network boundary is replaced: the client's MTProto sender becomes `_WorldSender`,
which serializes every request with `bytes(request)`, reads it back as the server would,
answers from an in-memory `World` with real TL objects, and hands the serialized answer to
the request's own `read_result`. Updates are serialized the same way and pushed into the
client's update queue, so Telethon's message box and event dispatch process them as they
would on the wire. Product code cannot tell the difference; this module is the only place
that touches Telethon's private internals.

The world serves both sides of the product: a user account reading channels, and a bot
talking to people in private chats, basic groups and supergroups. Private chats and basic
groups are kept from the bot's side only: Telegram numbers their messages per account, and
the bot is the only account there that the tests drive a client for.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import math
import mimetypes
import os
import random
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from telethon import TelegramClient, errors, utils
from telethon.crypto import AuthKey
from telethon.errors import rpc_message_to_error
from telethon.extensions import BinaryReader, html
from telethon.network.mtprotosender import MTProtoSender
from telethon.tl import TLObject, functions, types
from telethon.tl.types import channels as tl_channels
from telethon.tl.types import contacts as tl_contacts
from telethon.tl.types import messages as tl_messages
from telethon.tl.types import updates as tl_updates

from monitor.clock import Clock

_VECTOR = struct.pack("<I", 0x1CB5C415)
_BOOL_TRUE = struct.pack("<I", 0x997275B5)
_BOOL_FALSE = struct.pack("<I", 0xBC799737)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SANDBOX_API_ID = 1
SANDBOX_API_HASH = "0" * 32
# Telegram's limits, counted in UTF-16 code units as Telegram counts them.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
# Every admin here holds the same rights: what code asks of them is whether someone is admin.
_ADMIN_RIGHTS = types.ChatAdminRights(
    change_info=True, delete_messages=True, ban_users=True, invite_users=True, pin_messages=True
)


class SandboxRpcError(Exception):
    """Raised inside the world to answer a request with a Telegram RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SimFile:
    """A file sent through Telegram, as reassembled from its uploaded parts."""

    id: int
    data: bytes
    name: str
    mime_type: str
    as_photo: bool  # sent as a photo rather than as a document


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
    chat_id: int = 0  # the chat, numbered as Telethon numbers it (`event.chat_id`)
    sender_id: int | None = None  # None for a channel's own posts
    entities: list[Any] = field(default_factory=list)  # TL MessageEntity objects
    reply_markup: Any = None  # the TL ReplyMarkup as sent
    file: SimFile | None = None
    earlier_texts: list[str] = field(default_factory=list)  # before each edit, oldest first

    @property
    def html(self) -> str:
        """The text with its entities as Telegram HTML, the way Telethon would write it."""
        return str(html.unparse(self.text, self.entities))

    @property
    def button_data(self) -> list[bytes]:
        """The callback data of the inline buttons under the message, row by row."""
        rows = getattr(self.reply_markup, "rows", None) or []
        found = (_callback_data(button) for row in rows for button in row.buttons)
        return [data for data in found if data is not None]


def _callback_data(button: TLObject) -> bytes | None:
    # Older layers (Telethon 1.36's) have KeyboardButtonCallback(text, data); newer ones
    # (1.45's) wrap the kind of every inline button in KeyboardInlineButton.type.
    kind = getattr(button, "type", button)
    if type(kind).__name__ in {"KeyboardButtonCallback", "InlineButtonTypeCallback"}:
        return bytes(kind.data)
    return None


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
    admins: set[int] = field(default_factory=set)
    creator_id: int | None = None
    # History requests get the same page of its oldest messages, whatever offset or min_id
    # they ask: a server that stops advancing.
    stuck_history: bool = False


@dataclass
class SimGroup:
    """A basic group ("chat" in the API); its messages live in the bot's account box."""

    id: int
    title: str
    created: datetime
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    creator_id: int | None = None
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
    blocked: set[int] = field(default_factory=set)  # the accounts this user has blocked


# Where the bot talks: a private chat (named by the user in it), a basic group or a supergroup.
Chat: TypeAlias = SimUser | SimGroup | SimChannel


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (`event.answer(...)`)."""

    text: str | None
    alert: bool
    url: str | None


@dataclass
class SimCallbackQuery:
    """A press of an inline button, waiting for the bot's answer."""

    id: int
    user_id: int
    message: SimMessage
    data: bytes
    asked: datetime
    answer: CallbackAnswer | None = None


@dataclass
class _Refusal:
    """What Telegram answers the bot's sends to a chat instead of delivering them."""

    error: str  # Telegram's message: "CHAT_SEND_PLAIN_FORBIDDEN", "TOPIC_CLOSED", "FLOOD_WAIT_5"
    request: str | None  # only this request ("SendMessageRequest"), or every send
    times: int | None  # the next this many sends, or every one


@dataclass
class _LoggedUpdate:
    """An update of an account box, kept for `updates.getDifference`."""

    pts: int
    update: TLObject
    users: list[TLObject]
    chats: list[TLObject]


@dataclass
class _AccountBox:
    """The common message box of one account: one message numbering and one pts sequence
    across its private chats and basic groups (channels have their own)."""

    pts: int = 1
    next_message_id: int = 1
    messages: dict[int, SimMessage] = field(default_factory=dict)
    log: list[_LoggedUpdate] = field(default_factory=list)


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


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_text(text: str, entities: list[Any] | None, limit: int, too_long: str) -> None:
    """Refuse a text or caption over Telegram's limit, or entities that fall outside it."""
    length = _utf16_length(text)
    if length > limit:
        raise SandboxRpcError(400, too_long)
    for entity in entities or []:
        if entity.offset < 0 or entity.length <= 0 or entity.offset + entity.length > length:
            raise SandboxRpcError(400, "ENTITY_BOUNDS_INVALID")


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (what the charts are); (0, 0) for anything else."""
    if data[:8] != _PNG_SIGNATURE or len(data) < 24:
        return 0, 0
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def peer_id(chat: Chat) -> int:
    """The chat's id as Telethon numbers it (`event.chat_id`, what `send_message` takes)."""
    if isinstance(chat, SimUser):
        return chat.id
    if isinstance(chat, SimGroup):
        return int(utils.get_peer_id(types.PeerChat(chat.id)))
    return int(utils.get_peer_id(types.PeerChannel(chat.id)))


def _tl_bytes(value: TLObject | list[TLObject] | None) -> bytes:
    """TL objects as serialized, for comparing them by content."""
    if value is None:
        return b""
    if isinstance(value, list):
        return b"".join(bytes(item) for item in value)
    return bytes(value)


class World:
    """Channels, groups, users and messages of the simulated Telegram, on a given clock."""

    def __init__(self, clock: Clock, seed: int = 1) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.policy = RatePolicy()
        self.channels: dict[int, SimChannel] = {}
        self.groups: dict[int, SimGroup] = {}
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
        self.callback_queries: dict[int, SimCallbackQuery] = {}
        # Telegram forgets an unanswered button press after a while; it publishes no figure.
        self.callback_query_lifetime = timedelta(seconds=15)
        # (scope, language) -> [(command, description)], as bots.setBotCommands left them.
        self.bot_commands: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._authorized: dict[bytes, int] = {}
        self._senders: list[_WorldSender] = []
        self._boxes: dict[int, _AccountBox] = {}
        self._uploads: dict[tuple[bytes, int], dict[int, bytes]] = {}
        self._refusals: dict[int, _Refusal] = {}
        self._ids = itertools.count(1_000_001)
        self.account = self.add_user("Analyst", phone="+10000000000")
        self.bot = self.add_user("Monitor Bot", username="monitor_test_bot", bot=True)
        self.bot_token = f"{self.bot.id}:SANDBOXTOKENSANDBOXTOKENSANDBOXTOKEN"

    # ---- building the world -------------------------------------------------------------

    def add_user(self, first_name: str, username: str | None = None, bot: bool = False,
                 phone: str | None = None, user_id: int | None = None) -> SimUser:  # fmt: skip
        """A user; `user_id` picks its id (Telegram numbers users, basic groups and channels
        apart, so a user's bare id can equal a channel's)."""
        user = SimUser(user_id or next(self._ids), self.rng.getrandbits(63), first_name,
                       username, bot, phone)  # fmt: skip
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

    def add_group(self, title: str, members: Iterable[SimUser] = (), admins: Iterable[SimUser] = (),
                  creator: SimUser | None = None, group_id: int | None = None) -> SimGroup:  # fmt: skip
        """A basic group of `members`, `admins` and `creator` (all of them members), with the
        bot in it; `group_id` picks its id, as `add_user`'s `user_id` does."""
        group = SimGroup(group_id or next(self._ids), title, self.clock.now())
        self._add_people(group, members, admins, creator)
        self.groups[group.id] = group
        return group

    def add_supergroup(self, title: str, members: Iterable[SimUser] = (),
                       admins: Iterable[SimUser] = (), creator: SimUser | None = None,
                       username: str | None = None) -> SimChannel:  # fmt: skip
        """A supergroup (a megagroup channel) of `members`, `admins` and `creator`, with the
        bot in it."""
        channel = self.add_channel(title, username, megagroup=True)
        self._add_people(channel, members, admins, creator)
        return channel

    def _add_people(self, chat: SimGroup | SimChannel, members: Iterable[SimUser],
               admins: Iterable[SimUser], creator: SimUser | None) -> None:  # fmt: skip
        admin_ids = {user.id for user in admins}
        chat.admins |= admin_ids
        chat.members |= admin_ids | {user.id for user in members} | {self.bot.id}
        if creator is not None:
            chat.creator_id = creator.id
            chat.members.add(creator.id)

    def authorize(self, sender_key: bytes, user: SimUser) -> None:
        self._authorized[sender_key] = user.id

    # ---- what happens in channels --------------------------------------------------------

    def post(self, channel: SimChannel, text: str = "", date: datetime | None = None,
             **fields: Any) -> SimMessage:  # fmt: skip
        message = SimMessage(
            channel.next_id, date or self.clock.now(), text, chat_id=peer_id(channel), **fields
        )
        channel.next_id += 1
        channel.messages[message.id] = message
        self._push(
            channel,
            lambda pts, viewer: types.UpdateNewChannelMessage(
                self._tl_message(message, viewer), pts, 1
            ),
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
            lambda pts, viewer: types.UpdateEditChannelMessage(
                self._tl_message(message, viewer), pts, 1
            ),
        )
        return message

    def delete(self, channel: SimChannel, message_ids: Iterable[int]) -> None:
        ids = [i for i in message_ids if channel.messages.pop(i, None) is not None]
        if ids:
            self._push(
                channel,
                lambda pts, viewer: types.UpdateDeleteChannelMessages(
                    channel.id, ids, pts, len(ids)
                ),
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

    # ---- what people do with the bot -----------------------------------------------------

    def user_sends(self, user: SimUser, chat: SimGroup | SimChannel | None, text: str,
                   reply_to: SimMessage | None = None) -> SimMessage:  # fmt: skip
        """`user` writes `text` to the bot privately (`chat` None) or in a group it is in.

        The bot's connections get the update Telegram would push: UpdateNewMessage for a
        private chat or a basic group, UpdateNewChannelMessage for a supergroup. A message in
        a basic group the bot is not in reaches nobody and keeps id 0.
        """
        if chat is not None and (user.id not in chat.members or chat.deleted):
            raise ValueError(f"{user.first_name} cannot write in {chat.title}")
        message = SimMessage(
            0, self.clock.now(), text, chat_id=peer_id(chat or user), sender_id=user.id,
            reply_to=reply_to.id if reply_to else None,
        )  # fmt: skip
        if isinstance(chat, SimChannel):
            message.id = chat.next_id
            chat.next_id += 1
            chat.messages[message.id] = message
            self._push(
                chat,
                lambda pts, viewer: types.UpdateNewChannelMessage(
                    self._tl_message(message, viewer), pts, 1
                ),
                users=[user],
            )
        elif chat is None:
            # Writing to a bot one has blocked is pressing "Restart", which unblocks it.
            user.blocked.discard(self.bot.id)
            self._add_to_box(self.bot.id, message, [user], None)
        elif self.bot.id in chat.members:
            self._add_to_box(self.bot.id, message, [user], chat)
        return message

    def write_to_account(self, user: SimUser, text: str,
                         group: SimGroup | None = None) -> SimMessage:  # fmt: skip
        """`user` writes `text` to the account privately, or in the basic group `group` they
        are both in: the account's connections get UpdateNewMessage, numbered in its box."""
        if group is not None and {user.id, self.account.id} - group.members:
            raise ValueError(f"{user.first_name} and the account are not both in {group.title}")
        message = SimMessage(
            0, self.clock.now(), text, chat_id=peer_id(group or user), sender_id=user.id
        )
        self._add_to_box(self.account.id, message, [user], group)
        return message

    def edit_in_account(self, message: SimMessage, text: str) -> None:
        """The author of `message`, in the account's box, edits it to `text`."""
        message.earlier_texts.append(message.text)
        message.text, message.edit_date = text, self.clock.now()
        chat = self._chat_by_id(message.chat_id)
        self._account_update(
            self.account.id,
            lambda pts: types.UpdateEditMessage(self._tl_message(message, self.account.id), pts, 1),
            [self.users[message.sender_id or 0]],
            chat if isinstance(chat, SimGroup) else None,
        )

    def delete_in_account(self, message_ids: Iterable[int]) -> None:
        """Messages of the account's private chats or basic groups are deleted. Telegram's
        update names the message ids only, not the chat: they are unique within the box."""
        box = self._box(self.account.id)
        ids = [i for i in message_ids if box.messages.pop(i, None) is not None]
        if ids:
            self._account_update(
                self.account.id,
                lambda pts: types.UpdateDeleteMessages(ids, pts, len(ids)),
                [],
                None,
            )

    def user_presses(self, user: SimUser, message: SimMessage, data: bytes) -> SimCallbackQuery:
        """`user` presses the inline button carrying `data` under the bot's `message`; the bot
        gets UpdateBotCallbackQuery and has `callback_query_lifetime` to answer it."""
        if data not in message.button_data:
            raise ValueError(f"message {message.id} has no button with data {data!r}")
        chat = self._chat_by_id(message.chat_id)
        if isinstance(chat, SimUser) and chat.id != user.id:
            raise ValueError(f"{user.first_name} cannot see the private chat of {chat.first_name}")
        if not isinstance(chat, SimUser) and user.id not in chat.members:
            raise ValueError(f"{user.first_name} is not in {chat.title}")
        query = SimCallbackQuery(self.rng.getrandbits(63), user.id, message, data, self.clock.now())
        self.callback_queries[query.id] = query
        # One number per chat, the same for every press there (what Telegram promises of it).
        chat_instance = int.from_bytes(
            hashlib.sha256(str(message.chat_id).encode()).digest()[:8], "little", signed=True
        )
        update = types.UpdateBotCallbackQuery(
            query.id, user.id, self._peer(message.chat_id), message.id, chat_instance, data=data
        )
        users = [self._tl_user(user, self.bot.id)]
        chats = [] if isinstance(chat, SimUser) else [self._tl_chat(chat, self.bot.id)]
        self._deliver(self.bot.id, types.Updates([update], users, chats, self.clock.now(), 0))
        return query

    def block_bot(self, user: SimUser) -> None:
        user.blocked.add(self.bot.id)

    def remove_bot_from(self, chat: SimGroup | SimChannel) -> None:
        """The bot is kicked out of `chat`. Telegram would also tell the bot with a service
        message; here it finds out when it next writes there, as after missed updates."""
        chat.members.discard(self.bot.id)
        chat.admins.discard(self.bot.id)

    def refuse_sends(self, chat: Chat, error: str, request: str | None = None,
                     times: int | None = None) -> None:  # fmt: skip
        """Telegram refuses the bot's messages to `chat` with `error`, as it does in a group
        that forbids plain text (CHAT_SEND_PLAIN_FORBIDDEN, for "SendMessageRequest" only),
        a restricted chat (CHAT_RESTRICTED), a closed topic (TOPIC_CLOSED), or to a sender
        that must wait (FLOOD_WAIT_5): for `request` only or every send, the next `times`
        sends or every one until `allow_sends`."""
        self._refusals[peer_id(chat)] = _Refusal(error, request, times)

    def allow_sends(self, chat: Chat) -> None:
        self._refusals.pop(peer_id(chat), None)

    def _check_refusal(self, chat: Chat, request: str) -> None:
        refusal = self._refusals.get(peer_id(chat))
        if refusal is None or refusal.request not in (None, request):
            return
        if refusal.times is not None:
            refusal.times -= 1
            if refusal.times == 0:
                self.allow_sends(chat)
        error = refusal.error
        code = 420 if error.startswith("FLOOD_WAIT_") else 403 if "FORBIDDEN" in error else 400
        raise SandboxRpcError(code, error)

    def delete_chat(self, chat: SimGroup | SimChannel) -> None:
        if isinstance(chat, SimChannel):
            self.delete_channel(chat)
        else:
            chat.deleted = True

    def outbox(self, chat: Chat) -> list[SimMessage]:
        """What the bot has sent to `chat`, oldest first, as it stands now (edits applied)."""
        if isinstance(chat, SimChannel):
            pool: Iterable[SimMessage] = chat.messages.values()
        else:
            pool = self._box(self.bot.id).messages.values()
        chat_id = peer_id(chat)
        return sorted(
            (m for m in pool if m.chat_id == chat_id and m.sender_id == self.bot.id),
            key=lambda m: m.id,
        )

    # ---- delivering updates ------------------------------------------------------------------

    def _push(self, channel: SimChannel, make_update: Callable[[int, int | None], TLObject],
              users: Iterable[SimUser] = ()) -> None:  # fmt: skip
        # A dropped update never consumes pts: Telegram just stays silent, as in Telethon #4345.
        if self.drop_rate and self.rng.random() < self.drop_rate:
            self.dropped_updates += 1
            return
        self._channel_update(channel, make_update, users)

    def _channel_update(self, channel: SimChannel, make_update: Callable[[int, int | None], TLObject],
                        users: Iterable[SimUser] = (),
                        requester: _WorldSender | None = None) -> None:  # fmt: skip
        """Give one change of `channel` its pts and push it to every member's connection but
        the requester's, which gets it as its request's result instead."""
        channel.pts += 1
        shown = list(users)
        for sender in list(self._senders):
            if sender is not requester and sender.connected and sender.user_id in channel.members:
                sender.push(
                    _wire(self._channel_envelope(channel, make_update, shown, sender.user_id))
                )

    def _channel_envelope(self, channel: SimChannel, make_update: Callable[[int, int | None], TLObject],
                          users: Iterable[SimUser], viewer: int | None) -> TLObject:  # fmt: skip
        """The channel's latest change as `viewer` sees it."""
        return types.Updates(
            [make_update(channel.pts, viewer)],
            [self._tl_user(user, viewer) for user in users],
            [self._tl_channel(channel, viewer)],
            self.clock.now(),
            0,
        )

    def _box(self, account_id: int | None) -> _AccountBox:
        return self._boxes.setdefault(account_id or 0, _AccountBox())

    def _add_to_box(self, account_id: int, message: SimMessage, users: Iterable[SimUser],
                    group: SimGroup | None, requester: _WorldSender | None = None) -> TLObject:  # fmt: skip
        box = self._box(account_id)
        message.id = box.next_message_id
        box.next_message_id += 1
        box.messages[message.id] = message
        return self._account_update(
            account_id,
            lambda pts: types.UpdateNewMessage(self._tl_message(message, account_id), pts, 1),
            users, group, requester,
        )  # fmt: skip

    def _account_update(self, account_id: int, make_update: Callable[[int], TLObject],
                        users: Iterable[SimUser], group: SimGroup | None,
                        requester: _WorldSender | None = None) -> TLObject:  # fmt: skip
        """Give one change in the account's box its pts, log it for getDifference and push it
        to the account's connections but the requester's; returns the envelope."""
        box = self._box(account_id)
        box.pts += 1
        update = make_update(box.pts)
        tl_users = [self._tl_user(user, account_id) for user in users]
        tl_chats = [self._tl_chat(group, account_id)] if group is not None else []
        box.log.append(_LoggedUpdate(box.pts, update, tl_users, tl_chats))
        envelope = types.Updates([update], tl_users, tl_chats, self.clock.now(), 0)
        self._deliver(account_id, envelope, requester)
        return envelope

    def _deliver(self, account_id: int, envelope: TLObject,
                 requester: _WorldSender | None = None) -> None:  # fmt: skip
        for sender in list(self._senders):
            if sender is not requester and sender.connected and sender.user_id == account_id:
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
            creator=viewer is not None and viewer == channel.creator_id,
            admin_rights=_ADMIN_RIGHTS if viewer in channel.admins else None,
        )  # fmt: skip

    def _tl_group(self, group: SimGroup, viewer: int | None) -> TLObject:
        if group.deleted or viewer not in group.members:
            return types.ChatForbidden(group.id, group.title)
        return types.Chat(
            id=group.id, title=group.title, photo=types.ChatPhotoEmpty(),
            participants_count=len(group.members), date=group.created, version=1,
            creator=viewer == group.creator_id,
            admin_rights=_ADMIN_RIGHTS if viewer in group.admins else None,
        )  # fmt: skip

    def _tl_chat(self, chat: SimGroup | SimChannel, viewer: int | None) -> TLObject:
        if isinstance(chat, SimGroup):
            return self._tl_group(chat, viewer)
        return self._tl_channel(chat, viewer)

    def _tl_user(self, user: SimUser, viewer: int | None) -> TLObject:
        return types.User(
            id=user.id, is_self=user.id == viewer, access_hash=user.access_hash,
            first_name=user.first_name, username=user.username, bot=user.bot,
            bot_info_version=1 if user.bot else None,
            phone=user.phone if user.id == viewer else None,
        )  # fmt: skip

    def _peer(self, chat_id: int) -> TLObject:
        real_id, peer_type = utils.resolve_id(chat_id)
        return peer_type(real_id)

    def _chat_by_id(self, chat_id: int) -> Chat:
        peer = self._peer(chat_id)
        if isinstance(peer, types.PeerUser):
            return self.users[peer.user_id]
        if isinstance(peer, types.PeerChat):
            return self.groups[peer.chat_id]
        return self.channels[peer.channel_id]

    def _tl_message(self, message: SimMessage, viewer: int | None) -> TLObject:
        peer = self._peer(message.chat_id)
        broadcast = (
            isinstance(peer, types.PeerChannel) and not self.channels[peer.channel_id].megagroup
        )
        if message.service:
            return types.MessageService(
                id=message.id, peer_id=peer, date=message.date,
                action=types.MessageActionPinMessage(), post=broadcast,
            )  # fmt: skip
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
        out = message.sender_id is not None and message.sender_id == viewer
        # In a private chat the peer is the other side, so only one's own messages name a sender.
        named = message.sender_id is not None and (out or not isinstance(peer, types.PeerUser))
        return types.Message(
            id=message.id, peer_id=peer, date=message.date, message=message.text, post=broadcast,
            out=out, from_id=types.PeerUser(message.sender_id) if named else None,
            edit_date=message.edit_date, views=message.views if broadcast else None,
            forwards=message.forwards if broadcast else None,
            replies=types.MessageReplies(message.replies, 0) if message.replies is not None else None,
            reactions=reactions, grouped_id=message.grouped_id, post_author=message.post_author,
            fwd_from=types.MessageFwdHeader(date=message.date, from_name=message.forward_from_name)
            if message.forward_from_name else None,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=message.reply_to) if message.reply_to else None,
            media=self._tl_media(message), entities=message.entities or None,
            reply_markup=message.reply_markup,
        )  # fmt: skip

    def _tl_media(self, message: SimMessage) -> TLObject | None:
        sent = message.file
        if sent is None:
            return (
                types.MessageMediaPhoto(photo=types.PhotoEmpty(message.id))
                if message.photo
                else None
            )
        if sent.as_photo:
            width, height = _image_size(sent.data)
            return types.MessageMediaPhoto(
                photo=types.Photo(
                    id=sent.id, access_hash=sent.id, file_reference=b"", date=message.date,
                    sizes=[types.PhotoSize("x", width, height, len(sent.data))], dc_id=2,
                )
            )  # fmt: skip
        return types.MessageMediaDocument(
            document=types.Document(
                id=sent.id, access_hash=sent.id, file_reference=b"", date=message.date,
                mime_type=sent.mime_type, size=len(sent.data), dc_id=2,
                attributes=[types.DocumentAttributeFilename(sent.name)],
            )
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
        return self._state(sender)

    def _state(self, sender: _WorldSender) -> TLObject:
        box = self._box(sender.user_id)
        return tl_updates.State(pts=box.pts, qts=0, date=self.clock.now(), seq=0, unread_count=0)

    def _on_GetDifferenceRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        missed = [logged for logged in self._box(sender.user_id).log if logged.pts > request.pts]
        if not missed:
            return tl_updates.DifferenceEmpty(date=self.clock.now(), seq=0)
        new = [m.update for m in missed if isinstance(m.update, types.UpdateNewMessage)]
        users = {user.id: user for logged in missed for user in logged.users}
        chats = {chat.id: chat for logged in missed for chat in logged.chats}
        return tl_updates.Difference(
            new_messages=[update.message for update in new], new_encrypted_messages=[],
            other_updates=[m.update for m in missed if not isinstance(m.update, types.UpdateNewMessage)],
            chats=list(chats.values()), users=list(users.values()), state=self._state(sender),
        )  # fmt: skip

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
        if user_id in channel.members:
            # As real Telegram can answer (seen with Telethon 1.39): joining twice is an error.
            raise SandboxRpcError(400, "USER_ALREADY_PARTICIPANT")
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
        if channel.stuck_history:
            page = newest_first[len(newest_first) - max(0, min(request.limit, 100)) :]
        return tl_messages.ChannelMessages(
            pts=channel.pts, count=len(newest_first), topics=[],
            users=self._senders_of(page, sender.user_id),
            messages=[self._tl_message(m, sender.user_id) for m in page],
            chats=[self._tl_channel(channel, sender.user_id)],
        )  # fmt: skip

    def _senders_of(self, messages: Iterable[SimMessage], viewer: int | None) -> list[TLObject]:
        ids = {m.sender_id for m in messages if m.sender_id is not None}
        return [self._tl_user(self.users[user_id], viewer) for user_id in sorted(ids)]

    def _on_GetMessagesRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        # messages.getMessages (the account box) and channels.getMessages share the name.
        if isinstance(request, functions.messages.GetMessagesRequest):
            return self._box_messages(request, sender)
        channel = self._channel_of(request.channel, sender)
        found: list[TLObject] = []
        for wanted in request.id:
            message = channel.messages.get(getattr(wanted, "id", 0))
            found.append(
                self._tl_message(message, sender.user_id)
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

    def _box_messages(self, request: Any, sender: _WorldSender) -> TLObject:
        box = self._box(sender.user_id)
        wanted = [getattr(item, "id", 0) for item in request.id]
        found = [box.messages[i] for i in wanted if i in box.messages]
        group_ids = {-m.chat_id for m in found if m.chat_id < 0}
        user_ids = {m.chat_id for m in found if m.chat_id > 0}
        user_ids |= {m.sender_id for m in found if m.sender_id is not None}
        # Through _blank: the fields besides these three differ between layers.
        return _blank(
            tl_messages.Messages,
            messages=[
                self._tl_message(box.messages[i], sender.user_id)
                if i in box.messages
                else types.MessageEmpty(id=i)
                for i in wanted
            ],
            chats=[self._tl_group(self.groups[i], sender.user_id) for i in sorted(group_ids)],
            users=[self._tl_user(self.users[i], sender.user_id) for i in sorted(user_ids)],
        )

    # ---- the bot's side ------------------------------------------------------------------------

    def _require_bot(self, sender: _WorldSender) -> None:
        if not self.users[sender.user_id or 0].bot:
            raise SandboxRpcError(400, "USER_BOT_REQUIRED")

    def _writable_chat(self, peer: Any, sender: _WorldSender) -> Chat:
        """The chat `peer` names, if the sender may write there; else Telegram's refusal."""
        if isinstance(peer, types.InputPeerUser):
            user = self.users.get(peer.user_id)
            if user is None or peer.access_hash != user.access_hash:
                raise SandboxRpcError(400, "PEER_ID_INVALID")
            if sender.user_id in user.blocked:
                raise SandboxRpcError(400, "USER_IS_BLOCKED")
            return user
        if isinstance(peer, types.InputPeerChat):
            group = self.groups.get(peer.chat_id)
            if group is None or group.deleted:
                raise SandboxRpcError(400, "PEER_ID_INVALID")
            if sender.user_id not in group.members:
                raise SandboxRpcError(403, "CHAT_WRITE_FORBIDDEN")
            return group
        if isinstance(peer, types.InputPeerChannel):
            channel = self._channel_of(peer, sender)
            if sender.user_id not in channel.members:
                raise SandboxRpcError(400, "CHANNEL_PRIVATE")
            if not channel.megagroup and sender.user_id not in channel.admins:
                raise SandboxRpcError(400, "CHAT_ADMIN_REQUIRED")
            return channel
        raise SandboxRpcError(400, "PEER_ID_INVALID")

    def _store_sent(self, chat: Chat, message: SimMessage, random_id: int,
                    sender: _WorldSender) -> TLObject:  # fmt: skip
        """Number and keep a message the sender wrote; the Updates its request returns."""
        author = self.users[sender.user_id or 0]
        if isinstance(chat, SimChannel):
            message.id = chat.next_id
            chat.next_id += 1
            chat.messages[message.id] = message

            def new_message(pts: int, viewer: int | None) -> TLObject:
                return types.UpdateNewChannelMessage(self._tl_message(message, viewer), pts, 1)

            self._channel_update(chat, new_message, [author], sender)
            envelope = self._channel_envelope(chat, new_message, [author], author.id)
        else:
            shown = [author] if isinstance(chat, SimGroup) else [author, chat]
            group = chat if isinstance(chat, SimGroup) else None
            envelope = self._add_to_box(author.id, message, shown, group, sender)
        return types.Updates(
            [types.UpdateMessageID(message.id, random_id), *envelope.updates],
            envelope.users, envelope.chats, envelope.date, 0,
        )  # fmt: skip

    def _new_message(self, chat: Chat, sender: _WorldSender, request: Any) -> SimMessage:
        reply_to = getattr(request.reply_to, "reply_to_msg_id", None)
        return SimMessage(
            0, self.clock.now(), request.message, chat_id=peer_id(chat),
            sender_id=sender.user_id, entities=list(request.entities or []),
            reply_markup=request.reply_markup, reply_to=reply_to,
        )  # fmt: skip

    def _on_SendMessageRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        chat = self._writable_chat(request.peer, sender)
        self._check_refusal(chat, "SendMessageRequest")
        if not request.message.strip():
            raise SandboxRpcError(400, "MESSAGE_EMPTY")
        _check_text(request.message, request.entities, MESSAGE_LIMIT, "MESSAGE_TOO_LONG")
        message = self._new_message(chat, sender, request)
        result = self._store_sent(chat, message, request.random_id, sender)
        if not isinstance(chat, SimUser):
            return result
        # To a private chat Telegram answers in short: the sender already knows the rest.
        sent = result.updates[1]
        return types.UpdateShortSentMessage(
            id=message.id, pts=sent.pts, pts_count=sent.pts_count, date=message.date, out=True,
            entities=message.entities or None,
        )  # fmt: skip

    def _on_SaveFilePartRequest(self, request: Any, sender: _WorldSender) -> bool:
        parts = self._uploads.setdefault((sender.key, request.file_id), {})
        parts[request.file_part] = request.bytes
        return True

    def _on_SaveBigFilePartRequest(self, request: Any, sender: _WorldSender) -> bool:
        return self._on_SaveFilePartRequest(request, sender)

    def _uploaded(self, input_file: Any, sender: _WorldSender) -> bytes:
        """The file the sender uploaded in parts, checked as Telegram checks it."""
        parts = self._uploads.pop((sender.key, input_file.id), {})
        if sorted(parts) != list(range(input_file.parts)):
            raise SandboxRpcError(400, "FILE_PARTS_INVALID")
        data = b"".join(parts[index] for index in range(input_file.parts))
        checksum = getattr(input_file, "md5_checksum", "")  # only small files carry one
        if checksum and hashlib.md5(data).hexdigest() != checksum:
            raise SandboxRpcError(400, "MD5_CHECKSUM_INVALID")
        return data

    def _on_SendMediaRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        chat = self._writable_chat(request.peer, sender)
        self._check_refusal(chat, "SendMediaRequest")
        media = request.media
        if not isinstance(media, types.InputMediaUploadedPhoto | types.InputMediaUploadedDocument):
            raise SandboxRpcError(400, "MEDIA_INVALID")
        _check_text(request.message, request.entities, CAPTION_LIMIT, "MEDIA_CAPTION_TOO_LONG")
        data = self._uploaded(media.file, sender)
        if isinstance(media, types.InputMediaUploadedPhoto):
            name = media.file.name
            mime_type = mimetypes.guess_type(name)[0] or "image/jpeg"
        else:
            name = next(
                (a.file_name for a in media.attributes if isinstance(a, types.DocumentAttributeFilename)),
                media.file.name,
            )  # fmt: skip
            mime_type = media.mime_type
        message = self._new_message(chat, sender, request)
        message.file = SimFile(
            self.rng.getrandbits(63), data, name, mime_type,
            as_photo=isinstance(media, types.InputMediaUploadedPhoto),
        )  # fmt: skip
        return self._store_sent(chat, message, request.random_id, sender)

    def _on_EditMessageRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        chat = self._writable_chat(request.peer, sender)
        pool = chat.messages if isinstance(chat, SimChannel) else self._box(sender.user_id).messages
        message = pool.get(request.id)
        if message is None or message.chat_id != peer_id(chat):
            raise SandboxRpcError(400, "MESSAGE_ID_INVALID")
        if message.sender_id != sender.user_id:
            raise SandboxRpcError(403, "MESSAGE_AUTHOR_REQUIRED")
        text = message.text if request.message is None else request.message
        entities = message.entities if request.message is None else list(request.entities or [])
        if message.file is None:
            if not text.strip():
                raise SandboxRpcError(400, "MESSAGE_EMPTY")
            _check_text(text, entities, MESSAGE_LIMIT, "MESSAGE_TOO_LONG")
        else:
            _check_text(text, entities, CAPTION_LIMIT, "MEDIA_CAPTION_TOO_LONG")
        # An edit without reply_markup takes the buttons away, as Telegram does.
        if (text, _tl_bytes(entities), _tl_bytes(request.reply_markup)) == (
            message.text,
            _tl_bytes(message.entities),
            _tl_bytes(message.reply_markup),
        ):
            raise SandboxRpcError(400, "MESSAGE_NOT_MODIFIED")
        if text != message.text:
            message.earlier_texts.append(message.text)
        message.text, message.entities = text, entities
        message.reply_markup = request.reply_markup
        message.edit_date = self.clock.now()
        author = self.users[sender.user_id or 0]
        if isinstance(chat, SimChannel):

            def edited(pts: int, viewer: int | None) -> TLObject:
                return types.UpdateEditChannelMessage(self._tl_message(message, viewer), pts, 1)

            self._channel_update(chat, edited, [author], sender)
            return self._channel_envelope(chat, edited, [author], author.id)
        return self._account_update(
            author.id,
            lambda pts: types.UpdateEditMessage(self._tl_message(message, author.id), pts, 1),
            [author] if isinstance(chat, SimGroup) else [author, chat],
            chat if isinstance(chat, SimGroup) else None,
            sender,
        )

    def _on_SetBotCallbackAnswerRequest(self, request: Any, sender: _WorldSender) -> bool:
        self._require_bot(sender)
        query = self.callback_queries.get(request.query_id)
        # A query is answered once, and only while the user's client still waits for it.
        if (
            query is None
            or query.answer is not None
            or self.clock.now() - query.asked > self.callback_query_lifetime
        ):
            raise SandboxRpcError(400, "QUERY_ID_INVALID")
        query.answer = CallbackAnswer(request.message, bool(request.alert), request.url)
        return True

    def _on_SetBotCommandsRequest(self, request: Any, sender: _WorldSender) -> bool:
        self._require_bot(sender)
        for command in request.commands:
            if not _BOT_COMMAND.fullmatch(command.command):
                raise SandboxRpcError(400, "BOT_COMMAND_INVALID")
            if not 1 <= len(command.description) <= 256:
                raise SandboxRpcError(400, "BOT_COMMAND_DESCRIPTION_INVALID")
        key = (type(request.scope).__name__, request.lang_code)
        self.bot_commands[key] = [(c.command, c.description) for c in request.commands]
        return True

    def _on_GetChatsRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        chats = []
        for chat_id in request.id:
            group = self.groups.get(chat_id)
            if group is None:
                raise SandboxRpcError(400, "CHAT_ID_INVALID")
            chats.append(self._tl_group(group, sender.user_id))
        return tl_messages.Chats(chats)

    def _on_GetFullChatRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        group = self.groups.get(request.chat_id)
        viewer = sender.user_id
        if group is None or group.deleted or viewer not in group.members:
            raise SandboxRpcError(400, "CHAT_ID_INVALID")
        inviter = group.creator_id or self.bot.id
        participants = [
            types.ChatParticipantCreator(user_id)
            if user_id == group.creator_id
            else types.ChatParticipantAdmin(user_id, inviter, group.created)
            if user_id in group.admins
            else types.ChatParticipant(user_id, inviter, group.created)
            for user_id in sorted(group.members)
        ]
        full = _blank(
            types.ChatFull, id=group.id, about="", notify_settings=types.PeerNotifySettings(),
            participants=types.ChatParticipants(group.id, participants, 1),
        )  # fmt: skip
        return tl_messages.ChatFull(
            full_chat=full,
            chats=[self._tl_group(group, viewer)],
            users=[self._tl_user(self.users[i], viewer) for i in sorted(group.members)],
        )

    def _on_GetParticipantRequest(self, request: Any, sender: _WorldSender) -> TLObject:
        channel = self._channel_of(request.channel, sender)
        viewer = sender.user_id
        if viewer not in channel.members:
            raise SandboxRpcError(400, "CHANNEL_PRIVATE")
        wanted = request.participant
        user_id = (
            viewer if isinstance(wanted, types.InputPeerSelf) else getattr(wanted, "user_id", 0)
        )
        user = self.users.get(user_id or 0)
        if user is None:
            raise SandboxRpcError(400, "PARTICIPANT_ID_INVALID")
        if user.id not in channel.members:
            raise SandboxRpcError(400, "USER_NOT_PARTICIPANT")
        inviter = channel.creator_id or self.bot.id
        participant: TLObject
        if user.id == channel.creator_id:
            participant = types.ChannelParticipantCreator(user.id, _ADMIN_RIGHTS)
        elif user.id in channel.admins:
            participant = types.ChannelParticipantAdmin(
                user.id, inviter, channel.created, _ADMIN_RIGHTS, is_self=user.id == viewer
            )
        elif user.id == viewer:
            participant = types.ChannelParticipantSelf(user.id, inviter, channel.created)
        else:
            participant = types.ChannelParticipant(user.id, channel.created)
        return tl_channels.ChannelParticipant(
            participant,
            chats=[self._tl_channel(channel, viewer)],
            users=[self._tl_user(user, viewer)],
        )

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
        self._updates_queue = updates_queue  # the name MTProtoSender._store_own_updates uses
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
        self._updates_queue.put_nowait(update)

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
            result = request.read_result(reader)
        # As the real sender does: updates in a result (a sent message's pts) go through the
        # client's message box too, or the next pushed update would look like a gap.
        MTProtoSender._store_own_updates(self, result)
        future.set_result(result)
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
    "CallbackAnswer",
    "Chat",
    "RatePolicy",
    "SandboxClient",
    "SimCallbackQuery",
    "SimChannel",
    "SimFile",
    "SimGroup",
    "SimMessage",
    "SimUser",
    "World",
    "client_factory",
    "errors",
    "peer_id",
]


def signed_in_session(world: World, user: SimUser | None = None) -> str:
    """A session string already signed in to `world` as `user` (the account by default)."""
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    world.authorize(bytes(session.auth_key.key), user or world.account)
    return str(session.save())

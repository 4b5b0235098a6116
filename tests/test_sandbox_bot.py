"""The sandbox serves a Telethon bot: people write to it, press its buttons and block it, and
what it sends arrives as Telegram would keep it. Everything goes through Telethon's public
API and its own serialization."""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from telethon import Button, errors, events, functions, types
from telethon.extensions import html

from monitor.clock import ManualClock
from monitor.telegram.sandbox import (
    CallbackAnswer,
    SandboxClient,
    SimChannel,
    SimGroup,
    SimMessage,
    SimUser,
    World,
    peer_id,
)
from tests.conftest import connect_bot


def png(width: int = 3, height: int = 2) -> bytes:
    """A small RGB PNG: Telethon sends RGB images within its limits without re-encoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + bytes([40, 120, 200]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def add_chat(world: World, kind: str, members: Iterable[SimUser] = (),
             admins: Iterable[SimUser] = (), creator: SimUser | None = None) -> SimGroup | SimChannel:  # fmt: skip
    if kind == "group":
        return world.add_group("Штаб", members, admins, creator)
    return world.add_supergroup("Штаб", members, admins, creator)


@pytest.fixture(autouse=True)
def handlers_raise_nothing(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Telethon logs what a handler raises instead of raising it: such a log fails the test."""
    yield
    failures = [
        record
        for record in caplog.get_records("call")
        if record.name.startswith("telethon") and record.levelno >= logging.ERROR
    ]
    assert not failures, logging.Formatter().format(failures[0])


async def test_a_private_message_is_answered_with_html_that_arrives_intact(
    world: World, bot_client: SandboxClient
) -> None:
    alice = world.add_user("Alice", "alice")
    seen: list[tuple[int | None, int | None, bool, bool, str]] = []
    replies = []
    answer = '🔥 <b>Жирный</b> и <a href="https://example.org/a?b=1&amp;c=2">ссылка</a> <i>ещё</i>'

    @bot_client.on(events.NewMessage(incoming=True))
    async def on_message(event: events.NewMessage.Event) -> None:
        seen.append(
            (event.chat_id, event.sender_id, event.is_private, event.is_group, event.raw_text)
        )
        replies.append(await event.respond(answer, parse_mode="html"))

    incoming = world.user_sends(alice, None, "/start")
    await bot_client.settle()

    assert seen == [(alice.id, alice.id, True, False, "/start")]
    [reply] = world.outbox(alice)
    assert reply.id == replies[0].id == incoming.id + 1  # one numbering for the bot's box
    text, entities = html.parse(answer)
    assert (reply.text, reply.entities) == (text, entities)
    assert [(type(e).__name__, e.offset, e.length) for e in reply.entities] == [
        ("MessageEntityBold", 3, 6),  # the emoji is two UTF-16 units
        ("MessageEntityTextUrl", 12, 6),
        ("MessageEntityItalic", 19, 3),
    ]
    assert reply.entities[1].url == "https://example.org/a?b=1&c=2"
    assert html.parse(reply.html) == (text, entities)
    assert replies[0].raw_text == text and replies[0].out


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_a_group_command_for_the_bot_reaches_the_handler_with_chat_and_sender(
    world: World, bot_client: SandboxClient, kind: str
) -> None:
    bob = world.add_user("Bob", "bob")
    chat = add_chat(world, kind, members=[bob])
    seen = []

    @bot_client.on(events.NewMessage(incoming=True))
    async def on_message(event: events.NewMessage.Event) -> None:
        seen.append(
            (event.chat_id, event.sender_id, event.is_private, event.is_group, event.raw_text)
        )
        await event.reply("Готово")

    command = world.user_sends(bob, chat, "/digest@monitor_test_bot")
    await bot_client.settle()

    assert seen == [(peer_id(chat), bob.id, False, True, "/digest@monitor_test_bot")]
    [reply] = world.outbox(chat)
    assert (reply.text, reply.reply_to, reply.sender_id) == ("Готово", command.id, world.bot.id)


async def test_buttons_a_press_its_answer_and_the_edit(
    world: World, bot_client: SandboxClient, manual_clock: ManualClock
) -> None:
    alice = world.add_user("Alice", "alice")
    world.user_sends(alice, None, "/search мир")
    await bot_client.settle()
    page = await bot_client.send_message(
        alice.id, "Страница 1", buttons=[Button.inline("older ▶", b"p:7:1")]
    )
    # Message.edit sends the buttons along; an edit that changes nothing is refused.
    page = await page.edit("Страница 1 из 3")
    assert world.outbox(alice)[0].button_data == [b"p:7:1"]
    with pytest.raises(errors.MessageNotModifiedError):
        await page.edit("Страница 1 из 3")
    pressed = []

    @bot_client.on(events.CallbackQuery())
    async def on_press(event: events.CallbackQuery.Event) -> None:
        message = await event.get_message()
        pressed.append((event.data, event.sender_id, event.chat_id, message.raw_text))
        await event.answer("Страница 2")
        await event.edit("Страница <b>2</b> из 3", parse_mode="html",
                         buttons=[Button.inline("◀ newer", b"p:7:0")])  # fmt: skip

    press = world.user_presses(alice, world.outbox(alice)[0], b"p:7:1")
    await bot_client.settle()

    assert pressed == [(b"p:7:1", alice.id, alice.id, "Страница 1 из 3")]
    assert press.answer == CallbackAnswer("Страница 2", alert=False, url=None)
    [shown] = world.outbox(alice)
    assert (shown.id, shown.html, shown.button_data) == (
        page.id, "Страница <strong>2</strong> из 3", [b"p:7:0"],
    )  # fmt: skip
    assert shown.earlier_texts == ["Страница 1", "Страница 1 из 3"]

    with pytest.raises(errors.QueryIdInvalidError):  # answered already
        await bot_client(functions.messages.SetBotCallbackAnswerRequest(press.id, cache_time=0))
    bot_client.remove_event_handler(on_press)
    late = world.user_presses(alice, shown, b"p:7:0")
    manual_clock.advance(world.callback_query_lifetime.total_seconds() + 1)
    with pytest.raises(errors.QueryIdInvalidError):
        await bot_client(functions.messages.SetBotCallbackAnswerRequest(late.id, cache_time=0))


@pytest.mark.parametrize("kind", ["private", "supergroup"])
async def test_a_png_and_a_document_arrive_intact_with_their_captions(
    world: World, bot_client: SandboxClient, kind: str, tmp_path: Path
) -> None:
    alice = world.add_user("Alice", "alice")
    group = None if kind == "private" else world.add_supergroup("Чат", [alice])
    chat: SimUser | SimChannel = group or alice
    world.user_sends(alice, group, "/trend мир")
    await bot_client.settle()
    picture = io.BytesIO(png())
    picture.name = "trend.png"
    photo = await bot_client.send_file(peer_id(chat), picture, caption="Мир: 30 дней")
    table = tmp_path / "counts.csv"
    table.write_bytes("день;упоминаний\n1;5\n".encode())
    document = await bot_client.send_file(peer_id(chat), table, caption="Таблица")

    first, second = world.outbox(chat)
    assert first.file is not None and second.file is not None
    assert (first.id, first.text, first.file.data, first.file.as_photo) == (
        photo.id, "Мир: 30 дней", png(), True,
    )  # fmt: skip
    assert photo.photo is not None and photo.photo.sizes[0].w == 3
    assert (second.id, second.file.data, second.file.name, second.file.as_photo) == (
        document.id, table.read_bytes(), "counts.csv", False,
    )  # fmt: skip
    assert document.file.name == "counts.csv" and second.text == "Таблица"


async def test_a_big_file_is_uploaded_in_big_parts(world: World, bot_client: SandboxClient) -> None:
    alice = world.add_user("Alice", "alice")
    world.user_sends(alice, None, "/export")
    await bot_client.settle()
    data = bytes(range(256)) * (11 * 4096)  # 11 MiB: over Telethon's 10 MB line for big files
    await bot_client.send_file(alice.id, data, force_document=True, file_name="export.bin")
    [sent] = world.outbox(alice)
    assert sent.file is not None and sent.file.data == data
    assert "SaveBigFilePartRequest" in world.requests


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_permissions_tell_admins_from_members(
    world: World, bot_client: SandboxClient, kind: str
) -> None:
    owner, admin, member, outsider = (
        world.add_user(n) for n in ("Owner", "Admin", "Member", "Out")
    )
    chat = add_chat(world, kind, members=[member], admins=[admin], creator=owner)
    for user in (owner, admin, member):
        world.user_sends(user, chat, "привет")
    world.user_sends(outsider, None, "/start")
    await bot_client.settle()

    found = [await bot_client.get_permissions(peer_id(chat), u.id) for u in (owner, admin, member)]
    assert [(p.is_admin, p.is_creator) for p in found] == [
        (True, True),
        (True, False),
        (False, False),
    ]
    with pytest.raises(errors.UserNotParticipantError):
        await bot_client.get_permissions(peer_id(chat), outsider.id)


async def test_a_user_who_blocked_the_bot_cannot_be_written_to(
    world: World, bot_client: SandboxClient
) -> None:
    alice = world.add_user("Alice", "alice")
    world.user_sends(alice, None, "/subscribe")
    await bot_client.settle()
    world.block_bot(alice)
    with pytest.raises(errors.UserIsBlockedError):
        await bot_client.send_message(alice.id, "Дайджест")
    world.user_sends(alice, None, "/start")  # "Restart" unblocks
    await bot_client.settle()
    await bot_client.send_message(alice.id, "Дайджест")
    assert [m.text for m in world.outbox(alice)] == ["Дайджест"]


@pytest.mark.parametrize(
    ("kind", "happening", "error"),
    [
        ("group", "delete_chat", errors.PeerIdInvalidError),
        ("group", "remove_bot_from", errors.ChatWriteForbiddenError),
        ("supergroup", "delete_chat", errors.ChannelInvalidError),
        ("supergroup", "remove_bot_from", errors.ChannelPrivateError),
    ],
)
async def test_a_chat_that_is_gone_refuses_with_telegrams_error(
    world: World, bot_client: SandboxClient, kind: str, happening: str, error: type[Exception]
) -> None:
    bob = world.add_user("Bob")
    chat = add_chat(world, kind, members=[bob])
    world.user_sends(bob, chat, "/subscribe")
    await bot_client.settle()
    getattr(world, happening)(chat)
    with pytest.raises(error):
        await bot_client.send_message(peer_id(chat), "Дайджест")
    assert world.outbox(chat) == []


async def test_telegrams_length_limits_count_utf16_units(
    world: World, bot_client: SandboxClient
) -> None:
    alice = world.add_user("Alice")
    world.user_sends(alice, None, "/digest")
    await bot_client.settle()
    await bot_client.send_message(alice.id, "🔥" * 2048)  # 4096 units: the most there is room for
    with pytest.raises(errors.MessageTooLongError):
        await bot_client.send_message(alice.id, "🔥" * 2048 + "!")
    with pytest.raises(errors.MessageTooLongError):
        await bot_client.send_message(alice.id, "я" * 4097)
    with pytest.raises(errors.MediaCaptionTooLongError):
        await bot_client.send_file(alice.id, png(), caption="я" * 1025)
    with pytest.raises(errors.EntityBoundsInvalidError):
        await bot_client.send_message(
            alice.id, "коротко", formatting_entities=[types.MessageEntityBold(0, 50)]
        )
    assert [len(m.text) for m in world.outbox(alice)] == [2048]


async def test_sending_too_fast_is_a_flood_wait(world: World, bot_client: SandboxClient) -> None:
    alice = world.add_user("Alice")
    world.user_sends(alice, None, "/digest")
    await bot_client.settle()
    world.policy.per_second["SendMessageRequest"] = 1
    await bot_client.send_message(alice.id, "часть 1")
    with pytest.raises(errors.FloodWaitError) as flood:
        await bot_client.send_message(alice.id, "часть 2")
    assert flood.value.seconds == 1


async def test_the_command_list_is_stored_and_checked(
    world: World, bot_client: SandboxClient
) -> None:
    commands = [
        types.BotCommand("search", "search the archive"),
        types.BotCommand("help", "this list"),
    ]
    scope = types.BotCommandScopeDefault()
    assert await bot_client(functions.bots.SetBotCommandsRequest(scope, "", commands))
    assert world.bot_commands[("BotCommandScopeDefault", "")] == [
        ("search", "search the archive"), ("help", "this list"),
    ]  # fmt: skip
    with pytest.raises(errors.BotCommandInvalidError):
        await bot_client(
            functions.bots.SetBotCommandsRequest(scope, "", [types.BotCommand("Search!", "x")])
        )


async def test_messages_sent_while_the_bot_was_down_arrive_on_catch_up(
    world: World, tmp_path: Path
) -> None:
    alice = world.add_user("Alice")
    first = await connect_bot(world, str(tmp_path / "bot"))
    world.user_sends(alice, None, "/start")
    await first.settle()
    await first.send_message(alice.id, "Привет")
    await first.disconnect()
    missed: list[SimMessage] = [world.user_sends(alice, None, f"/search {n}") for n in range(3)]

    restarted = SandboxClient(str(tmp_path / "bot"), world, catch_up=True)
    seen = []

    @restarted.on(events.NewMessage(incoming=True))
    async def on_message(event: events.NewMessage.Event) -> None:
        seen.append(event.raw_text)

    await restarted.connect()
    try:
        await restarted.settle()
        assert seen == [m.text for m in missed]
        world.user_sends(alice, None, "/help")  # and live updates follow without a gap
        await restarted.settle()
        assert seen[-1] == "/help"
    finally:
        await restarted.disconnect()


@pytest.mark.parametrize(
    ("message", "request_name", "error", "refused"),
    [
        ("CHAT_SEND_PLAIN_FORBIDDEN", "SendMessageRequest", errors.ChatSendPlainForbiddenError,
         [True, False, True, False]),
        ("CHAT_RESTRICTED", None, errors.ChatRestrictedError, [True, True, False, False]),
        # Telethon has no class of its own for this one.
        ("TOPIC_CLOSED", None, errors.BadRequestError, [True, True, False, False]),
        ("FLOOD_WAIT_5", "SendMediaRequest", errors.FloodWaitError, [False, True, False, True]),
    ],
)  # fmt: skip
async def test_a_chat_refuses_sends_with_the_error_it_is_given(
    world: World, bot_client: SandboxClient, message: str, request_name: str | None,
    error: type[Exception], refused: list[bool],
) -> None:  # fmt: skip
    bob = world.add_user("Bob")
    chat = world.add_supergroup("Штаб", [bob])
    world.user_sends(bob, chat, "/subscribe")
    await bot_client.settle()

    async def send(picture: bool) -> bool:
        """Whether Telegram refused the send with `error`."""
        try:
            if picture:
                await bot_client.send_file(peer_id(chat), png(), caption="График")
            else:
                await bot_client.send_message(peer_id(chat), "Дайджест")
        except error:
            return True
        return False

    world.refuse_sends(chat, message, request_name, times=2)  # the next two it applies to
    assert [await send(picture) for picture in (False, True, False, True)] == refused
    assert len(world.outbox(chat)) == 2
    world.refuse_sends(chat, message, request_name)  # every one, until allowed again
    assert all([await send(request_name == "SendMediaRequest") for _ in range(3)])
    world.allow_sends(chat)
    assert not await send(request_name == "SendMediaRequest")
    assert len(world.outbox(chat)) == 3

"""The whole bot against hostile messages and button presses, through the simulated Telegram:
every command gets a few valid replies (or none, when it is not for this bot), no handler
fails, the bot goes on answering, and the archive's posts stay as they were.

tests/test_commands.py checks parse_command alone; these send what Hypothesis writes to a
running BotService, as admins, allowed users and strangers, privately and in a group."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from telethon import Button

from monitor.bot.commands import parse_command
from monitor.bot.policy import AlertRules
from monitor.bot.service import BotService
from monitor.clock import ManualClock
from monitor.config import Settings
from monitor.importers.service import import_exports
from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import LexiconScorer
from monitor.store import Store
from monitor.telegram.sandbox import CAPTION_LIMIT, MESSAGE_LIMIT, SandboxClient, SimGroup, World
from monitor.text import TextPipeline
from tests.bad_input.conftest import (
    IMPORTED_AT,
    LARGE_REPORTS,
    SAMPLE,
    Complaints,
    Loop,
    archive_rows,
    examples,
)
from tests.bad_input.strategies import PIECES, hostile_text, one_sentence, shows_internals
from tests.conftest import connect_bot, connect_client, make_collector

# A term in a script the chart's font lacks is drawn as boxes, and matplotlib warns once per
# glyph; the suite's warnings-as-errors would turn that into a failed /trend.
pytestmark = [LARGE_REPORTS, pytest.mark.filterwarnings("ignore:Glyph .* missing from font")]

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
API_HASH = "5ec7e75ec7e75ec7e75ec7e75ec7e75e"
SESSION = "1BVtsSESSIONSTRINGSECRET0000000000000000"
MOST_REPLIES = 3  # /add answers, then says when the history is read; /channels may split


@dataclass
class Bench:
    """One running bot for all examples of a test."""

    world: World
    clock: ManualClock
    store: Store
    service: BotService
    bot_client: SandboxClient
    user_client: SandboxClient  # the collector's, for /add and /remove
    people: dict[str, Any]
    group: SimGroup
    posts: list[dict[str, Any]]

    @property
    def secrets(self) -> list[str]:
        token = self.world.bot_token
        return [API_HASH, SESSION, token, token.split(":")[1]]


@pytest.fixture
def bench(loop: Loop, tmp_path: Path, pipeline: TextPipeline) -> Iterator[Bench]:
    clock = ManualClock(NOW)
    world = World(clock)
    people = {
        "admin": world.add_user("Ada", "ada_admin"),
        "reader": world.add_user("Rita", "rita"),
        "stranger": world.add_user("Stan", "stan"),
    }
    group = world.add_group("Аналитики", [people["reader"], people["stranger"]], [people["admin"]])
    world.add_channel("Пустой канал", "frontline_notes")  # /add can follow it: it adds no posts

    async def build() -> Bench:
        store = await Store.open(tmp_path / "bot.db")
        await import_exports(store, pipeline, [SAMPLE], clock=lambda: IMPORTED_AT)
        await store.allow_user(people["reader"].id, people["admin"].id, NOW)
        user_client, bot_client = await connect_client(world), await connect_bot(world)
        settings = Settings(
            db_path=tmp_path / "bot.db", admin_ids=frozenset({people["admin"].id}),
            api_hash=API_HASH, bot_token=world.bot_token, session_string=SESSION,
        )  # fmt: skip
        scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
        collector = make_collector(user_client, store, pipeline, clock)
        service = BotService(bot_client, store, settings, pipeline, scorer, clock, collector,
                             AlertRules(quiet=None))  # fmt: skip
        await service.start()
        return Bench(world, clock, store, service, bot_client, user_client, people, group,
                     await archive_rows(store))  # fmt: skip

    bench = loop(build())
    yield bench

    async def stop() -> None:
        await bench.service.stop()
        for client in (bench.user_client, bench.bot_client):
            await client.disconnect()
        await bench.store.close()

    loop(stop())


def say(loop: Loop, bench: Bench, who: str, text: str, in_group: bool = False) -> list[Any]:
    """Send `text` as `who` and return what the bot sent back there, once it is done
    (backfills a command started included). A minute passes first: the rate limit is not
    what these tests are about."""
    bench.clock.advance(61)
    chat = bench.group if in_group else None
    box = chat or bench.people[who]
    before = len(bench.world.outbox(box))
    bench.world.user_sends(bench.people[who], chat, text)

    async def settled() -> None:
        await bench.bot_client.settle()
        await bench.service.wait_for_background()
        await bench.bot_client.settle()

    loop(settled())
    return bench.world.outbox(box)[before:]


def assert_valid_reply(bench: Bench, reply: Any) -> None:
    text = reply.text
    units = len(text.encode("utf-16-le")) // 2
    assert text.strip() or reply.file is not None, "an empty reply"
    assert units <= (CAPTION_LIMIT if reply.file is not None else MESSAGE_LIMIT), units
    assert not shows_internals(text), text[:300]
    assert not any(secret in text for secret in bench.secrets), text[:300]


def assert_still_serving(loop: Loop, bench: Bench, complaints: Complaints) -> None:
    """No handler failed (they log when they do), /help is answered, posts are untouched."""
    assert complaints.take() == []
    [help_text] = say(loop, bench, "admin", "/help")
    assert "/search" in help_text.text
    assert loop(archive_rows(bench.store)) == bench.posts


COMMANDS = ["start", "help", "search", "trend", "digest", "subscribe", "unsubscribe", "alerts",
            "channels", "add", "remove", "watch", "unwatch", "watchlist", "allow", "deny",
            "status", "subscriptions", "frobnicate", "SEARCH", "Help"]  # fmt: skip
# Arguments the commands read as numbers, time zones, clocks, switches and channels.
ARGUMENT_PIECES = [
    "²", "١٢", "0", "-1", "7", "366", "99999999999", "9" * 30, "1e3", "0x10",
    "Europe", "Europe/Moscow", "Etc/GMT+99", "../../etc/passwd", "posix", "a" * 300, "UTC",
    "08:00", "25:61", "7:5", "on", "off", "ON", "@frontline_notes", "frontline_notes",
    "t.me/c/99999999999999999999999", "1700000001", "-1001700000001", "Трамп", '"мирные',
    'переговоры"', "Бахмут", "Артёмовск",
]  # fmt: skip
ARGUMENTS = st.one_of(
    st.lists(st.sampled_from(ARGUMENT_PIECES + PIECES), max_size=4).map(" ".join),
    hostile_text(),
)


@st.composite
def message(draw: st.DrawFn) -> str:
    command = draw(st.sampled_from(COMMANDS))
    address = draw(st.sampled_from(["", "", "", "@monitor_test_bot", "@other_bot", "@"]))
    prefix = draw(st.sampled_from(["", "", " ", "\u200f", "\u202e", "\u200d", "\x00", "\n"]))
    # A joiner or NUL right after the name glues the arguments to it: no command then.
    separator = draw(st.sampled_from([" ", " ", " ", "  ", "\n", "\t", "\u200b", "\x00"]))
    return f"{prefix}/{command}{address}{separator}{draw(ARGUMENTS)}"


@examples(100)
@given(
    text=st.one_of(message(), message(), message(), hostile_text()),
    who=st.sampled_from(["admin", "reader", "stranger"]),
    in_group=st.booleans(),
)
# Each got "Something went wrong" and a logged traceback before the fix.
@example(text="/subscribe 08:00 Europe", who="reader", in_group=False)
@example(text="/subscribe " + "a" * 300, who="reader", in_group=False)
@example(text="/subscribe " + "a." * 450 + "/x", who="reader", in_group=False)
@example(text="/trend Трамп ²", who="reader", in_group=False)
@example(text="/allow ²", who="admin", in_group=False)
@example(text="/add @frontline_notes ²", who="admin", in_group=False)
@example(text="/add @frontline_notes 99999999999", who="admin", in_group=False)
@example(text="/search channel:99999999999999999999 Трамп", who="reader", in_group=False)
@example(text="/search Трамп until:9999-12-31", who="reader", in_group=False)
@example(text="/search " + "🔥" * 100_000, who="reader", in_group=True)
@example(text="/trend " + "Трамп " * 150, who="reader", in_group=False)  # caption over 1,024
def test_any_message_gets_a_few_valid_replies_and_the_bot_carries_on(
    loop: Loop, bench: Bench, complaints: Complaints, text: str, who: str, in_group: bool
) -> None:
    replies = say(loop, bench, who, text, in_group)
    event(f"{len(replies)} replies")
    if parse_command(text, "monitor_test_bot") is None:
        assert replies == []
    elif who == "stranger":  # told once an hour, unanswered in between
        assert [reply.text for reply in replies] in ([], ["Sorry, this bot is private."])
    else:
        assert 1 <= len(replies) <= MOST_REPLIES, [r.text[:100] for r in replies]
    for reply in replies:
        assert_valid_reply(bench, reply)
    assert_still_serving(loop, bench, complaints)


PAGE_PIECES = [b"p", b":", b"0", b"1", b"5", b"-1", b"\xc2\xb2", b"99999999999999999999",
               b"9" * 40, b"\xd9\xa1", b"\x00", b"\xff", b" "]  # fmt: skip
CALLBACK_DATA = st.one_of(
    st.lists(st.sampled_from(PAGE_PIECES), min_size=1, max_size=8).map(b"".join),
    st.binary(min_size=1, max_size=64),
).filter(lambda data: 0 < len(data) <= 64)  # what Telegram allows


@examples(60)
@given(data=CALLBACK_DATA, who=st.sampled_from(["reader", "stranger"]))
@example(data=b"p:1:99999999999999999999", who="reader")  # a page past SQLite's integers
@example(data=b"p:99999999999999999999:0", who="reader")  # a search id past them
@example(data=b"p:1:\xc2\xb2", who="reader")  # "²" passes str.isdigit, not int()
def test_any_button_press_is_answered_in_one_sentence(
    loop: Loop, bench: Bench, complaints: Complaints, data: bytes, who: str
) -> None:
    """A client other than Telegram's apps can send any callback data for a bot's message."""
    if not bench.world.outbox(bench.people["reader"]):
        say(loop, bench, "reader", "/search Трамп")  # saved search 1, whose pages exist
    user = bench.people[who]

    async def press() -> Any:
        await bench.bot_client.send_message(user.id, "buttons", buttons=[Button.inline("x", data)])
        query = bench.world.user_presses(user, bench.world.outbox(user)[-1], data)
        await bench.bot_client.settle()
        return query

    query = loop(press())
    assert query.answer is not None, "every press is answered"
    if query.answer.text:
        assert one_sentence(query.answer.text), query.answer.text
    for reply in bench.world.outbox(user)[-1:]:
        assert_valid_reply(bench, reply)
    assert_still_serving(loop, bench, complaints)

"""The bot against the simulated Telegram: every command, access, paging, digests across a
restart, blocked chats and the alert gate. Jobs are called directly on a manual clock."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import time, timedelta
from typing import Any

import pytest
from telethon import Button

from monitor.bot.policy import AlertRules
from monitor.bot.service import BotService
from monitor.clock import ManualClock
from monitor.config import Settings
from monitor.ingest import ingest
from monitor.models import ChannelInfo
from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import LexiconScorer
from monitor.store import Store, TimeBudget
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import SandboxClient, SimChannel, SimMessage, SimUser, World, peer_id
from monitor.text import TextPipeline
from monitor.watch import add_term
from tests.conftest import after_pages, fill, make_post


@pytest.fixture
def followed(world: World) -> SimChannel:
    channel = world.add_channel("Записки с передовой", "frontline_notes")
    fill(world, channel, 40, text="Сводка {i}: санкции против Трампа обсуждают")
    return channel


@pytest.fixture
async def bot(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, collector: Collector, people: dict[str, SimUser],
) -> AsyncIterator[BotService]:  # fmt: skip
    await store.allow_user(people["reader"].id, people["admin"].id, manual_clock.now())
    service = make_bot(bot_client, store, pipeline, manual_clock, collector, people)
    await service.start()
    yield service
    await service.stop()


def make_bot(client: SandboxClient, store: Store, pipeline: TextPipeline, clock: ManualClock,
             collector: Collector | None, people: dict[str, SimUser],
             settings: dict[str, Any] | None = None, **options: Any) -> BotService:  # fmt: skip
    """The bot for `people` (Ada its admin); `settings` beside the defaults, `options` for
    BotService (alert rules, search budget)."""
    settings = Settings(**{"admin_ids": frozenset({people["admin"].id}),
                           "commands_per_minute": 30, **(settings or {})})  # fmt: skip
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    rules = options.pop("rules", AlertRules(quiet=None))
    return BotService(client, store, settings, pipeline, scorer, clock, collector, rules, **options)


async def say(world: World, client: SandboxClient, user: SimUser, text: str, chat: Any = None) -> list[str]:  # fmt: skip
    """Send `text` as `user` and return the HTML of what the bot answered there."""
    box = user if chat is None else chat
    before = len(world.outbox(box))
    world.user_sends(user, chat, text)
    await client.settle()
    # Telethon writes bold back as <strong>; the bot sends <b>.
    return [m.html.replace("strong>", "b>") for m in world.outbox(box)[before:]]


async def test_help_shows_admin_commands_to_admins_only(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser]
) -> None:
    [for_admin] = await say(world, bot_client, people["admin"], "/help")
    [for_reader] = await say(world, bot_client, people["reader"], "/start")
    assert "/add" in for_admin and "/search" in for_admin
    assert "/add" not in for_reader and "/search" in for_reader and "/status" not in for_reader


@pytest.mark.parametrize(
    "command",
    ["/add @x", "/remove @x", "/watch Трамп", "/unwatch Трамп", "/watchlist", "/allow 5",
     "/deny 5", "/status"],
)  # fmt: skip
async def test_every_admin_command_refuses_a_non_admin(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    store: Store, command: str,
) -> None:  # fmt: skip
    [answer] = await say(world, bot_client, people["reader"], command)
    assert answer.startswith("Only administrators can use /")
    assert await store.watch_terms() == [] and await store.allowed_users() == {people["reader"].id}


async def test_a_stranger_is_refused_once_an_hour_and_costs_no_replies_in_between(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    manual_clock: ManualClock,
) -> None:  # fmt: skip
    stranger = people["stranger"]
    assert await say(world, bot_client, stranger, "/search Трамп") == [
        "Sorry, this bot is private."
    ]
    for command in ["/channels", "/digest", "/help", *["/search Трамп"] * 30]:
        manual_clock.advance(60)  # past the rate limit's window: it is not what stops these
        assert await say(world, bot_client, stranger, command) == []
    manual_clock.advance(60 * 60)
    assert await say(world, bot_client, stranger, "/help") == ["Sorry, this bot is private."]
    assert len(bot.limiter) == 0  # strangers take no room in the limiter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/frobnicate", "I do not know /frobnicate; /help lists what I can do."),
        ("/search", "Tell me what to look for, e.g. /search Трамп санкции"),
        ("/search " + "Трамп " * 2000, "Queries are limited to 1,000 characters."),
        ('/search "unclosed', None),
        ("/trend", "Tell me a term, e.g. /trend Трамп 30"),
        ("/trend Трамп 9999", "DAYS goes from 1 to 365."),
        ("/alerts maybe", "Say /alerts on or /alerts off."),
        ("/subscribe 25:99", "&#x27;25:99&#x27; is neither a time (HH:MM) nor a time zone such as Europe/Berlin."),
        ("/unsubscribe", "This chat has no daily digest."),
        ("hello there", None),
        ("/search@another_bot Трамп", None),
    ],
)  # fmt: skip
async def test_malformed_commands_get_one_sentence(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    text: str, expected: str | None,
) -> None:  # fmt: skip
    answers = await say(world, bot_client, people["reader"], text)
    if expected is None:
        assert len(answers) <= 1 and all("Traceback" not in a for a in answers)
        if text.startswith(("hello", "/search@")):
            assert answers == []
    else:
        assert [a.replace("'", "&#x27;") for a in answers] == [expected]


async def test_admin_adds_a_channel_and_hears_when_its_history_is_read(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store,
) -> None:  # fmt: skip
    [answer] = await say(world, bot_client, people["admin"], "/add @frontline_notes")
    assert answer == "Following <b>Записки с передовой</b>; reading its history now."
    await bot.wait_for_background()  # the backfill the command started
    await bot_client.settle()
    done = world.outbox(people["admin"])[-1].html.replace("strong>", "b>")
    assert done == "Done reading <b>Записки с передовой</b>: 40 posts."
    assert await store.post_count() == 40
    [again] = await say(world, bot_client, people["admin"], "/add @frontline_notes")
    assert "already" in again
    [removed] = await say(world, bot_client, people["admin"], "/remove @frontline_notes")
    assert removed.startswith("Stopped following")


async def test_admin_hears_when_a_channel_vanishes_while_its_history_is_read(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    channel = world.add_channel("Исчезающий канал", "vanishing")
    fill(world, channel, 250)
    after_pages(monkeypatch, channel.id, 1, lambda: world.delete_channel(channel))
    await say(world, bot_client, people["admin"], "/add @vanishing")
    await bot.wait_for_background()
    await bot_client.settle()
    assert world.outbox(people["admin"])[-1].html == (
        "@vanishing could not be read to the end: Telegram no longer knows the channel "
        "(deleted?); what was read is kept."
    )
    assert await store.post_count() == 100


async def archive(store: Store, world: World, collector: Collector, channel: SimChannel) -> None:
    """Follow the channel and read its history, as /add does."""
    await collector.add("@" + (channel.username or ""))
    for item in await store.channels():
        await collector.backfill(item)


async def test_search_pages_with_buttons_and_refuses_stale_or_foreign_ones(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    reader = people["reader"]
    [first] = await say(world, bot_client, reader, "/search санкции")
    page = world.outbox(reader)[-1]
    assert "frontline_notes" in first and "<b>санкции</b>" in first.lower()
    [older] = page.button_data
    assert older.startswith(b"p:") and len(older) < 64
    press = world.user_presses(reader, page, older)
    await bot_client.settle()
    assert world.outbox(reader)[-1].html != first and press.answer is not None
    assert len(world.outbox(reader)[-1].button_data) == 2  # newer and older
    unreached = older.rsplit(b":", 1)[0] + b":7"  # a page no press has led to
    odd = await bot_client.send_message(
        reader.id, "odd buttons",
        buttons=[Button.inline("a", b"p:99999:1"), Button.inline("b", b"\xff\x00garbage"),
                 Button.inline("c", unreached)],
    )  # fmt: skip
    odd_page = world.outbox(reader)[-1]
    assert odd_page.id == odd.id
    bogus = world.user_presses(reader, odd_page, b"p:99999:1")
    junk = world.user_presses(reader, odd_page, b"\xff\x00garbage")
    skipped = world.user_presses(reader, odd_page, unreached)
    await bot_client.settle()
    assert bogus.answer is not None and "expired" in bogus.answer.text
    assert skipped.answer is not None and "expired" in skipped.answer.text
    assert odd_page.text == "odd buttons"
    assert junk.answer is not None and "no longer valid" in junk.answer.text
    # The same saved search pressed from another chat is not honoured there.
    admin = people["admin"]
    await bot_client.send_message(admin.id, "copied", buttons=[Button.inline("older", older)])
    foreign = world.user_presses(admin, world.outbox(admin)[-1], older)
    await bot_client.settle()
    assert foreign.answer is not None and "expired" in foreign.answer.text


def summaries(message: SimMessage) -> list[int]:
    """The numbers of the followed channel's posts ("Сводка N") a search page shows."""
    return [int(n) for n in re.findall(r"Сводка (\d+)", message.text)]


async def test_pages_continue_after_the_last_post_shown_while_new_posts_arrive(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    reader = people["reader"]
    await say(world, bot_client, reader, "/search санкции")
    page = world.outbox(reader)[-1]

    async def press(button: int) -> list[int]:
        world.user_presses(reader, page, page.button_data[button])
        await bot_client.settle()
        assert world.outbox(reader)[-1] is page  # edited in place
        return summaries(page)

    assert summaries(page) == [39, 38, 37, 36, 35]
    assert await press(0) == [34, 33, 32, 31, 30]
    for i in (40, 41):  # new posts at the top, stored between two presses
        world.post(followed, f"Сводка {i}: санкции против Трампа обсуждают")
    await collector.catch_up()
    assert await press(1) == [29, 28, 27, 26, 25]  # older: no repeat
    assert await press(0) == [34, 33, 32, 31, 30]  # newer: the same page as before
    assert await press(0) == [39, 38, 37, 36, 35]  # the first page as the search found it
    for _ in range(7):
        shown = await press(-1)
    assert shown == [4, 3, 2, 1, 0] and len(page.button_data) == 1  # no older page


async def test_a_search_past_its_time_budget_gets_one_sentence(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from monitor.store import search as store_search

    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 1)  # a small archive: look every step
    await archive(store, world, collector, followed)
    reader = people["reader"]
    ticks = itertools.count(step=10)  # ten seconds pass each time the search's clock is read
    slow = TimeBudget(5, clock=lambda: next(ticks))
    too_long = (
        "That search took too long; add a word, or a channel: or since: filter, to narrow it."
    )
    bot.search_budget = slow
    assert await say(world, bot_client, reader, "/search санкции") == [too_long]
    bot.search_budget = TimeBudget(5)
    [found] = await say(world, bot_client, reader, "/search санкции")
    assert "санкции" in found.lower()
    page = world.outbox(reader)[-1]
    bot.search_budget = slow
    press = world.user_presses(reader, page, page.button_data[0])
    await bot_client.settle()
    assert press.answer is not None and press.answer.text == too_long
    assert summaries(page) == [39, 38, 37, 36, 35]  # the page stays as it was


async def test_watch_watchlist_unwatch_allow_deny_status_channels(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    admin = people["admin"]
    [watched] = await say(world, bot_client, admin, "/watch Трамп Trump")
    assert watched == "Watching Трамп, Trump: 40 posts so far."
    [listing] = await say(world, bot_client, admin, "/watchlist")
    assert "Трамп, Trump: 40 posts" in listing
    [gone] = await say(world, bot_client, admin, "/unwatch Трамп")
    assert gone == "No longer watching Трамп."
    [allowed] = await say(world, bot_client, admin, f"/allow {people['stranger'].id}")
    assert allowed == f"{people['stranger'].id} may use the bot."
    assert await say(world, bot_client, people["stranger"], "/channels") != [
        "Sorry, this bot is private."
    ]
    await say(world, bot_client, admin, f"/deny {people['stranger'].id}")
    assert await say(world, bot_client, people["stranger"], "/channels") == [
        "Sorry, this bot is private."
    ]
    [bad] = await say(world, bot_client, admin, "/allow @stan")
    assert bad.startswith("Say /allow USER_ID with the numeric Telegram id")
    [status] = await say(world, bot_client, admin, "/status")
    assert "Channels followed: 1" in status and "Database:" in status
    [channels] = await say(world, bot_client, people["reader"], "/channels")
    assert "frontline_notes" in channels


async def test_channels_lists_an_imported_channel_as_channels_list_does(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector, pipeline: TextPipeline,
    manual_clock: ManualClock,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    now = manual_clock.now()
    await store.save_imported_channel(ChannelInfo(77, "Архив", "old_export"), now)
    ended = now - timedelta(days=40)
    posts = [make_post(n + 1, "сводка", 77, date=ended - timedelta(hours=n)) for n in range(49)]
    await ingest(store, pipeline, 77, posts, now)
    [channels] = await say(world, bot_client, people["reader"], "/channels")
    followed_part, archived_part = channels.split("Archived, not followed: 1")
    assert "frontline_notes" in followed_part
    # Its rate over its own two archived days, and the state `channels list` also shows.
    assert f"📦 @old_export: 24.5/day, last post {ended:%-d %b} " in archived_part
    assert "· <b>imported, not followed</b>" in archived_part


async def test_trend_sends_a_chart_with_a_summary(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    await say(world, bot_client, people["reader"], "/trend Трамп 7")
    [chart] = [m for m in world.outbox(people["reader"]) if m.file is not None]
    assert chart.file is not None and len(chart.file.data) > 1000
    assert chart.text.startswith("Трамп: 40 posts in 7 days")


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_in_a_group_only_its_admins_change_the_subscription(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    store: Store, kind: str,
) -> None:  # fmt: skip
    reader, lead = people["reader"], world.add_user("Lena", "lena")
    await store.allow_user(lead.id, people["admin"].id, world.clock.now())
    add = world.add_group if kind == "group" else world.add_supergroup
    chat = add("Аналитики", [reader, lead], [lead])
    [refused] = await say(world, bot_client, reader, "/subscribe@monitor_test_bot", chat)
    assert "admins can change its subscription" in refused
    [done] = await say(world, bot_client, lead, "/subscribe 09:30 Europe/Moscow", chat)
    assert done == "Daily digest for this chat at 09:30 Europe/Moscow."
    subscription = await store.subscription(peer_id(chat))
    assert subscription is not None and subscription.digest_time == time(9, 30)
    [on] = await say(world, bot_client, lead, "/alerts on", chat)
    assert on == "Alerts on."


async def test_the_rate_limit_answers_once_then_stays_quiet(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, people: dict[str, SimUser],
) -> None:  # fmt: skip
    service = make_bot(bot_client, store, pipeline, manual_clock, None, people)
    service.limiter.limit = 2
    await service.start()
    answers = []
    for _ in range(5):
        answers += await say(world, bot_client, people["admin"], "/help")
    assert len(answers) == 3 and answers[-1].startswith("You are sending commands too fast")
    await service.stop()


async def test_button_presses_share_the_commands_limit(
    world: World, bot_client: SandboxClient, bot: BotService, people: dict[str, SimUser],
    followed: SimChannel, store: Store, collector: Collector, manual_clock: ManualClock,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    bot.limiter.limit = 3
    reader = people["reader"]
    await say(world, bot_client, reader, "/search санкции")  # the first of three
    page = world.outbox(reader)[-1]
    [older] = page.button_data
    presses = [world.user_presses(reader, page, older) for _ in range(4)]
    await bot_client.settle()
    assert all(press.answer is not None for press in presses)  # every press is answered
    assert [press.answer.text for press in presses if press.answer] == [
        None, None, "You are pressing buttons too fast; please wait a minute.", None,
    ]  # two more pages, one refusal said, one silent  # fmt: skip
    assert await say(world, bot_client, reader, "/help") == []  # commands share the count
    manual_clock.advance(61)
    assert len(await say(world, bot_client, reader, "/help")) == 1


async def test_exactly_one_digest_across_a_restart_and_missed_ones_at_start(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, people: dict[str, SimUser], followed: SimChannel,
    collector: Collector,
) -> None:  # fmt: skip
    await archive(store, world, collector, followed)
    reader = people["reader"]
    await store.allow_user(reader.id, people["admin"].id, manual_clock.now())
    await store.save_subscription(reader.id, digest_time=time(8), timezone="UTC", alerts=False,
                                  by=reader.id, now=manual_clock.now() - timedelta(days=3))  # fmt: skip
    first = make_bot(bot_client, store, pipeline, manual_clock, None, people)
    # Down for three days: the three missed digests go out at start, oldest first.
    assert await first.delivery.send_due_digests() == 3

    def digests() -> list[str]:
        return [m.text for m in world.outbox(reader) if m.text.startswith("📋 Digest")]

    assert [d.split("\n")[0] for d in digests()] == [
        f"📋 Digest {a} Nov 2024 08:00 – {b} Nov 2024 08:00 (UTC)"
        for a, b in ((17, 18), (18, 19), (19, 20))
    ]
    assert "frontline_notes" in "".join(m.text for m in world.outbox(reader))
    sent = len(world.outbox(reader))
    restarted = make_bot(bot_client, store, pipeline, manual_clock, None, people)
    assert await restarted.delivery.send_due_digests() == 0 and len(world.outbox(reader)) == sent
    manual_clock.advance(86_400)
    assert await restarted.delivery.send_due_digests() == 1 and len(digests()) == 4


async def test_a_chat_that_blocked_the_bot_is_marked_inactive(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, people: dict[str, SimUser],
) -> None:  # fmt: skip
    reader = people["reader"]
    await store.allow_user(reader.id, people["admin"].id, manual_clock.now())
    await store.save_subscription(reader.id, digest_time=time(8), timezone="UTC", alerts=False,
                                  by=reader.id, now=manual_clock.now() - timedelta(days=1))  # fmt: skip
    world.block_bot(reader)
    service = make_bot(bot_client, store, pipeline, manual_clock, None, people)
    assert await service.delivery.send_due_digests() == 0
    subscription = await store.subscription(reader.id)
    assert subscription is not None and not subscription.active
    assert subscription.inactive_reason == "UserIsBlocked"
    assert await service.delivery.send_due_digests() == 0  # not retried


async def spike_archive(world: World, store: Store, collector: Collector, pipeline: TextPipeline) -> None:  # fmt: skip
    channel = world.add_channel("Два полковника", "two_colonels")
    now = world.clock.now()
    for day in range(28, 0, -1):
        world.post(channel, "Сводка: без изменений.", date=now - timedelta(days=day))
        if day % 2 == 0:
            world.post(channel, "Трамп сказал что-то.", date=now - timedelta(days=day, hours=1))
    for n in range(12):
        world.post(
            channel, f"Трамп лжец и предатель, позор {n}", date=now - timedelta(minutes=5 * n + 1)
        )
    await collector.add("@two_colonels")
    for item in await store.channels():
        await collector.backfill(item)
    await add_term(store, pipeline, "Трамп", [], None, "test", now)


async def test_alerts_cool_down_cap_and_quiet_hours(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, people: dict[str, SimUser], collector: Collector,
) -> None:  # fmt: skip
    await spike_archive(world, store, collector, pipeline)
    reader, admin = people["reader"], people["admin"]
    await store.allow_user(reader.id, admin.id, manual_clock.now())
    for user in (reader, admin):
        await store.save_subscription(user.id, digest_time=None, timezone="UTC", alerts=True,
                                      by=user.id, now=manual_clock.now())  # fmt: skip
    service = make_bot(bot_client, store, pipeline, manual_clock, None, people,
                       rules=AlertRules(cooldown=timedelta(hours=6), per_hour=1, quiet=None))  # fmt: skip
    sent = await service.delivery.check_alerts()
    assert sent >= 2  # one for each chat (the cap holds the rest)
    got = len(world.outbox(reader))
    assert got == 1 and "Трамп" in world.outbox(reader)[0].html
    held = await store.held_alerts(reader.id)
    assert held  # over the cap: held, not dropped
    manual_clock.advance(600)
    assert await service.delivery.check_alerts() == 0  # cool-down, and the cap for this hour
    manual_clock.advance(3_600)
    await service.delivery.check_alerts()
    assert len(world.outbox(reader)) == 2  # one held alert released in the next hour
    # Quiet hours hold everything for a chat, then release it when they end.
    hour = manual_clock.now().hour
    quiet_for_admin = (time((hour - 1) % 24), time((hour + 1) % 24))
    quiet = make_bot(bot_client, store, pipeline, manual_clock, None, people,
                     rules=AlertRules(per_hour=10, quiet=quiet_for_admin))  # fmt: skip
    before = len(world.outbox(admin))
    await store.save_subscription(admin.id, digest_time=None, timezone="UTC", alerts=True,
                                  by=admin.id, now=manual_clock.now())  # fmt: skip
    assert await store.held_alerts(admin.id)
    await quiet.delivery.check_alerts()
    assert len(world.outbox(admin)) == before
    manual_clock.advance(2 * 3_600)
    await quiet.delivery.check_alerts()
    assert len(world.outbox(admin)) > before and await store.held_alerts(admin.id) == []

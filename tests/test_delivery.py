"""Digests and alerts out to subscribed chats, against the simulated Telegram: each chat on its
own, back-off and giving up, digests finished part by part across flood waits, and rights
checked at delivery. Jobs are called directly on a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time, timedelta
from typing import Any

import pytest

from monitor.bot.service import BotService
from monitor.clock import ManualClock
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import SandboxClient, SimChannel, SimGroup, SimUser, World, peer_id
from monitor.text import TextPipeline
from monitor.watch import add_term
from tests.test_bot import make_bot as make_any_bot
from tests.test_bot import say, spike_archive


def make_bot(client: SandboxClient, store: Store, pipeline: TextPipeline, clock: ManualClock,
             people: dict[str, SimUser], **settings: Any) -> BotService:  # fmt: skip
    # A bot without a collector, with room for every command these tests send.
    settings = {"commands_per_minute": 100, **settings}
    return make_any_bot(client, store, pipeline, clock, None, people, settings)


@pytest.fixture
async def bot(
    bot_client: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock,
    people: dict[str, SimUser],
) -> AsyncIterator[BotService]:  # fmt: skip
    await store.allow_user(people["reader"].id, people["admin"].id, manual_clock.now())
    service = make_bot(bot_client, store, pipeline, manual_clock, people)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def archive(world: World, store: Store, collector: Collector, pipeline: TextPipeline) -> None:
    """A channel whose watched term spikes now: alerts to send, and a chart in each digest."""
    await spike_archive(world, store, collector, pipeline)
    # The collector's pacing left the clock between seconds; the archive stores whole ones.
    world.clock.advance(1 - world.clock.now().microsecond / 1e6)


async def subscribe(store: Store, chat: int, by: SimUser, clock: ManualClock, *,
                    digest: bool = True, alerts: bool = True) -> None:  # fmt: skip
    """A subscription made a day ago, so one digest (08:00 UTC today) is due now."""
    await store.save_subscription(
        chat, digest_time=time(8) if digest else None, timezone="UTC", alerts=alerts,
        by=by.id, now=clock.now() - timedelta(days=1),
    )  # fmt: skip


async def meet(world: World, client: SandboxClient, user: SimUser, group: Any) -> None:
    """Someone writes in the group, so the bot knows it (as after /subscribe there)."""
    world.user_sends(user, group, "привет")
    await client.settle()


def texts(world: World, chat: Any) -> list[str]:
    return [m.text for m in world.outbox(chat)]


def digests(world: World, chat: Any) -> list[str]:
    return [t for t in texts(world, chat) if t.startswith("📋 Digest")]


def alerts(world: World, chat: Any) -> list[str]:
    return [t for t in texts(world, chat) if t.startswith("🚨 Alert")]


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        ("CHAT_SEND_PLAIN_FORBIDDEN", "ChatSendPlainForbidden"),
        ("CHAT_RESTRICTED", "ChatRestricted"),
        ("TOPIC_CLOSED", "TOPIC_CLOSED"),
    ],
)
async def test_a_failing_group_before_private_subscribers_does_not_stop_them(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser], archive: None, error: str,
    recorded: str,
) -> None:  # fmt: skip
    admin, reader = people["admin"], people["reader"]
    group = world.add_supergroup("Штаб", [admin])
    await meet(world, bot_client, admin, group)
    world.refuse_sends(group, error)
    assert peer_id(group) < min(reader.id, admin.id)  # the group comes first
    for chat, by in ((peer_id(group), admin), (reader.id, reader), (admin.id, admin)):
        await subscribe(store, chat, by, manual_clock)

    assert await bot.delivery.check_alerts() >= 2
    assert await bot.delivery.send_due_digests() == 2
    for user in (reader, admin):
        assert alerts(world, user) and len(digests(world, user)) == 1
        assert [m.file is not None for m in world.outbox(user)][-1]  # the chart came last
    assert world.outbox(group) == []
    failing = await store.subscription(peer_id(group))
    assert failing is not None and failing.active
    assert (failing.failures, failing.last_error) == (1, recorded)  # tried once: it rests
    assert failing.retry_at == manual_clock.now() + timedelta(minutes=5)
    served = await store.subscription(reader.id)
    assert served is not None and served.last_delivery_at == manual_clock.now()


async def test_a_group_the_bots_session_never_saw_is_a_failure_of_that_chat_only(
    world: World, bot: BotService, store: Store, manual_clock: ManualClock,
    people: dict[str, SimUser],
) -> None:  # fmt: skip
    """Telethon cannot address a peer it has no access hash for (a session file restored
    from an old backup): it raises ValueError before asking Telegram."""
    reader = people["reader"]
    group = world.add_supergroup("Штаб", [people["admin"]])
    await subscribe(store, peer_id(group), people["admin"], manual_clock, alerts=False)
    await subscribe(store, reader.id, reader, manual_clock, alerts=False)
    assert await bot.delivery.send_due_digests() == 1 and len(digests(world, reader)) == 1
    failing = await store.subscription(peer_id(group))
    assert failing is not None and failing.last_error == "unknown to the bot's session"


async def test_a_chat_that_keeps_failing_rests_longer_each_time_then_is_stopped(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser],
) -> None:  # fmt: skip
    admin = people["admin"]
    group = world.add_supergroup("Штаб", [admin])
    await meet(world, bot_client, admin, group)
    await subscribe(store, peer_id(group), admin, manual_clock, alerts=False)
    world.refuse_sends(group, "TOPIC_CLOSED")
    rests = []
    for _ in range(8):
        before = world.requests.count("SendMessageRequest")
        assert await bot.delivery.send_due_digests() == 0
        assert world.requests.count("SendMessageRequest") == before + 1
        chat = await store.subscription(peer_id(group))
        assert chat is not None and chat.retry_at is not None
        if not chat.active:
            break
        rests.append(chat.retry_at - manual_clock.now())
        manual_clock.advance((chat.retry_at - manual_clock.now()).total_seconds() - 1)
        assert await bot.delivery.send_due_digests() == 0  # resting: not tried
        assert world.requests.count("SendMessageRequest") == before + 1
        manual_clock.advance(1)
    assert rests == [timedelta(minutes=5 * 2**n) for n in range(6)] + [
        timedelta(hours=5, minutes=20)
    ]
    assert chat is not None and not chat.active
    assert chat.inactive_reason == "TOPIC_CLOSED, 8 failures in a row"
    manual_clock.advance(86_400)
    before = world.requests.count("SendMessageRequest")
    await bot.delivery.send_due_digests()
    assert world.requests.count("SendMessageRequest") == before  # no longer served

    [status] = await say(world, bot_client, admin, "/status")
    assert (
        f"Chats no longer served: 1: {peer_id(group)} (TOPIC_CLOSED, 8 failures in a row)" in status
    )
    [listing] = await say(world, bot_client, admin, "/subscriptions")
    assert "<b>stopped</b>: TOPIC_CLOSED, 8 failures in a row" in listing
    assert "last error TOPIC_CLOSED" in listing and "(8 in a row)" in listing


async def test_status_names_a_chat_that_is_failing_now(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser],
) -> None:  # fmt: skip
    admin = people["admin"]
    group = world.add_group("Штаб", [admin])
    await meet(world, bot_client, admin, group)
    await subscribe(store, peer_id(group), admin, manual_clock, alerts=False)
    world.refuse_sends(group, "CHAT_SEND_PLAIN_FORBIDDEN")
    await bot.delivery.send_due_digests()
    [status] = await say(world, bot_client, admin, "/status")
    assert f"Chats failing: 1: {peer_id(group)} (ChatSendPlainForbidden, 1 in a row)\n" in status
    assert "Chats no longer served: 0." in status


@pytest.mark.parametrize("wait", [5, 600])
async def test_a_digest_whose_chart_met_a_flood_wait_is_completed_not_restarted(
    world: World, bot: BotService, store: Store, manual_clock: ManualClock,
    people: dict[str, SimUser], archive: None, wait: int,
) -> None:  # fmt: skip
    reader = people["reader"]
    await subscribe(store, reader.id, reader, manual_clock, alerts=False)
    world.refuse_sends(reader, f"FLOOD_WAIT_{wait}", "SendMediaRequest", times=1)
    slept = len(manual_clock.slept)
    completed = await bot.delivery.send_due_digests()
    if wait > 60:  # too long to sit out: the chart waits for the next run
        assert completed == 0 and manual_clock.slept[slept:] == []
        assert [m.file for m in world.outbox(reader)] == [None] * len(world.outbox(reader))
        manual_clock.advance(wait)
        completed = await bot.delivery.send_due_digests()
    else:  # sat out on the clock, not in real time
        assert manual_clock.slept[slept:] == [wait]
    assert completed == 1
    sent = world.outbox(reader)
    assert sent[-1].file is not None and sent[-1].text.startswith("Трамп:")
    assert len({m.text for m in sent}) == len(sent)  # nothing sent twice
    assert [m.file is None for m in sent].count(False) == 1
    assert len(digests(world, reader)) == 1
    chat = await store.subscription(reader.id)
    assert chat is not None and chat.failures == 0  # a flood wait is no fault of the chat
    assert await bot.delivery.send_due_digests() == 0 and world.outbox(reader) == sent


async def test_an_interrupted_digest_is_finished_with_the_parts_it_began_with(
    world: World, bot: BotService, store: Store, manual_clock: ManualClock,
    people: dict[str, SimUser], archive: None, pipeline: TextPipeline,
) -> None:  # fmt: skip
    reader = people["reader"]
    await subscribe(store, reader.id, reader, manual_clock, alerts=False)
    world.refuse_sends(reader, "CHAT_RESTRICTED", "SendMediaRequest", times=1)
    assert await bot.delivery.send_due_digests() == 0
    begun = texts(world, reader)
    # Meanwhile another term is watched: the digest goes on as it began.
    await add_term(store, pipeline, "Байден", [], None, "test", manual_clock.now())
    manual_clock.advance(300)
    assert await bot.delivery.send_due_digests() == 1
    assert texts(world, reader)[: len(begun)] == begun
    [chart] = world.outbox(reader)[len(begun) :]
    assert chart.file is not None and chart.text.startswith("Трамп:")


async def deny_or_drop(world: World, client: SandboxClient, store: Store, admin: SimUser,
                       user: SimUser, how: str) -> list[str]:  # fmt: skip
    if how == "/deny":
        return await say(world, client, admin, f"/deny {user.id}")
    await store.deny_user(user.id)  # taken off the list some other way: delivery checks
    return []


@pytest.mark.parametrize("how", ["/deny", "list"])
async def test_a_denied_user_gets_nothing_nor_a_group_they_subscribed(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser], archive: None, how: str,
) -> None:  # fmt: skip
    admin, reader = people["admin"], people["reader"]
    theirs: SimGroup = world.add_group("Читатели", [reader], [reader])
    ours: SimChannel = world.add_supergroup("Штаб", [admin, reader], [admin])
    for command, chat in (("/subscribe 08:00 UTC", None), ("/alerts on", None),
                          ("/subscribe 08:00 UTC", theirs), ("/alerts on", theirs)):  # fmt: skip
        assert await say(world, bot_client, reader, command, chat)
    for command in ("/subscribe 08:00 UTC", "/alerts on"):
        assert await say(world, bot_client, admin, command, ours)
    before = {c.id: len(world.outbox(c)) for c in (reader, theirs, ours)}

    answers = await deny_or_drop(world, bot_client, store, admin, reader, how)
    assert await bot.delivery.check_alerts() >= 1
    manual_clock.advance(86_400)  # tomorrow's digest is due
    assert await bot.delivery.send_due_digests() == 1

    assert len(world.outbox(reader)) == before[reader.id]
    assert len(world.outbox(theirs)) == before[theirs.id]
    assert len(digests(world, ours)) == 1 and alerts(world, ours)
    for chat in (reader.id, peer_id(theirs)):
        stopped = await store.subscription(chat)
        assert stopped is not None and not stopped.active
        assert (
            stopped.inactive_reason == f"subscribed by {reader.id}, who may no longer use the bot"
        )
    if how == "/deny":
        assert answers == [
            f"{reader.id} may no longer use the bot; digests and alerts stopped in chats "
            f"{peer_id(theirs)}, {reader.id}."
        ]


async def test_a_group_stays_served_for_the_admin_who_subscribed_it_last(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser], archive: None,
) -> None:  # fmt: skip
    """Turning something off does not change who a chat is served for; turning on does."""
    admin, reader = people["admin"], people["reader"]
    group = world.add_supergroup("Штаб", [admin, reader], [admin, reader])
    await say(world, bot_client, reader, "/subscribe 08:00 UTC", group)
    await say(world, bot_client, admin, "/alerts off", group)  # off: still the reader's
    row = await store.subscription(peer_id(group))
    assert row is not None and row.subscribed_by == reader.id
    await say(world, bot_client, admin, "/subscribe 08:00 UTC", group)  # on: now the admin's
    manual_clock.advance(86_400)
    await store.deny_user(reader.id)
    assert await bot.delivery.send_due_digests() == 1 and len(digests(world, group)) == 1


async def test_with_open_access_anyones_group_stays_served(
    world: World, bot_client: SandboxClient, store: Store, pipeline: TextPipeline,
    manual_clock: ManualClock, people: dict[str, SimUser], archive: None,
) -> None:  # fmt: skip
    stranger, admin = people["stranger"], people["admin"]
    group = world.add_group("Все", [stranger], [stranger])
    service = make_bot(bot_client, store, pipeline, manual_clock, people, access="open")
    await service.start()
    await say(world, bot_client, stranger, "/subscribe 08:00 UTC", group)
    [denied] = await say(world, bot_client, admin, f"/deny {stranger.id}")
    assert denied == f"{stranger.id} may no longer use the bot (was not on the list)."
    manual_clock.advance(86_400)
    assert await service.delivery.send_due_digests() == 1 and len(digests(world, group)) == 1
    await service.stop()


async def test_subscriptions_and_unsubscribe_chat_id_are_for_admins(
    world: World, bot_client: SandboxClient, bot: BotService, store: Store,
    manual_clock: ManualClock, people: dict[str, SimUser],
) -> None:  # fmt: skip
    admin, reader = people["admin"], people["reader"]
    group = world.add_supergroup("Штаб", [reader], [reader])
    await say(world, bot_client, reader, "/subscribe 09:30 Europe/Moscow", group)
    await say(world, bot_client, reader, "/alerts on")
    assert await say(world, bot_client, reader, "/subscriptions") == [
        "Only administrators can use /subscriptions."
    ]
    assert await say(world, bot_client, reader, f"/unsubscribe {peer_id(group)}") == [
        "Only administrators can use /unsubscribe CHAT_ID."
    ]
    [listing] = await say(world, bot_client, admin, "/subscriptions")
    assert listing.startswith("<b>📬 Subscribed chats: 2</b>")
    assert (
        f"✅ <code>{peer_id(group)}</code>: digest 09:30 Europe/Moscow · subscribed by "
        f"<code>{reader.id}</code> on 20 Nov 2024 12:00 · last delivery none yet" in listing
    )
    assert (
        f"✅ <code>{reader.id}</code>: alerts · subscribed by <code>{reader.id}</code>" in listing
    )

    for bad in ("/unsubscribe @stan", "/unsubscribe -", "/unsubscribe 1" + "0" * 30):
        [answer] = await say(world, bot_client, admin, bad)
        assert answer.startswith("Say /unsubscribe CHAT_ID with a chat id from /subscriptions")
    [unknown] = await say(world, bot_client, admin, "/unsubscribe -42")
    assert unknown == "Chat -42 receives nothing; /subscriptions lists those that do."
    [done] = await say(world, bot_client, admin, f"/unsubscribe {peer_id(group)}")
    assert done == f"Chat {peer_id(group)} receives no more digests or alerts."
    stopped = await store.subscription(peer_id(group))
    assert stopped is not None and not stopped.active
    manual_clock.advance(86_400)
    assert await bot.delivery.send_due_digests() == 0 and world.outbox(group)[-1].text.startswith(
        "Daily digest"
    )
    [listing] = await say(world, bot_client, admin, "/subscriptions")
    assert f"<b>stopped</b>: unsubscribed by administrator {admin.id}" in listing
    [help_text] = await say(world, bot_client, admin, "/help")
    assert "/subscriptions, /unsubscribe CHAT_ID" in help_text
    [help_text] = await say(world, bot_client, reader, "/help")
    assert "/subscriptions" not in help_text

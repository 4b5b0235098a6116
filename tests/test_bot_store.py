"""The bot's records in a real SQLite: access, subscriptions, digest progress, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from monitor.store import DigestPart, Store, base
from monitor.store.base import to_db
from monitor.store.schema import MIGRATIONS

NOW = datetime(2024, 11, 6, 9, tzinfo=UTC)


async def test_allow_and_deny(store: Store) -> None:
    assert await store.allow_user(42, 1, NOW) is True
    assert await store.allow_user(42, 1, NOW) is False
    assert await store.allowed_users() == {42}
    assert await store.deny_user(42) is True and await store.deny_user(42) is False
    assert await store.allowed_users() == set()


async def test_subscriptions_keep_their_start_and_come_back_after_deactivation(
    store: Store,
) -> None:
    await store.save_subscription(
        -100, digest_time=time(8), timezone="Europe/Moscow", alerts=False, by=1, now=NOW
    )
    later = NOW + timedelta(days=2)
    await store.save_subscription(
        -100, digest_time=time(9, 30), timezone="UTC", alerts=True, by=1, now=later
    )
    sub = await store.subscription(-100)
    assert sub is not None and sub.digest_time == time(9, 30) and sub.alerts and sub.since == NOW
    await store.deactivate_chat(-100, "blocked the bot", later)
    assert await store.subscriptions() == []
    inactive = await store.subscription(-100)
    assert (
        inactive is not None
        and not inactive.active
        and inactive.inactive_reason == "blocked the bot"
    )
    await store.save_subscription(
        -100, digest_time=time(8), timezone="UTC", alerts=False, by=1, now=later
    )
    again = await store.subscription(-100)
    assert again is not None and again.active and again.since == later  # no backlog after a block
    await store.save_subscription(
        -100, digest_time=None, timezone="UTC", alerts=False, by=1, now=later
    )
    assert await store.subscriptions() == []


async def test_digest_progress_part_by_part(store: Store) -> None:
    start, end = NOW - timedelta(days=1), NOW
    assert await store.digest_progress(7, start) is None and await store.last_digest_end(7) is None
    plan = [DigestPart(html="<b>1</b>"), DigestPart(html="2"), DigestPart(chart_term="Трамп")]
    await store.begin_digest(7, start, end, plan)
    await store.begin_digest(7, start, end, plan[:1])  # a second start keeps the first plan
    await store.digest_part_sent(7, start, 2, NOW)
    progress = await store.digest_progress(7, start)
    assert progress is not None and (progress.parts, progress.parts_sent, progress.completed) == (
        3,
        2,
        False,
    )
    assert progress.plan == tuple(plan)
    # An unfinished digest is not the last one received: the next run resumes it.
    assert await store.last_digest_end(7) is None
    await store.digest_part_sent(7, start, 3, NOW)
    done = await store.digest_progress(7, start)
    assert done is not None and done.completed and await store.last_digest_end(7) == end
    assert done.plan == ()  # let go once delivered


async def test_alerts_sent_and_held(store: Store) -> None:
    await store.record_alert(7, "spike:трамп:1", "text a", NOW, NOW)
    await store.record_alert(7, "spike:нато:1", "text b", NOW, None)
    assert await store.alerts_sent_since(7, NOW - timedelta(hours=1)) == [("spike:трамп:1", NOW)]
    [held] = await store.held_alerts(7)
    assert held.text == "text b" and await store.is_alert_held(7, "spike:нато:1")
    await store.mark_alert_sent(held.id, NOW + timedelta(hours=1))
    assert await store.held_alerts(7) == [] and not await store.is_alert_held(7, "spike:нато:1")


async def test_saved_searches_and_state(store: Store) -> None:
    search_id = await store.save_search(-5, 42, "Трамп", NOW)
    assert await store.saved_search(search_id) == (-5, 42, "Трамп")
    assert await store.saved_search(search_id + 1) is None
    assert await store.bot_state("last_digest") is None
    await store.set_bot_state("last_digest", "x")
    await store.set_bot_state("last_digest", "y")
    assert await store.bot_state("last_digest") == "y"


async def test_who_a_chat_is_served_for_changes_only_when_something_is_turned_on(
    store: Store,
) -> None:
    await store.save_subscription(
        -100, digest_time=time(8), timezone="UTC", alerts=False, by=5, now=NOW
    )
    later = NOW + timedelta(hours=1)
    await store.save_subscription(
        -100, digest_time=time(8), timezone="UTC", alerts=False, by=6, now=later, subscribing=False
    )
    kept = await store.subscription(-100)
    assert kept is not None and (kept.subscribed_by, kept.subscribed_at) == (5, NOW)
    await store.save_subscription(
        -100, digest_time=time(8), timezone="UTC", alerts=True, by=6, now=later
    )
    taken = await store.subscription(-100)
    assert taken is not None and (taken.subscribed_by, taken.subscribed_at) == (6, later)


async def test_failures_in_a_row_are_counted_until_a_delivery_or_a_new_subscription(
    store: Store,
) -> None:
    await store.save_subscription(
        -100, digest_time=None, timezone="UTC", alerts=True, by=5, now=NOW
    )
    assert await store.delivery_failed(-100, "TOPIC_CLOSED", NOW) == 1
    assert await store.delivery_failed(-100, "CHAT_RESTRICTED", NOW) == 2
    await store.retry_chat_at(-100, NOW + timedelta(minutes=10))
    failing = await store.subscription(-100)
    assert failing is not None
    assert (failing.failures, failing.last_error, failing.last_error_at, failing.retry_at) == (
        2, "CHAT_RESTRICTED", NOW, NOW + timedelta(minutes=10),
    )  # fmt: skip
    await store.delivered(-100, NOW + timedelta(minutes=10))
    served = await store.subscription(-100)
    assert served is not None and (served.failures, served.retry_at) == (0, None)
    assert served.last_delivery_at == NOW + timedelta(minutes=10)
    assert served.last_error == "CHAT_RESTRICTED"  # kept for /subscriptions
    await store.delivery_failed(-100, "TOPIC_CLOSED", NOW)
    await store.save_subscription(
        -100, digest_time=None, timezone="UTC", alerts=True, by=5, now=NOW
    )
    again = await store.subscription(-100)
    assert again is not None and again.failures == 0  # subscribed again: a fresh start
    assert await store.delivery_failed(-999, "TOPIC_CLOSED", NOW) == 0  # no such chat


async def test_a_users_private_chat_and_the_chats_they_subscribed_end_together(
    store: Store,
) -> None:
    for chat, by in ((5, 5), (-100, 5), (-200, 6), (6, 6)):
        await store.save_subscription(
            chat, digest_time=time(8), timezone="UTC", alerts=False, by=by, now=NOW
        )
    assert await store.end_subscriptions_of(5, "denied", NOW) == [-100, 5]
    assert [s.chat_id for s in await store.subscriptions()] == [-200, 6]
    assert await store.end_subscriptions_of(5, "denied", NOW) == []  # ended already
    assert [(s.chat_id, s.active) for s in await store.all_subscriptions()] == [
        (-200, True), (-100, False), (5, False), (6, True),
    ]  # fmt: skip


async def test_migration_8_keeps_who_changed_a_subscription_and_counts_old_digests_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    before = tuple(m for m in MIGRATIONS if m.version < 8)
    monkeypatch.setattr(base, "MIGRATIONS", before)
    monkeypatch.setattr(base, "LATEST_VERSION", before[-1].version)
    async with await Store.open(path) as old, old.write() as db:
        await db.execute(
            "INSERT INTO subscriptions (chat_id, digest_time, timezone, alerts, since, "
            "updated_by, updated_at) VALUES (-100, '08:00', 'UTC', 1, ?, 42, ?)",
            (to_db(NOW), to_db(NOW + timedelta(hours=1))),
        )
        await db.execute(
            "INSERT INTO digests_sent (chat_id, period_start, period_end, parts, parts_sent) "
            "VALUES (-100, ?, ?, 3, 1)",
            (to_db(NOW - timedelta(days=1)), to_db(NOW)),
        )
    monkeypatch.undo()
    async with await Store.open(path) as store:
        sub = await store.subscription(-100)
        assert sub is not None
        assert (sub.subscribed_by, sub.subscribed_at) == (42, NOW + timedelta(hours=1))
        assert (sub.failures, sub.retry_at, sub.last_delivery_at) == (0, None, None)
        assert await store.last_digest_end(-100) == NOW  # not begun again without its parts

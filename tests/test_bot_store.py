"""The bot's records in a real SQLite: access, subscriptions, digest progress, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from monitor.store import DigestPart, Store

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

"""Collection health, table by table: the judgement is a pure function of the figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.health import channel_health, health_by_channel
from monitor.ingest import ingest
from monitor.models import Channel, ChannelInfo
from monitor.store import Store
from monitor.text import TextPipeline
from tests.conftest import make_post

NOW = datetime(2024, 11, 20, 12, tzinfo=UTC)
BASE = Channel(
    id=1,
    title="Канал",
    username="chan",
    added_at=NOW - timedelta(days=90),
    added_by="cli",
    active=True,
)
FIRST = NOW - timedelta(days=90)


@pytest.mark.parametrize(
    ("channel", "hours_since_last_post", "posts_in_28_days", "state"),
    [
        (BASE, 2, 56, "ok"),  # two a day, posted two hours ago
        (BASE, 59, 56, "ok"),  # usual gap 12 h: silent only after 60 h
        (BASE, 61, 56, "silent"),
        (BASE, 23, 2800, "ok"),  # a hundred a day: the one-day floor still applies
        (BASE, 25, 2800, "silent"),
        (BASE, 500, 3, "ok"),  # too few posts to have a norm
        (replace(BASE, active=False), 500, 56, "imported, not followed"),  # silence is not news
        (replace(BASE, active=False, backfill_state="done"), 500, 56, "not followed"),  # removed
        (replace(BASE, state="inaccessible", last_error="private"), 500, 56, "inaccessible"),
        (replace(BASE, state="gone"), 1, 56, "gone"),
        (replace(BASE, state="renamed", last_error="renamed", last_error_at=NOW - timedelta(days=2)), 1, 56, "renamed"),
        (replace(BASE, state="renamed", last_error="renamed", last_error_at=NOW - timedelta(days=8)), 1, 56, "ok"),
    ],
)  # fmt: skip
def test_channel_health(
    channel: Channel, hours_since_last_post: float, posts_in_28_days: int, state: str
) -> None:
    health = channel_health(
        channel, FIRST, NOW - timedelta(hours=hours_since_last_post), posts_in_28_days, NOW
    )
    assert health.state == state
    if channel.active:
        assert health.posts_per_day == round(posts_in_28_days / 28, 2)


def test_a_channel_that_never_posted_is_not_silent() -> None:
    assert channel_health(BASE, None, None, 0, NOW).state == "ok"


IMPORTED = replace(BASE, active=False, added_by="import")


@pytest.mark.parametrize(
    ("channel", "first", "last", "posts_in_window", "state", "per_day"),
    [
        # An export of 280 posts over 10 days that ended 40 days ago: 28 a day over its own
        # span, not 0.0 as measured from today.
        (IMPORTED, NOW - timedelta(days=50), NOW - timedelta(days=40), 280, "imported, not followed", 28),
        # A long export: the rate is its last 28 days'.
        (IMPORTED, NOW - timedelta(days=400), NOW - timedelta(days=100), 56, "imported, not followed", 2),
        # Its first three posts, an hour apart: a day is the shortest span a rate is taken over.
        (IMPORTED, NOW - timedelta(hours=3), NOW - timedelta(hours=1), 3, "imported, not followed", 3),
        (IMPORTED, None, None, 0, "imported, not followed", 0),
        # Followed for 7 days: its rate is over those 7 days, and its silence is judged by them.
        (BASE, NOW - timedelta(days=7), NOW - timedelta(hours=2), 70, "ok", 10),
        (BASE, NOW - timedelta(days=7), NOW - timedelta(hours=25), 70, "silent", 10),
    ],
)  # fmt: skip
def test_the_rate_is_measured_over_the_channels_own_span(
    channel: Channel,
    first: datetime | None,
    last: datetime | None,
    posts_in_window: int,
    state: str,
    per_day: float,
) -> None:
    health = channel_health(channel, first, last, posts_in_window, NOW)
    assert (health.state, health.posts_per_day, health.last_post) == (state, per_day, last)


async def test_health_counts_each_channel_over_its_own_window(
    store: Store, pipeline: TextPipeline
) -> None:
    ended = NOW - timedelta(days=40)
    await store.save_imported_channel(ChannelInfo(1, "Архив", "old_export"), NOW)
    await store.save_channel(ChannelInfo(2, "Живой", "followed"), "cli", NOW, active=True)
    old = [make_post(n + 1, f"пост {n}", 1, date=ended - timedelta(hours=n)) for n in range(49)]
    new = [make_post(n, f"пост {n}", 2, date=NOW - timedelta(days=n)) for n in range(1, 15)]
    await ingest(store, pipeline, 1, old, NOW)
    await ingest(store, pipeline, 2, new, NOW)
    health = await health_by_channel(store, NOW)
    # 49 posts an hour apart, the last 40 days ago: 24.5 a day over its two archived days.
    assert health[1].state == "imported, not followed" and health[1].posts_per_day == 24.5
    assert health[1].last_post == ended
    assert health[2].state == "ok" and health[2].posts_per_day == 1

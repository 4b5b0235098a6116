"""Collection health, table by table: the judgement is a pure function of the figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.health import channel_health
from monitor.models import Channel

NOW = datetime(2024, 11, 20, 12, tzinfo=UTC)
BASE = Channel(
    id=1,
    title="Канал",
    username="chan",
    added_at=NOW - timedelta(days=90),
    added_by="cli",
    active=True,
)


@pytest.mark.parametrize(
    ("channel", "hours_since_last_post", "posts_in_28_days", "state"),
    [
        (BASE, 2, 56, "ok"),  # two a day, posted two hours ago
        (BASE, 59, 56, "ok"),  # usual gap 12 h: silent only after 60 h
        (BASE, 61, 56, "silent"),
        (BASE, 23, 2800, "ok"),  # a hundred a day: the one-day floor still applies
        (BASE, 25, 2800, "silent"),
        (BASE, 500, 3, "ok"),  # too few posts to have a norm
        (replace(BASE, active=False), 500, 56, "ok"),  # not followed: silence is not news
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
        channel, NOW - timedelta(hours=hours_since_last_post), posts_in_28_days, NOW
    )
    assert health.state == state
    assert health.posts_per_day == round(posts_in_28_days / 28, 2)


def test_a_channel_that_never_posted_is_not_silent() -> None:
    assert channel_health(BASE, None, 0, NOW).state == "ok"

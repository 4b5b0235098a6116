"""Collection health of a channel, judged from what the archive knows. Pure: `now` is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.models import Channel
from monitor.store import Store

NORM_WINDOW = timedelta(days=28)
RENAME_SHOWN_FOR = timedelta(days=7)
SILENT_FACTOR = 5  # silent: no post for five of its usual gaps between posts ...
SILENT_FLOOR = timedelta(hours=24)  # ... and at least a day
MIN_POSTS_FOR_A_NORM = 4


@dataclass(frozen=True)
class Health:
    state: str  # ok, silent, renamed, inaccessible, gone
    last_post: datetime | None
    posts_per_day: float
    last_error: str | None
    last_read_at: datetime | None


def channel_health(
    channel: Channel, last_post: datetime | None, posts_in_window: int, now: datetime
) -> Health:
    rate = posts_in_window / (NORM_WINDOW / timedelta(days=1))
    state = channel.state
    error = channel.last_error
    if state == "renamed" and (
        channel.last_error_at is None or now - channel.last_error_at > RENAME_SHOWN_FOR
    ):
        state, error = "ok", None  # a rename is news for a week, then just the channel's name
    if state == "ok" and channel.active and posts_in_window >= MIN_POSTS_FOR_A_NORM and last_post:
        usual_gap = NORM_WINDOW / posts_in_window
        if now - last_post > max(SILENT_FLOOR, usual_gap * SILENT_FACTOR):
            state = "silent"
    return Health(state, last_post, round(rate, 2), error, channel.last_read_at)


async def health_by_channel(store: Store, now: datetime) -> dict[int, Health]:
    """Every archived channel's health: the figures from the store, the judgement above."""
    figures = await store.health_figures(now - NORM_WINDOW)
    return {
        channel.id: channel_health(channel, *figures.get(channel.id, (None, 0)), now)
        for channel in await store.channels()
    }


def health_json(health: Health) -> dict[str, object]:
    return {
        "state": health.state,
        "last_post": health.last_post.isoformat() if health.last_post else None,
        "posts_per_day": health.posts_per_day,
        "last_error": health.last_error,
        "last_read_at": health.last_read_at.isoformat() if health.last_read_at else None,
    }

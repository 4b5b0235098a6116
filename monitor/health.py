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
# A rate is never taken over less than a day: three posts in its first hour are not 72 a day.
SHORTEST_SPAN = timedelta(days=1)
# Channels the collector does not read: an export brought their posts (the collector never
# followed them), or they were followed and then removed.
IMPORTED = "imported, not followed"
UNFOLLOWED = "not followed"
NOT_FOLLOWED = (IMPORTED, UNFOLLOWED)


@dataclass(frozen=True)
class Health:
    # ok, silent, renamed, inaccessible, gone, imported, not followed, or not followed
    state: str
    last_post: datetime | None
    posts_per_day: float
    last_error: str | None
    last_read_at: datetime | None


def norm_window(
    channel: Channel, first_post: datetime | None, last_post: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The span a channel's usual rate is measured over: its last NORM_WINDOW, within its own
    archived span. A followed channel's span runs to now (its silence counts); one the
    collector does not read ends at its last archived post, however long ago that was."""
    end = now if channel.active or last_post is None else last_post
    start = max(end - NORM_WINDOW, first_post or end)
    return start, end


def channel_health(
    channel: Channel,
    first_post: datetime | None,
    last_post: datetime | None,
    posts_in_window: int,
    now: datetime,
) -> Health:
    """`posts_in_window`: the channel's posts since the start of its `norm_window`."""
    start, end = norm_window(channel, first_post, last_post, now)
    span = max(end - start, SHORTEST_SPAN)
    rate = posts_in_window / (span / timedelta(days=1))
    state = channel.state
    error = channel.last_error
    if state == "renamed" and (
        channel.last_error_at is None or now - channel.last_error_at > RENAME_SHOWN_FOR
    ):
        state, error = "ok", None  # a rename is news for a week, then just the channel's name
    if state == "ok" and not channel.active:
        state = IMPORTED if channel.backfill_state == "none" else UNFOLLOWED
    if state == "ok" and posts_in_window >= MIN_POSTS_FOR_A_NORM and last_post:
        usual_gap = span / posts_in_window
        if now - last_post > max(SILENT_FLOOR, usual_gap * SILENT_FACTOR):
            state = "silent"
    return Health(state, last_post, round(rate, 2), error, channel.last_read_at)


async def health_by_channel(store: Store, now: datetime) -> dict[int, Health]:
    """Every archived channel's health: the figures from the store, the judgement above."""
    channels = await store.channels()
    spans = await store.post_spans()
    starts = {c.id: norm_window(c, *spans.get(c.id, (None, None)), now)[0] for c in channels}
    counts = await store.posts_since(starts)
    return {
        c.id: channel_health(c, *spans.get(c.id, (None, None)), counts[c.id], now) for c in channels
    }


def following(active: bool, state: str) -> str:
    """Whether the collector follows a channel and how that goes, in the words `channels list`
    and /channels both use."""
    if active:
        return "following" if state == "ok" else f"following, {state}"
    return state if state in NOT_FOLLOWED else f"{UNFOLLOWED}, {state}"


def health_json(health: Health) -> dict[str, object]:
    return {
        "state": health.state,
        "last_post": health.last_post.isoformat() if health.last_post else None,
        "posts_per_day": health.posts_per_day,
        "last_error": health.last_error,
        "last_read_at": health.last_read_at.isoformat() if health.last_read_at else None,
    }

"""Search as the command line and the bot use it: parse, resolve channels, run, highlight."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from monitor.models import SearchHit
from monitor.refs import parse_channel_ref
from monitor.search.query import ParsedQuery, QueryError, parse_query
from monitor.search.snippet import snippet_segments
from monitor.store import Keyset, SearchOrder, Store, TimeBudget
from monitor.text import TextPipeline


@dataclass(frozen=True)
class SearchResult:
    query: ParsedQuery
    hits: list[SearchHit]
    has_more: bool


async def resolve_channel_ids(store: Store, refs: Sequence[str]) -> list[int]:
    """Archived channel ids for references; QueryError naming the first unknown one."""
    ids: list[int] = []
    for text in refs:
        try:
            ref = parse_channel_ref(text)
        except ValueError as error:
            raise QueryError(str(error)) from None
        channel = await store.channel_by_ref(ref)
        if channel is None:
            raise QueryError(f"No archived channel is called {ref}.")
        ids.append(channel.id)
    return ids


def day_start(day: date, zone: tzinfo = UTC) -> datetime:
    """Midnight of `day` in the reader's time zone, as a UTC instant; at the ends of the
    calendar (since:0001-01-01 east of UTC) the first or last instant a datetime holds."""
    try:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return (datetime.min if day.year == date.min.year else datetime.max).replace(tzinfo=UTC)


def day_end(day: date, zone: tzinfo = UTC) -> datetime:
    """When `day` ends in the reader's time zone (the next midnight), as a UTC instant."""
    if day == date.max:  # there is no next day to start
        return datetime.max.replace(tzinfo=UTC)
    return day_start(day + timedelta(days=1), zone)


async def search(
    store: Store,
    pipeline: TextPipeline,
    text: str,
    *,
    channels: Sequence[str] = (),
    since: date | None = None,
    until: date | None = None,
    order: SearchOrder = "relevance",
    limit: int = 20,
    after: Keyset | None = None,
    budget: TimeBudget | None = None,
    zone: tzinfo = UTC,
) -> SearchResult:
    """Raise QueryError (one sentence) for a query that cannot be searched, SearchTimeout
    for one that ran past `budget`. In date order, `after` continues from a page's last
    post."""
    parsed = parse_query(text, pipeline)
    channel_ids = await resolve_channel_ids(store, [*parsed.channels, *channels])
    since = since or parsed.since
    until = until or parsed.until
    posts = await store.search_posts(
        parsed.fts(),
        channel_ids=channel_ids or None,
        since=day_start(since, zone) if since else None,
        until=day_end(until, zone) if until else None,
        order=order,
        limit=limit + 1,
        after=after,
        budget=budget,
    )
    terms = parsed.highlight_terms
    hits = [
        SearchHit(post, tuple(snippet_segments(post.text, pipeline.tokens(post.text), terms)))
        for post in posts[:limit]
    ]
    return SearchResult(parsed, hits, has_more=len(posts) > limit)

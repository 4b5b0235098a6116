"""/search in the bot: five hits a page, newest first, each page continuing after the last
post of the one before it (keyset paging), so a post stored between two presses shifts no
page and a deep page costs what the first does. The bot and the benchmark both call this."""

from __future__ import annotations

from datetime import tzinfo

from monitor.search.service import SearchResult, search
from monitor.store import Keyset, Store, TimeBudget
from monitor.text import TextPipeline

PER_PAGE = 5
# A search (one page) may run this long; past it the bot asks for a narrower query.
SEARCH_SECONDS = 2.0


async def search_page(
    store: Store,
    pipeline: TextPipeline,
    search_id: int,
    query: str,
    page: int,
    zone: tzinfo,
    budget: TimeBudget | None = None,
) -> SearchResult | None:
    """Page `page` (0 first) of the saved search `search_id`, recording where the next one
    begins; None when no page before it was ever shown (a forged or outdated button).
    QueryError and SearchTimeout as `search` raises them."""
    after = await store.search_page_start(search_id, page)
    if after is None and page > 0:
        return None
    result = await search(
        store, pipeline, query, order="date", limit=PER_PAGE, after=after, budget=budget, zone=zone
    )
    if not result.hits:
        return result
    if after is None:
        # The first page begins at its first hit: going back to it later shows the same
        # posts, not the ones stored since (Keyset: the posts after it, so one id above).
        first = result.hits[0].post
        await store.set_search_page_start(search_id, 0, Keyset(first.date, first.id + 1))
    if result.has_more:
        last = result.hits[-1].post
        await store.set_search_page_start(search_id, page + 1, Keyset(last.date, last.id))
    return result

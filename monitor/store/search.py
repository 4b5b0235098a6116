"""Full-text search over the lemma index. The MATCH expression comes from monitor.search,
which quotes every user term; this module only runs it with the filters bound as values.

Searches run on a read-only connection of their own, one at a time: a long one then holds
up neither the collector's writes nor the bot's other reads, and a time budget (SQLite's
progress handler) can stop it without touching any other statement."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from math import isqrt
from pathlib import Path
from typing import Literal, NamedTuple

import aiosqlite

from monitor.models import StoredPost
from monitor.store.base import (
    CACHE_KIB,
    StoreBase,
    StoreError,
    from_db,
    fts_any,
    post_filter,
    to_db,
)

SearchOrder = Literal["relevance", "date"]
# Relevance over an unfiltered query is judged among this many of the most recently stored
# matching posts: ranking costs about a microsecond per match, and a common word matches
# hundreds of thousands in a big archive.
RANK_WINDOW = 5000
# Asking the index whether one post matches costs about as much as reading 50 matching
# posts (20 to 45 µs against 0.7 µs on 200,000 posts): what picks the way a query is
# answered in date order.
PROBE_COST = 50
PROGRESS_STEPS = 1000  # SQLite instructions between looks at a search's clock
COLUMNS = (
    "p.id, p.channel_id, c.username, c.title, p.message_id, p.date, p.text, p.edit_date, "
    "p.deleted_at"
)
FROM_MATCHES = (
    "FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid JOIN channels c ON c.id = p.channel_id"
)
POST_MATCHES = "EXISTS (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ? AND posts_fts.rowid = p.id)"


class Keyset(NamedTuple):
    """A place in date order, newest first: a page continues with the posts after it."""

    date: datetime
    post_id: int


@dataclass(frozen=True)
class TimeBudget:
    """How long one search may run, in seconds of `clock` (a test passes one that jumps)."""

    seconds: float
    clock: Callable[[], float] = time.monotonic


class SearchTimeout(StoreError):
    """A search ran past its time budget and was stopped."""


def _stored_post(row: sqlite3.Row) -> StoredPost:
    date = from_db(row["date"])
    assert date is not None
    return StoredPost(
        id=row["id"],
        channel_id=row["channel_id"],
        channel_username=row["username"],
        channel_title=row["title"],
        message_id=row["message_id"],
        date=date,
        text=row["text"],
        edit_date=from_db(row["edit_date"]),
        deleted_at=from_db(row["deleted_at"]),
    )


class SearchMixin(StoreBase):
    async def search_posts(
        self,
        match: str,
        channel_ids: Sequence[int] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        order: SearchOrder = "relevance",
        limit: int = 20,
        after: Keyset | None = None,
        budget: TimeBudget | None = None,
    ) -> list[StoredPost]:
        """At most `limit` matching posts; in date order, those after `after` (keyset
        paging: a post stored meanwhile shifts no page). SearchTimeout past `budget`."""
        if after is not None and order != "date":
            raise ValueError("only date order pages by keyset")
        filters, values = post_filter(channel_ids, since, until)
        if after is not None:
            filters.append("(p.date, p.id) < (?, ?)")
            values.extend((to_db(after.date), after.post_id))
        try:
            async with self._searching(budget) as db:
                if order == "date" and not channel_ids:
                    rows = await _newest_first(db, match, filters, values, limit)
                else:
                    rows = await _by_index(db, match, channel_ids, filters, values, order, limit)
        except sqlite3.OperationalError as error:
            # The parser only emits quoted terms, so this is a bug, not bad input: say so plainly.
            raise StoreError(f"the search index could not run this query ({error})") from None
        return [_stored_post(row) for row in rows]

    @asynccontextmanager
    async def _searching(self, budget: TimeBudget | None) -> AsyncIterator[aiosqlite.Connection]:
        """The search connection, for one search at a time, its statements interrupted once
        `budget` runs out (SearchTimeout)."""
        async with self._search_lock:
            if str(self.path) == ":memory:":
                # No second connection sees an in-memory archive; searches share the main
                # one there, unbudgeted: a handler on it would stop other statements too.
                yield self._db
                return
            if self._search_db is None:
                self._search_db = await _open_for_search(self.path)
            db = self._search_db
            if budget is None:
                yield db
                return
            deadline = budget.clock() + budget.seconds
            ran_out = False

            def past_deadline() -> bool:  # called by SQLite, on the connection's thread
                nonlocal ran_out
                ran_out = budget.clock() >= deadline
                return ran_out

            await db.set_progress_handler(past_deadline, PROGRESS_STEPS)
            try:
                yield db
            except sqlite3.OperationalError:
                if ran_out:
                    raise SearchTimeout(
                        f"the search ran past its {budget.seconds:g} s budget"
                    ) from None
                raise
            finally:
                # None removes the handler (sqlite3's API; aiosqlite's hint leaves it out).
                await db.set_progress_handler(None, 0)  # type: ignore[arg-type]

    async def daily_mentions(
        self, patterns: Sequence[str], since: datetime, until: datetime
    ) -> list[tuple[int, str, int, float | None]]:
        """(channel id, UTC day, posts, their mean sentiment) for the posts of [since, until)
        holding any of the lemma sequences."""
        rows = await self._db.execute_fetchall(
            "SELECT p.channel_id, substr(p.date, 1, 10), count(*), avg(p.sentiment) "
            "FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid "
            "WHERE posts_fts MATCH ? AND p.date >= ? AND p.date < ? GROUP BY 1, 2",
            (fts_any(patterns), to_db(since), to_db(until)),
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]


async def _open_for_search(path: Path) -> aiosqlite.Connection:
    try:
        db = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path} for searching: {error}") from None
    for pragma in ("busy_timeout = 10000", "query_only = 1", f"cache_size = -{CACHE_KIB:d}"):
        await db.execute(f"PRAGMA {pragma}")
    return db


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[object]) -> list[sqlite3.Row]:
    async with db.execute(sql, params) as cursor:
        cursor.row_factory = sqlite3.Row
        return list(await cursor.fetchall())


async def _by_index(
    db: aiosqlite.Connection,
    match: str,
    channel_ids: Sequence[int] | None,
    filters: list[str],
    values: list[object],
    order: SearchOrder,
    limit: int,
) -> list[sqlite3.Row]:
    """Every match read from the index, filtered, then ordered: the way for relevance, a
    channel filter, and a query few posts match."""
    clauses = ["posts_fts MATCH ?", *filters]
    params: list[object] = [match, *values]
    if channel_ids:
        # The rows a channel filter admits lie between these ids (one run per channel, for
        # an import), and FTS5 reads only that stretch of the index.
        [(lowest, highest)] = await _rows(
            db, f"SELECT min(id), max(id) FROM posts p WHERE {' AND '.join(filters)}", values
        )
        if lowest is None:
            return []
        clauses.append("posts_fts.rowid BETWEEN ? AND ?")
        params.extend((lowest, highest))
    if order == "relevance" and not filters:
        # Walking the index by rowid finds the window's oldest post without ranking.
        oldest = await _rows(
            db,
            "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            (match, RANK_WINDOW - 1),
        )
        if oldest:
            clauses.append("posts_fts.rowid >= ?")
            params.append(oldest[0][0])
    ordering = "posts_fts.rank" if order == "relevance" else "p.date DESC, p.id DESC"
    return await _rows(
        db,
        f"SELECT {COLUMNS} {FROM_MATCHES} WHERE {' AND '.join(clauses)} ORDER BY {ordering} LIMIT ?",
        [*params, limit],
    )


async def _newest_first(
    db: aiosqlite.Connection, match: str, filters: list[str], values: list[object], limit: int
) -> list[sqlite3.Row]:
    """Matches newest first, the cheaper of two ways. Reading every match costs in
    proportion to their number (a common word: most of the archive); walking the posts by
    date and asking the index about each costs in proportion to the posts passed before
    `limit` match. With N posts, a query matching more than sqrt(PROBE_COST * limit * N)
    is walked, a bounded stretch at most (its matches could all be old); any rest is read
    from the index below that stretch."""
    [[total]] = await _rows(db, "SELECT coalesce(max(id), 0) FROM posts", ())
    common = max(isqrt(PROBE_COST * limit * total), 1)
    [[found]] = await _rows(
        db,
        "SELECT count(*) FROM (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ? LIMIT ?)",
        (match, common),
    )
    rows: list[sqlite3.Row] = []
    if found >= common:
        where = " AND ".join(filters) or "1"
        # posts_date holds (date, rowid): the walk reads the index alone until a post matches.
        stretch = 4 * limit * total // common  # four times the walk expected at that share
        end = await _rows(
            db,
            f"SELECT p.date, p.id FROM posts p INDEXED BY posts_date WHERE {where} "
            "ORDER BY p.date DESC, p.id DESC LIMIT 1 OFFSET ?",
            [*values, stretch - 1],
        )
        bound = [*filters, "(p.date, p.id) >= (?, ?)"] if end else filters
        rows = await _rows(
            db,
            f"SELECT {COLUMNS} FROM posts p INDEXED BY posts_date "
            "JOIN channels c ON c.id = p.channel_id "
            f"WHERE {' AND '.join([*bound, POST_MATCHES])} ORDER BY p.date DESC, p.id DESC LIMIT ?",
            [*values, *(end[0] if end else ()), match, limit],
        )
        if len(rows) == limit or not end:
            return rows
        filters = [*filters, "(p.date, p.id) < (?, ?)"]
        values = [*values, *end[0]]
    return rows + await _by_index(db, match, None, filters, values, "date", limit - len(rows))

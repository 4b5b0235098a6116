"""Full-text search over the lemma index. The MATCH expression comes from monitor.search,
which quotes every user term; this module only runs it with the filters bound as values."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from monitor.models import StoredPost
from monitor.store.base import StoreBase, StoreError, from_db, fts_any, post_filter, to_db

SearchOrder = Literal["relevance", "date"]
# Relevance over an unfiltered query is judged among this many of the most recently stored
# matching posts: ranking costs about a microsecond per match, and a common word matches
# hundreds of thousands in a big archive.
RANK_WINDOW = 5000


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
        offset: int = 0,
    ) -> list[StoredPost]:
        filters, values = post_filter(channel_ids, since, until)
        clauses = ["posts_fts MATCH ?", *filters]
        params: list[object] = [match, *values]
        ordering = "posts_fts.rank" if order == "relevance" else "p.date DESC, p.id DESC"
        try:
            if channel_ids:
                # The rows a channel filter admits lie between these ids (one run per
                # channel, for an import), and FTS5 reads only that stretch of the index.
                [(lowest, highest)] = await self._db.execute_fetchall(
                    f"SELECT min(id), max(id) FROM posts p WHERE {' AND '.join(filters)}", values
                )
                if lowest is None:
                    return []
                clauses.append("posts_fts.rowid BETWEEN ? AND ?")
                params.extend((lowest, highest))
            if order == "relevance" and not filters:
                # Walking the index by rowid finds the window's oldest post without ranking.
                oldest = await self._scalar(
                    "SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? "
                    "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                    (match, RANK_WINDOW - 1),
                )
                if oldest is not None:
                    clauses.append("posts_fts.rowid >= ?")
                    params.append(oldest)
            sql = (
                "SELECT p.id, p.channel_id, c.username, c.title, p.message_id, p.date, p.text, "
                "p.edit_date, p.deleted_at FROM posts_fts "
                "JOIN posts p ON p.id = posts_fts.rowid JOIN channels c ON c.id = p.channel_id "
                f"WHERE {' AND '.join(clauses)} ORDER BY {ordering} LIMIT ? OFFSET ?"
            )
            rows = await self._rows(sql, [*params, limit, offset])
        except sqlite3.OperationalError as error:
            # The parser only emits quoted terms, so this is a bug, not bad input: say so plainly.
            raise StoreError(f"the search index could not run this query ({error})") from None
        return [_stored_post(row) for row in rows]

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

"""Reads for the digest: a period's posts with what the detectors need, deletions and edits
seen in it, mentions of watched terms."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from monitor.store.base import StoreBase, from_db, fts_any, placeholders, to_db


@dataclass(frozen=True)
class PeriodPost:
    id: int
    channel_id: int
    message_id: int
    date: datetime
    text: str
    lemmas: str
    sentiment: float | None
    forwarded: bool
    views: int | None
    forwards: int | None
    reactions: int | None


@dataclass(frozen=True)
class EditRecord:
    channel_id: int
    message_id: int
    date: datetime
    edit_date: datetime | None
    old_text: str
    new_text: str


_ID_CHUNK = 5000
T = TypeVar("T")


def evenly(items: Sequence[T], size: int) -> list[T]:
    """At most `size` of `items`, taken at even steps (all of them when there are fewer)."""
    if len(items) <= size:
        return list(items)
    return [items[i * len(items) // size] for i in range(size)]


_PERIOD_COLUMNS = (
    "id, channel_id, message_id, date, text, lemmas, sentiment, "
    "forward_from IS NOT NULL OR forward_from_id IS NOT NULL AS forwarded, views, forwards, reactions"
)


def _period_post(row: sqlite3.Row) -> PeriodPost:
    date = from_db(row["date"])
    assert date is not None
    return PeriodPost(
        row["id"], row["channel_id"], row["message_id"], date, row["text"], row["lemmas"],
        row["sentiment"], bool(row["forwarded"]), row["views"], row["forwards"], row["reactions"],
    )  # fmt: skip


class DigestMixin(StoreBase):
    async def period_posts(
        self, since: datetime, until: datetime, channel_ids: Sequence[int] | None = None
    ) -> AsyncIterator[PeriodPost]:
        where = "p.date >= ? AND p.date < ?"
        params: list[object] = [to_db(since), to_db(until)]
        if channel_ids is not None:
            where += f" AND p.channel_id IN ({placeholders(len(channel_ids))})"
            params.extend(channel_ids)
        async for row in self._stream(
            f"SELECT {_PERIOD_COLUMNS} FROM posts p WHERE {where} ORDER BY p.date", params
        ):
            yield _period_post(row)

    async def posts_per_channel(self, since: datetime, until: datetime) -> dict[int, int]:
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, count(*) FROM posts WHERE date >= ? AND date < ? GROUP BY channel_id",
            (to_db(since), to_db(until)),
        )
        return {row[0]: row[1] for row in rows}

    async def sentiments_by_channel(
        self, since: datetime, until: datetime, per_channel: int
    ) -> dict[int, list[float]]:
        """Each channel's post scores in the range, thinned evenly over time to at most
        `per_channel` (a test's power is bounded by its smaller side, the period)."""
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, sentiment FROM posts INDEXED BY posts_channel_date "
            "WHERE date >= ? AND date < ? AND sentiment IS NOT NULL ORDER BY channel_id, date",
            (to_db(since), to_db(until)),
        )
        by_channel: dict[int, list[float]] = {}
        for channel_id, sentiment in rows:
            by_channel.setdefault(channel_id, []).append(sentiment)
        return {channel: evenly(values, per_channel) for channel, values in by_channel.items()}

    async def sample_posts(
        self, since: datetime, until: datetime, size: int, patterns: Sequence[str] = ()
    ) -> tuple[list[PeriodPost], int]:
        """Up to `size` posts of the range spread evenly over it (all of them when fewer),
        and how many there are; with `patterns`, only posts whose lemmas hold one."""
        bounds = (to_db(since), to_db(until))
        if patterns:
            rows = await self._db.execute_fetchall(
                "SELECT p.id FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid "
                "WHERE posts_fts MATCH ? AND p.date >= ? AND p.date < ? ORDER BY p.date",
                (fts_any(patterns), *bounds),
            )
        else:
            rows = await self._db.execute_fetchall(
                "SELECT id FROM posts WHERE date >= ? AND date < ? ORDER BY date", bounds
            )
        ids = [row[0] for row in rows]
        chosen = evenly(ids, size)
        posts: list[PeriodPost] = []
        for start in range(0, len(chosen), _ID_CHUNK):
            posts += await self._posts_by_id(chosen[start : start + _ID_CHUNK])
        return posts, len(ids)

    async def deleted_between(self, since: datetime, until: datetime) -> list[PeriodPost]:
        rows = await self._rows(
            "SELECT id FROM posts WHERE deleted_at >= ? AND deleted_at < ? ORDER BY deleted_at",
            (to_db(since), to_db(until)),
        )
        ids = [row["id"] for row in rows]
        return await self._posts_by_id(ids)

    async def _posts_by_id(self, ids: list[int]) -> list[PeriodPost]:
        if not ids:
            return []
        rows = await self._rows(
            f"SELECT {_PERIOD_COLUMNS} FROM posts WHERE id IN ({placeholders(len(ids))}) ORDER BY date",
            ids,
        )
        return [_period_post(row) for row in rows]

    async def edits_between(self, since: datetime, until: datetime) -> list[EditRecord]:
        """Text changes first seen in the period, each with the text it replaced."""
        rows = await self._rows(
            """
            SELECT r.channel_id, r.message_id, r.date, r.edit_date, r.text,
                (SELECT o.text FROM post_revisions o WHERE o.channel_id = r.channel_id
                   AND o.message_id = r.message_id AND o.id < r.id ORDER BY o.id DESC LIMIT 1) AS old
            FROM post_revisions r
            WHERE r.seen_at >= ? AND r.seen_at < ? AND EXISTS (
                SELECT 1 FROM post_revisions o WHERE o.channel_id = r.channel_id
                  AND o.message_id = r.message_id AND o.id < r.id)
            ORDER BY r.seen_at
            """,
            (to_db(since), to_db(until)),
        )
        edits = []
        for row in rows:
            if row["old"] == row["text"]:
                continue  # only the edit date changed
            date = from_db(row["date"])
            assert date is not None
            edits.append(
                EditRecord(
                    row["channel_id"],
                    row["message_id"],
                    date,
                    from_db(row["edit_date"]),
                    row["old"],
                    row["text"],
                )
            )
        return edits

    async def term_counts(
        self, term_id: int, since: datetime, until: datetime
    ) -> dict[tuple[int, str], int]:
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, day, count FROM watch_counts WHERE term_id = ? AND day >= ? AND day < ?",
            (term_id, (to_db(since) or "")[:10], (to_db(until) or "")[:10]),
        )
        return {(row[0], row[1]): row[2] for row in rows}

    async def mentions(
        self, patterns: Sequence[str], since: datetime, until: datetime,
        channel_id: int | None = None, limit: int = 3,
    ) -> list[PeriodPost]:  # fmt: skip
        """Posts of the period whose lemmas hold one of the patterns, most viewed first."""
        rows = await self._db.execute_fetchall(
            "SELECT p.id FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid "
            "WHERE posts_fts MATCH ? AND p.date >= ? AND p.date < ? AND (? IS NULL OR p.channel_id = ?) "
            "ORDER BY coalesce(p.views, 0) + 10 * coalesce(p.forwards, 0) DESC, p.date LIMIT ?",
            (fts_any(patterns), to_db(since), to_db(until), channel_id, channel_id, limit),
        )
        return await self._posts_by_id([row[0] for row in rows])

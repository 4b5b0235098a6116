"""Watchlists: terms with their alias patterns, the posts mentioning them and the per-day
counts. A pattern is a lemma sequence; a post mentions it when the sequence stands,
contiguous, in the post's lemmas (checked with instr on the row; for history the FTS index
finds the candidates first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from monitor.store.base import StoreBase, chunks, fts_any, placeholders, to_db


@dataclass(frozen=True)
class WatchTerm:
    id: int
    term: str
    channel_id: int | None
    aliases: tuple[str, ...]
    patterns: tuple[str, ...]


# (term id, " lemma sequence ") of every watched pattern that applies to one channel.
WatchPatterns = tuple[tuple[int, str], ...]


def mentioned_terms(lemmas: str, patterns: WatchPatterns) -> tuple[int, ...]:
    """The terms whose lemma sequence stands whole in `lemmas`: the test `add_watch_term`
    applies to history with instr, here on a string padded once for every pattern."""
    padded = f" {lemmas} "
    return tuple(dict.fromkeys(term_id for term_id, pattern in patterns if pattern in padded))


async def watch_patterns(db: aiosqlite.Connection, channel_id: int) -> WatchPatterns:
    rows = await db.execute_fetchall(
        "SELECT w.term_id, ' ' || w.lemmas || ' ' FROM watch_patterns w "
        "JOIN watch_terms t ON t.id = w.term_id WHERE t.channel_id IS NULL OR t.channel_id = ? "
        "ORDER BY w.term_id, w.rowid",
        (channel_id,),
    )
    return tuple((row[0], row[1]) for row in rows)


async def note_mentions(
    db: aiosqlite.Connection, channel_id: int, posts: Sequence[tuple[int, str, Sequence[int]]]
) -> None:
    """Record the mentions of posts of one channel, given as (post id, date, term ids)."""
    await db.executemany(
        "INSERT OR IGNORE INTO watch_mentions (term_id, post_id, channel_id, date) "
        "VALUES (?, ?, ?, ?)",
        [(term, post_id, channel_id, date) for post_id, date, terms in posts for term in terms],
    )


async def forget_mentions(db: aiosqlite.Connection, post_ids: Sequence[int]) -> None:
    for chunk in chunks(post_ids):
        await db.execute(
            f"DELETE FROM watch_mentions WHERE post_id IN ({placeholders(len(chunk))})", chunk
        )


class WatchMixin(StoreBase):
    async def watch_patterns(self, channel_id: int) -> WatchPatterns:
        """What new posts of `channel_id` are matched against (see `mentioned_terms`)."""
        return await watch_patterns(self._db, channel_id)

    async def add_watch_term(
        self,
        term: str,
        channel_id: int | None,
        aliases: Sequence[tuple[str, str]],
        added_by: str,
        now: datetime,
    ) -> WatchTerm:
        """Store a term with its (alias, lemma pattern) pairs and count its history."""
        async with self.write() as db:
            cursor = await db.execute(
                "INSERT INTO watch_terms (term, channel_id, added_at, added_by) VALUES (?, ?, ?, ?)",
                (term, channel_id, to_db(now), added_by),
            )
            term_id = cursor.lastrowid
            await db.executemany(
                "INSERT OR IGNORE INTO watch_patterns (term_id, alias, lemmas) VALUES (?, ?, ?)",
                [(term_id, alias, lemmas) for alias, lemmas in aliases],
            )
            # The index finds the candidates; instr confirms each exactly as new posts are
            # matched, so history and live counts agree.
            await db.execute(
                """
                INSERT OR IGNORE INTO watch_mentions (term_id, post_id, channel_id, date)
                SELECT w.term_id, p.id, p.channel_id, p.date
                FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid
                    JOIN watch_patterns w ON w.term_id = ?
                WHERE posts_fts MATCH ? AND (? IS NULL OR p.channel_id = ?)
                    AND instr(' ' || p.lemmas || ' ', ' ' || w.lemmas || ' ')
                """,
                (term_id, fts_any([lemmas for _, lemmas in aliases]), channel_id, channel_id),
            )
        found = await self.watch_term(term, channel_id)
        assert found is not None
        return found

    async def watch_term(self, term: str, channel_id: int | None) -> WatchTerm | None:
        terms = [
            t for t in await self.watch_terms()
            if t.term.lower() == term.lower() and t.channel_id == channel_id
        ]  # fmt: skip
        return terms[0] if terms else None

    async def watch_terms(self) -> list[WatchTerm]:
        terms = await self._rows(
            "SELECT id, term, channel_id FROM watch_terms ORDER BY lower(term), id"
        )
        patterns = await self._db.execute_fetchall(
            "SELECT term_id, alias, lemmas FROM watch_patterns ORDER BY term_id, rowid"
        )
        by_term: dict[int, list[tuple[str, str]]] = {}
        for term_id, alias, lemmas in patterns:
            by_term.setdefault(term_id, []).append((alias, lemmas))
        return [
            WatchTerm(
                row["id"], row["term"], row["channel_id"],
                tuple(a for a, _ in by_term.get(row["id"], [])),
                tuple(p for _, p in by_term.get(row["id"], [])),
            )
            for row in terms
        ]  # fmt: skip

    async def remove_watch_term(self, term_id: int) -> None:
        async with self.write() as db:
            await db.execute("DELETE FROM watch_terms WHERE id = ?", (term_id,))

    async def watch_counts(
        self, term_id: int, since: datetime | None = None, until: datetime | None = None
    ) -> dict[tuple[int, str], int]:
        """(channel id, UTC day) -> posts mentioning the term, for the UTC days from that of
        `since` to the one before that of `until`."""
        until_day = (to_db(until) or "")[:10] or None
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, day, count FROM watch_counts WHERE term_id = ? AND day >= ? "
            "AND (? IS NULL OR day < ?) AND count > 0",
            (term_id, (to_db(since) or "")[:10], until_day, until_day),
        )
        return {(row[0], row[1]): row[2] for row in rows}

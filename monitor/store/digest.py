"""Reads for the digest: a period's posts with what the detectors need, deletions and edits
seen in it, mentions of watched terms."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.store.base import StoreBase, chunks, from_db, placeholders, to_db


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
    forward_from_id: int | None
    reply_to: int | None


@dataclass(frozen=True)
class EditRecord:
    channel_id: int
    message_id: int
    date: datetime
    edit_date: datetime | None
    old_text: str
    new_text: str
    source: str | None  # where the new version was read; None: not recorded
    source_file: str | None  # the export file, for a version an import brought


_PERIOD_COLUMNS = (
    "id, channel_id, message_id, date, text, lemmas, sentiment, "
    "forward_from IS NOT NULL OR forward_from_id IS NOT NULL AS forwarded, views, forwards, reactions, "
    "forward_from_id, reply_to"
)


def _period_post(row: sqlite3.Row) -> PeriodPost:
    date = from_db(row["date"])
    assert date is not None
    return PeriodPost(
        row["id"], row["channel_id"], row["message_id"], date, row["text"], row["lemmas"],
        row["sentiment"], bool(row["forwarded"]), row["views"], row["forwards"], row["reactions"],
        row["forward_from_id"], row["reply_to"],
    )  # fmt: skip


SAMPLE_RUN = 16


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
        """Posts dated in [since, until) per channel (channels without any left out)."""
        # One index range per channel: far cheaper than grouping a period's rows.
        rows = await self._db.execute_fetchall(
            "SELECT id, (SELECT count(*) FROM posts p WHERE p.channel_id = c.id "
            "AND p.date >= ? AND p.date < ?) FROM channels c",
            (to_db(since), to_db(until)),
        )
        return {row[0]: row[1] for row in rows if row[1]}

    async def archive_starts(self) -> dict[int, datetime]:
        """Where each channel's archive begins: its first archived post or the date its
        backfill reads back to, whichever is earlier (channels with neither left out)."""
        # min() over the (channel_id, date) index: one index probe per channel.
        rows = await self._db.execute_fetchall(
            "SELECT id, backfill_since, (SELECT min(date) FROM posts p WHERE p.channel_id = c.id) "
            "FROM channels c"
        )
        starts = {}
        for channel_id, *dates in rows:
            known = [moment for moment in map(from_db, dates) if moment is not None]
            if known:
                starts[channel_id] = min(known)
        return starts

    async def sentiments_by_channel(
        self, since: datetime, until: datetime, per_channel: int, counts: dict[int, int]
    ) -> dict[int, list[tuple[int, float]]]:
        """Each channel's (post row id, score) in [since, until), thinned by row id to
        between half of `per_channel` and all of it (a test's power is bounded by its smaller
        side, the period, so more would add little). `counts` is `posts_per_channel` of the
        range."""
        found = {}
        for channel_id, count in counts.items():
            step = -(-count // per_channel)
            rows = await self._db.execute_fetchall(
                "SELECT id, sentiment FROM posts WHERE channel_id = ? AND date >= ? AND date < ? "
                "AND sentiment IS NOT NULL AND id % ? = 0",
                (channel_id, to_db(since), to_db(until), step),
            )
            found[channel_id] = [(row[0], row[1]) for row in rows]
        return found

    async def sample_lemmas(
        self, since: datetime, until: datetime, size: int, total: int
    ) -> list[tuple[int, str]]:
        """The channel and lemmas of about `size` of the `total` posts of [since, until), picked by
        row id: every n-th run of SAMPLE_RUN consecutive ids when there are many, so that
        a cold read touches neighbouring pages instead of one page per sampled post (three
        times faster at a million posts), else every n-th id."""
        run = SAMPLE_RUN if total >= SAMPLE_RUN * size else 1
        rows = await self._db.execute_fetchall(
            "SELECT channel_id, lemmas FROM posts WHERE date >= ? AND date < ? "
            "AND (id / ?) % ? = 0",
            (to_db(since), to_db(until), run, max(1, -(-total // size))),
        )
        return [(row[0], row[1]) for row in rows]

    async def sample_slices(
        self, slices: Sequence[tuple[datetime, datetime]], size: int
    ) -> list[tuple[int, int, datetime, str, bool]]:
        """(channel, message, date, lemmas, forwarded) of every post in the slices of time,
        read in the order given until `size` posts are read: whole slices, each one range of
        the date index."""
        found: list[tuple[int, int, datetime, str, bool]] = []
        for since, until in slices:
            if len(found) >= size:
                break
            rows = await self._db.execute_fetchall(
                "SELECT channel_id, message_id, date, lemmas, "
                "forward_from IS NOT NULL OR forward_from_id IS NOT NULL FROM posts "
                "WHERE date >= ? AND date < ?",
                (to_db(since), to_db(until)),
            )
            for channel_id, message_id, date, lemmas, forwarded in rows:
                moment = from_db(date)
                assert moment is not None
                found.append((channel_id, message_id, moment, lemmas, bool(forwarded)))
        return found

    async def mention_sample(
        self, term_id: int, since: datetime, until: datetime, size: int
    ) -> list[PeriodPost]:
        """Up to `size` of the posts mentioning the term in [since, until), picked by row
        id: at least half of `size` (of those there are) over whole UTC days, and at least
        a quarter when the ends cut days."""
        bounds = (term_id, to_db(since), to_db(until))
        # The daily counts give the stride; counting the mentions themselves read every
        # index entry of the range.
        last_day = until - timedelta(seconds=1)
        [(total,)] = await self._db.execute_fetchall(
            "SELECT coalesce(sum(count), 0) FROM watch_counts WHERE term_id = ? "
            "AND day >= ? AND day <= ?",
            (term_id, (to_db(since) or "")[:10], (to_db(last_day) or "")[:10]),
        )
        rows = await self._db.execute_fetchall(
            "SELECT post_id FROM watch_mentions WHERE term_id = ? AND date >= ? AND date < ? "
            "AND post_id % ? = 0",
            (*bounds, max(1, -(-total // size))),
        )
        return await self.posts_by_id([row[0] for row in rows])

    async def deleted_between(self, since: datetime, until: datetime) -> list[PeriodPost]:
        rows = await self._rows(
            "SELECT id FROM posts WHERE deleted_at >= ? AND deleted_at < ? ORDER BY deleted_at",
            (to_db(since), to_db(until)),
        )
        return await self.posts_by_id([row["id"] for row in rows])

    async def posts_by_id(self, ids: Sequence[int]) -> list[PeriodPost]:
        """The posts with these row ids, oldest first."""
        posts = []
        for chunk in chunks(ids):
            rows = await self._rows(
                f"SELECT {_PERIOD_COLUMNS} FROM posts WHERE id IN ({placeholders(len(chunk))})",
                chunk,
            )
            posts += [_period_post(row) for row in rows]
        return sorted(posts, key=lambda p: (p.date, p.id))

    async def edits_between(self, since: datetime, until: datetime) -> list[EditRecord]:
        """Text changes first seen in the period, each with the text it replaced and where it
        was read (an import's versions are shown as such: they may not be what Telegram
        showed). Deletions, kept as revisions too, are not edits."""
        rows = await self._rows(
            """
            SELECT r.channel_id, r.message_id, r.date, r.edit_date, r.text, r.source,
                r.source_file,
                (SELECT o.text FROM post_revisions o WHERE o.channel_id = r.channel_id
                   AND o.message_id = r.message_id AND o.id < r.id AND o.deleted_at IS NULL
                   ORDER BY o.id DESC LIMIT 1) AS old
            FROM post_revisions r
            WHERE r.seen_at >= ? AND r.seen_at < ? AND r.deleted_at IS NULL AND EXISTS (
                SELECT 1 FROM post_revisions o WHERE o.channel_id = r.channel_id
                  AND o.message_id = r.message_id AND o.id < r.id AND o.deleted_at IS NULL)
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
                    row["source"],
                    row["source_file"],
                )
            )
        return edits

    async def first_and_top_mention(
        self, term_id: int, since: datetime, until: datetime, channel_ids: Sequence[int]
    ) -> tuple[PeriodPost | None, PeriodPost | None]:
        """Of the posts of these channels mentioning the term in [since, until): the first,
        and the one of widest reach (views when known, else forwards and reactions)."""
        where = (
            f"m.term_id = ? AND m.date >= ? AND m.date < ? "
            f"AND m.channel_id IN ({placeholders(len(channel_ids))})"
        )
        params = (term_id, to_db(since), to_db(until), *channel_ids)
        first = await self._rows(
            f"SELECT m.post_id FROM watch_mentions m WHERE {where} ORDER BY m.date, m.post_id "
            "LIMIT 1",
            params,
        )
        top = await self._rows(
            f"SELECT m.post_id FROM watch_mentions m JOIN posts p ON p.id = m.post_id WHERE {where} "
            "ORDER BY p.views IS NULL, p.views DESC, "
            "coalesce(p.forwards, 0) + coalesce(p.reactions, 0) DESC, p.date, p.id LIMIT 1",
            params,
        )
        posts = {p.id: p for p in await self.posts_by_id([row[0] for row in [*first, *top]])}
        return (
            posts[first[0][0]] if first else None,
            posts[top[0][0]] if top else None,
        )

"""Each channel's learned boilerplate: the sample it is learned from, when it is due again,
and the learned lines and phrases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from monitor.analysis.boilerplate import Boilerplate
from monitor.store.base import StoreBase, chunks, from_db, placeholders, to_db


class BoilerplateMixin(StoreBase):
    async def recent_texts(self, channel_id: int, size: int) -> tuple[list[str], datetime | None]:
        """The texts of the channel's `size` latest posts that have text, and the date of the
        latest of them (None when it has none)."""
        rows = await self._db.execute_fetchall(
            "SELECT date, text FROM posts WHERE channel_id = ? AND text != '' "
            "ORDER BY date DESC LIMIT ?",
            (channel_id, size),
        )
        rows = list(rows)
        return [row[1] for row in rows], from_db(rows[0][0]) if rows else None

    async def boilerplate_due(self, channel_ids: Iterable[int], new_posts: int) -> list[int]:
        """The channels whose boilerplate was never learned, or that have at least
        `new_posts` posts dated after the newest one it was learned from."""
        due = []
        for channel_id in channel_ids:
            # Counting stops at `new_posts`: a channel never relearned stays cheap to check.
            newer = await self._scalar(
                "SELECT CASE WHEN c.boilerplate_learned_at IS NULL THEN ? ELSE ("
                "SELECT count(*) FROM (SELECT 1 FROM posts p WHERE p.channel_id = c.id "
                "AND p.date > coalesce(c.boilerplate_through, '') LIMIT ?)) END "
                "FROM channels c WHERE c.id = ?",
                (new_posts, new_posts, channel_id),
            )
            if newer is not None and newer >= new_posts:
                due.append(channel_id)
        return due

    async def save_boilerplate(
        self, channel_id: int, found: Sequence[Boilerplate], through: datetime | None,
        now: datetime,
    ) -> None:  # fmt: skip
        """Replace the channel's boilerplate with what was learned from its posts up to
        `through`."""
        async with self.write() as db:
            await db.execute("DELETE FROM boilerplate WHERE channel_id = ?", (channel_id,))
            await db.executemany(
                "INSERT INTO boilerplate (channel_id, lemmas, text, posts, sampled) "
                "VALUES (?, ?, ?, ?, ?)",
                [(channel_id, b.lemmas, b.text, b.posts, b.sampled) for b in found],
            )
            await db.execute(
                "UPDATE channels SET boilerplate_through = ?, boilerplate_learned_at = ? "
                "WHERE id = ?",
                (to_db(through), to_db(now), channel_id),
            )

    async def boilerplate(self, channel_ids: Sequence[int]) -> dict[int, list[Boilerplate]]:
        """The learned boilerplate of these channels (a channel without any left out), most
        frequent first."""
        found: dict[int, list[Boilerplate]] = {}
        for chunk in chunks(channel_ids):
            rows = await self._db.execute_fetchall(
                "SELECT channel_id, lemmas, text, posts, sampled FROM boilerplate "
                f"WHERE channel_id IN ({placeholders(len(chunk))}) "
                "ORDER BY channel_id, posts DESC, lemmas",
                chunk,
            )
            for channel_id, *fields in rows:
                found.setdefault(channel_id, []).append(Boilerplate(*fields))
        return found

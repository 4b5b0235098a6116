"""What the collector keeps besides posts: following state, high-water marks, errors, metric
snapshots, and the figures collection health is judged from (deletions are revisions of the
evidence chain: store/posts.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from monitor.models import Channel, MetricSnapshot
from monitor.store.base import StoreBase, from_db, to_db
from monitor.store.channels import channel_from_row


class CollectionMixin(StoreBase):
    async def follow_channel(
        self, channel_id: int, backfill_since: datetime | None, now: datetime
    ) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE channels SET active = 1, backfill_state = 'pending', backfill_since = ?, "
                "state = 'ok', last_error = NULL, last_error_at = NULL WHERE id = ?",
                (to_db(backfill_since), channel_id),
            )

    async def unfollow_channel(self, channel_id: int) -> None:
        async with self.write() as db:
            await db.execute("UPDATE channels SET active = 0 WHERE id = ?", (channel_id,))

    async def following(self) -> list[Channel]:
        rows = await self._rows("SELECT * FROM channels WHERE active = 1 ORDER BY id")
        return [channel_from_row(row) for row in rows]

    async def set_backfill_state(self, channel_id: int, state: str) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE channels SET backfill_state = ? WHERE id = ?", (state, channel_id)
            )

    async def record_read(self, channel_id: int, now: datetime) -> None:
        """A read of the channel succeeded: a channel that was unreachable is reachable again
        (a rename stays on record: health shows it for a week)."""
        async with self.write() as db:
            await db.execute(
                "UPDATE channels SET last_read_at = ?, "
                "last_error = CASE WHEN state = 'renamed' THEN last_error END, "
                "last_error_at = CASE WHEN state = 'renamed' THEN last_error_at END, "
                "state = CASE WHEN state = 'renamed' THEN state ELSE 'ok' END WHERE id = ?",
                (to_db(now), channel_id),
            )

    async def record_channel_error(
        self, channel_id: int, state: str, error: str, now: datetime
    ) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE channels SET state = ?, last_error = ?, last_error_at = ? WHERE id = ?",
                (state, error, to_db(now), channel_id),
            )

    async def rename_channel(
        self, channel_id: int, username: str | None, title: str, note: str, now: datetime
    ) -> None:
        async with self.write() as db:
            if username:
                await db.execute(
                    "UPDATE channels SET username = NULL WHERE lower(username) = lower(?) AND id != ?",
                    (username, channel_id),
                )
            await db.execute(
                "UPDATE channels SET username = ?, title = ?, state = 'renamed', last_error = ?, "
                "last_error_at = ? WHERE id = ?",
                (username, title, note, to_db(now), channel_id),
            )

    async def record_swept(self, channel_id: int, when: datetime) -> None:
        """The channel's recent posts were re-checked for deletions, as they stood at `when`."""
        async with self.write() as db:
            await db.execute(
                "UPDATE channels SET last_swept_at = ? WHERE id = ?", (to_db(when), channel_id)
            )

    async def recent_message_ids(self, channel_id: int, since: datetime) -> list[int]:
        """Messages of the channel posted since `since` and not known to be deleted."""
        rows = await self._db.execute_fetchall(
            "SELECT message_id FROM posts WHERE channel_id = ? AND date >= ? AND deleted_at IS NULL "
            "ORDER BY message_id",
            (channel_id, to_db(since)),
        )
        return [row[0] for row in rows]

    async def due_for_metrics(
        self, now: datetime, milestones: Sequence[timedelta]
    ) -> dict[int, list[int]]:
        """Per channel, the posts that passed another milestone since their last snapshot."""
        oldest = now - max(milestones) - timedelta(days=1)
        rows = await self._db.execute_fetchall(
            """
            SELECT p.channel_id, p.message_id, p.date,
                   (SELECT count(*) FROM post_metrics m
                    WHERE m.channel_id = p.channel_id AND m.message_id = p.message_id) AS taken
            FROM posts p JOIN channels c ON c.id = p.channel_id
            WHERE c.active = 1 AND p.deleted_at IS NULL AND p.date >= ?
            """,
            (to_db(oldest),),
        )
        due: dict[int, list[int]] = defaultdict(list)
        for channel_id, message_id, date, taken in rows:
            posted = from_db(date)
            assert posted is not None
            passed = sum(1 for milestone in milestones if now - posted >= milestone)
            if passed > taken:
                due[channel_id].append(message_id)
        return dict(due)

    async def add_metric_snapshots(self, snapshots: Sequence[MetricSnapshot]) -> None:
        async with self.write() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO post_metrics (channel_id, message_id, captured_at, views, "
                "forwards, replies, reactions) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.channel_id, s.message_id, to_db(s.captured_at), s.views, s.forwards,
                     s.replies, s.reactions)
                    for s in snapshots
                ],
            )  # fmt: skip

    async def post_spans(self) -> dict[int, tuple[datetime | None, datetime | None]]:
        """Per channel: its first and last archived post (None, None when it has none)."""
        # Two index lookups per channel: no scan of the archive.
        rows = await self._db.execute_fetchall(
            "SELECT c.id, (SELECT min(date) FROM posts p WHERE p.channel_id = c.id), "
            "(SELECT max(date) FROM posts p WHERE p.channel_id = c.id) FROM channels c"
        )
        return {row[0]: (from_db(row[1]), from_db(row[2])) for row in rows}

    async def posts_since(self, since: Mapping[int, datetime]) -> dict[int, int]:
        """Per channel given: how many posts it made from its own `since` on."""
        found = {}
        for channel_id, moment in since.items():  # an index range each
            found[channel_id] = await self._scalar(
                "SELECT count(*) FROM posts WHERE channel_id = ? AND date >= ?",
                (channel_id, to_db(moment)),
            )
        return found

"""Channels: who is archived, under which names, and whether the collector follows them."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from monitor.models import Channel, ChannelInfo
from monitor.refs import ChannelRef
from monitor.store.base import StoreBase, from_db, to_db


def channel_from_row(row: sqlite3.Row) -> Channel:
    added_at = from_db(row["added_at"])
    assert added_at is not None
    return Channel(
        id=row["id"],
        title=row["title"],
        username=row["username"],
        added_at=added_at,
        added_by=row["added_by"],
        active=bool(row["active"]),
        access_hash=row["access_hash"],
        high_water=row["high_water"],
        backfill_state=row["backfill_state"],
        last_error=row["last_error"],
        backfill_since=from_db(row["backfill_since"]),
        state=row["state"],
        last_read_at=from_db(row["last_read_at"]),
        last_error_at=from_db(row["last_error_at"]),
        last_swept_at=from_db(row["last_swept_at"]),
    )


class ChannelsMixin(StoreBase):
    async def save_channel(
        self, info: ChannelInfo, added_by: str, now: datetime, active: bool | None = None
    ) -> Channel:
        """Insert a channel or refresh its names; `active=None` leaves following as it was.

        A username given before is kept when the source knows none (exports carry no username).
        """
        async with self.write() as db:
            # Usernames move between channels: the old holder of this one loses it.
            if info.username:
                await db.execute(
                    "UPDATE channels SET username = NULL WHERE lower(username) = lower(?) AND id != ?",
                    (info.username, info.id),
                )
            await db.execute(
                """
                INSERT INTO channels (id, access_hash, username, title, added_at, added_by, active)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    title = excluded.title,
                    username = coalesce(excluded.username, channels.username),
                    access_hash = coalesce(excluded.access_hash, channels.access_hash),
                    active = CASE WHEN ? IS NULL THEN channels.active ELSE excluded.active END
                """,
                (
                    info.id, info.access_hash, info.username, info.title, to_db(now), added_by,
                    int(bool(active)), active,
                ),
            )  # fmt: skip
        channel = await self.channel(info.id)
        assert channel is not None
        return channel

    async def save_imported_channel(self, info: ChannelInfo, now: datetime) -> Channel:
        """Insert a channel an export names, or refresh its names if the collector never
        followed it: an export can be forged, and a followed channel's names are what
        Telegram told the collector. Nor does an export take a username from such a channel."""
        async with self.write() as db:
            username = info.username
            if username:
                await db.execute(
                    "UPDATE channels SET username = NULL WHERE lower(username) = lower(?) "
                    "AND id != ? AND backfill_state = 'none'",
                    (username, info.id),
                )
                if await self._scalar(
                    "SELECT 1 FROM channels WHERE lower(username) = lower(?) AND id != ?",
                    (username, info.id),
                ):
                    username = None
            await db.execute(
                """
                INSERT INTO channels (id, username, title, added_at, added_by)
                VALUES (?, ?, ?, ?, 'import')
                ON CONFLICT (id) DO UPDATE SET
                    title = iif(backfill_state = 'none', excluded.title, title),
                    username = iif(backfill_state = 'none',
                                   coalesce(excluded.username, username), username)
                """,
                (info.id, username, info.title, to_db(now)),
            )
        channel = await self.channel(info.id)
        assert channel is not None
        return channel

    async def channel(self, channel_id: int) -> Channel | None:
        rows = await self._rows("SELECT * FROM channels WHERE id = ?", (channel_id,))
        return channel_from_row(rows[0]) if rows else None

    async def channel_by_username(self, username: str) -> Channel | None:
        rows = await self._rows(
            "SELECT * FROM channels WHERE lower(username) = lower(?)", (username.lstrip("@"),)
        )
        return channel_from_row(rows[0]) if rows else None

    async def channel_by_ref(self, ref: ChannelRef) -> Channel | None:
        if ref.username:
            return await self.channel_by_username(ref.username)
        return await self.channel(ref.channel_id or 0)

    async def channels(self) -> list[Channel]:
        rows = await self._rows("SELECT * FROM channels ORDER BY lower(coalesce(username, title))")
        return [channel_from_row(row) for row in rows]

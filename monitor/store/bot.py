"""The bot's own records: allowed users, subscribed chats, digests sent part by part,
alerts sent or held, search paging and a few status values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from monitor.store.base import StoreBase, from_db, to_db
from monitor.store.search import Keyset


@dataclass(frozen=True)
class Subscription:
    chat_id: int
    digest_time: time | None  # None: alerts only
    timezone: str
    alerts: bool
    since: datetime
    active: bool
    inactive_reason: str | None
    subscribed_by: int  # served while this user may use the bot
    subscribed_at: datetime
    failures: int = 0  # deliveries failed in a row
    last_error: str | None = None
    last_error_at: datetime | None = None
    retry_at: datetime | None = None  # nothing is sent before this
    last_delivery_at: datetime | None = None


@dataclass(frozen=True)
class DigestPart:
    """One message of a digest: its HTML, or the trend chart of a term."""

    html: str | None = None
    chart_term: str | None = None


@dataclass(frozen=True)
class DigestProgress:
    period_end: datetime
    parts: int
    parts_sent: int
    completed: bool
    plan: tuple[DigestPart, ...]  # every part, as planned when the digest began


@dataclass(frozen=True)
class HeldAlert:
    id: int
    key: str
    text: str


class BotMixin(StoreBase):
    # ---- access ----------------------------------------------------------------------------

    async def allowed_users(self) -> set[int]:
        rows = await self._db.execute_fetchall("SELECT user_id FROM bot_users")
        return {row[0] for row in rows}

    async def allow_user(self, user_id: int, granted_by: int, now: datetime) -> bool:
        """True when the user was not allowed before."""
        async with self.write() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO bot_users (user_id, granted_by, granted_at) VALUES (?, ?, ?)",
                (user_id, granted_by, to_db(now)),
            )
            return cursor.rowcount == 1

    async def deny_user(self, user_id: int) -> bool:
        """True when the user had been allowed."""
        async with self.write() as db:
            cursor = await db.execute("DELETE FROM bot_users WHERE user_id = ?", (user_id,))
            return cursor.rowcount == 1

    # ---- subscriptions ---------------------------------------------------------------------

    async def subscription(self, chat_id: int) -> Subscription | None:
        found = await self._subscriptions("WHERE chat_id = ?", (chat_id,))
        return found[0] if found else None

    async def subscriptions(self) -> list[Subscription]:
        """Active chats with a digest or alerts."""
        return await self._subscriptions(
            "WHERE active = 1 AND (digest_time IS NOT NULL OR alerts = 1)", ()
        )

    async def all_subscriptions(self) -> list[Subscription]:
        """Every chat with a digest or alerts, the ones no longer served included."""
        return await self._subscriptions("WHERE digest_time IS NOT NULL OR alerts = 1", ())

    async def _subscriptions(self, where: str, params: tuple[object, ...]) -> list[Subscription]:
        rows = await self._rows(
            "SELECT chat_id, digest_time, timezone, alerts, since, active, inactive_reason, "
            "subscribed_by, subscribed_at, failures, last_error, last_error_at, retry_at, "
            f"last_delivery_at FROM subscriptions {where} ORDER BY chat_id",
            params,
        )
        subscriptions = []
        for row in rows:
            since, subscribed_at = from_db(row["since"]), from_db(row["subscribed_at"])
            assert since is not None and subscribed_at is not None
            clock = time.fromisoformat(row["digest_time"]) if row["digest_time"] else None
            subscriptions.append(
                Subscription(
                    row["chat_id"], clock, row["timezone"], bool(row["alerts"]), since,
                    bool(row["active"]), row["inactive_reason"], row["subscribed_by"],
                    subscribed_at, row["failures"], row["last_error"],
                    from_db(row["last_error_at"]), from_db(row["retry_at"]),
                    from_db(row["last_delivery_at"]),
                )
            )  # fmt: skip
        return subscriptions

    async def save_subscription(
        self,
        chat_id: int,
        *,
        digest_time: time | None,
        timezone: str,
        alerts: bool,
        by: int,
        now: datetime,
        subscribing: bool = True,
    ) -> None:
        """Create or change a chat's subscription (and make it active again, its failures
        forgotten). `since` is kept when the chat already had a digest, so no period is sent
        twice or skipped. A change that turns something on (`subscribing`) makes `by` the
        one the chat is served for; one that turns something off keeps who that is."""
        clock = digest_time.strftime("%H:%M") if digest_time else None
        async with self.write() as db:
            await db.execute(
                """
                INSERT INTO subscriptions (chat_id, digest_time, timezone, alerts, since,
                    active, inactive_reason, updated_by, updated_at, subscribed_by, subscribed_at)
                VALUES (?, ?, ?, ?, ?, 1, NULL, ?, ?, ?, ?)
                ON CONFLICT (chat_id) DO UPDATE SET digest_time = excluded.digest_time,
                    timezone = excluded.timezone, alerts = excluded.alerts, active = 1,
                    inactive_reason = NULL, updated_by = excluded.updated_by,
                    updated_at = excluded.updated_at,
                    since = CASE WHEN subscriptions.digest_time IS NULL
                        OR subscriptions.active = 0 THEN excluded.since ELSE subscriptions.since END,
                    subscribed_by = CASE WHEN ? THEN excluded.subscribed_by
                        ELSE subscriptions.subscribed_by END,
                    subscribed_at = CASE WHEN ? THEN excluded.subscribed_at
                        ELSE subscriptions.subscribed_at END,
                    failures = 0, retry_at = NULL
                """,
                (chat_id, clock, timezone, int(alerts), to_db(now), by, to_db(now), by,
                 to_db(now), subscribing, subscribing),
            )  # fmt: skip

    async def deactivate_chat(self, chat_id: int, reason: str, now: datetime) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE subscriptions SET active = 0, inactive_reason = ?, updated_at = ? "
                "WHERE chat_id = ?",
                (reason, to_db(now), chat_id),
            )

    async def end_subscriptions_of(self, user_id: int, reason: str, now: datetime) -> list[int]:
        """Stop serving the user's private chat and every chat the user subscribed; the
        chats stopped."""
        async with self.write() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET active = 0, inactive_reason = ?, updated_at = ? "
                "WHERE active = 1 AND (chat_id = ? OR subscribed_by = ?) "
                "AND (digest_time IS NOT NULL OR alerts = 1) RETURNING chat_id",
                (reason, to_db(now), user_id, user_id),
            )
            return sorted(row[0] for row in await cursor.fetchall())

    async def delivery_failed(self, chat_id: int, error: str, now: datetime) -> int:
        """Record a failed delivery to the chat; its failures in a row, this one included."""
        async with self.write() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET failures = failures + 1, last_error = ?, "
                "last_error_at = ? WHERE chat_id = ? RETURNING failures",
                (error, to_db(now), chat_id),
            )
            row = await cursor.fetchone()
            return row[0] if row else 0

    async def retry_chat_at(self, chat_id: int, moment: datetime) -> None:
        async with self.write() as db:
            await db.execute(
                "UPDATE subscriptions SET retry_at = ? WHERE chat_id = ?", (to_db(moment), chat_id)
            )

    async def delivered(self, chat_id: int, now: datetime) -> None:
        """The chat received a message: its failures in a row are over."""
        async with self.write() as db:
            await db.execute(
                "UPDATE subscriptions SET last_delivery_at = ?, failures = 0, retry_at = NULL "
                "WHERE chat_id = ?",
                (to_db(now), chat_id),
            )

    # ---- digests ---------------------------------------------------------------------------

    async def last_digest_end(self, chat_id: int) -> datetime | None:
        """The end of the last digest the chat received whole."""
        value = await self._scalar(
            "SELECT max(period_end) FROM digests_sent "
            "WHERE chat_id = ? AND completed_at IS NOT NULL",
            (chat_id,),
        )
        return from_db(value)

    async def digest_progress(self, chat_id: int, period_start: datetime) -> DigestProgress | None:
        rows = await self._rows(
            "SELECT period_end, parts, parts_sent, completed_at FROM digests_sent "
            "WHERE chat_id = ? AND period_start = ?",
            (chat_id, to_db(period_start)),
        )
        if not rows:
            return None
        end = from_db(rows[0]["period_end"])
        assert end is not None
        row = rows[0]
        plan = await self._db.execute_fetchall(
            "SELECT html, chart_term FROM digest_parts WHERE chat_id = ? AND period_start = ? "
            "ORDER BY part",
            (chat_id, to_db(period_start)),
        )
        return DigestProgress(
            end, row["parts"], row["parts_sent"], row["completed_at"] is not None,
            tuple(DigestPart(html, term) for html, term in plan),
        )  # fmt: skip

    async def begin_digest(
        self, chat_id: int, period_start: datetime, period_end: datetime, plan: list[DigestPart]
    ) -> None:
        """Record a digest about to be sent and its parts; a digest begun before keeps its
        record and plan."""
        start = to_db(period_start)
        async with self.write() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO digests_sent (chat_id, period_start, period_end, parts) "
                "VALUES (?, ?, ?, ?)",
                (chat_id, start, to_db(period_end), len(plan)),
            )
            if cursor.rowcount == 1:
                await db.executemany(
                    "INSERT INTO digest_parts (chat_id, period_start, part, html, chart_term) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(chat_id, start, i, p.html, p.chart_term) for i, p in enumerate(plan)],
                )

    async def digest_part_sent(
        self, chat_id: int, period_start: datetime, parts_sent: int, now: datetime
    ) -> None:
        """Count the digest's first `parts_sent` parts as delivered; with the last of them,
        the digest is complete and its plan is let go."""
        start = to_db(period_start)
        async with self.write() as db:
            await db.execute(
                "UPDATE digests_sent SET parts_sent = ?, "
                "completed_at = CASE WHEN ? >= parts THEN ? ELSE NULL END "
                "WHERE chat_id = ? AND period_start = ?",
                (parts_sent, parts_sent, to_db(now), chat_id, start),
            )
            await db.execute(
                "DELETE FROM digest_parts WHERE chat_id = ? AND period_start = ? AND EXISTS "
                "(SELECT 1 FROM digests_sent WHERE chat_id = ? AND period_start = ? "
                "AND completed_at IS NOT NULL)",
                (chat_id, start, chat_id, start),
            )

    # ---- alerts ----------------------------------------------------------------------------

    async def alerts_sent_since(self, chat_id: int, since: datetime) -> list[tuple[str, datetime]]:
        rows = await self._db.execute_fetchall(
            "SELECT key, sent_at FROM alerts WHERE chat_id = ? AND sent_at >= ? ORDER BY sent_at",
            (chat_id, to_db(since)),
        )
        return [(row[0], sent) for row in rows if (sent := from_db(row[1])) is not None]

    async def record_alert(
        self, chat_id: int, key: str, text: str, found_at: datetime, sent_at: datetime | None
    ) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO alerts (chat_id, key, text, found_at, sent_at) VALUES (?, ?, ?, ?, ?)",
                (chat_id, key, text, to_db(found_at), to_db(sent_at)),
            )

    async def held_alerts(self, chat_id: int) -> list[HeldAlert]:
        rows = await self._db.execute_fetchall(
            "SELECT id, key, text FROM alerts WHERE chat_id = ? AND sent_at IS NULL ORDER BY id",
            (chat_id,),
        )
        return [HeldAlert(*row) for row in rows]

    async def is_alert_held(self, chat_id: int, key: str) -> bool:
        rows = await self._db.execute_fetchall(
            "SELECT 1 FROM alerts WHERE chat_id = ? AND key = ? AND sent_at IS NULL",
            (chat_id, key),
        )
        return bool(rows)

    async def mark_alert_sent(self, alert_id: int, now: datetime) -> None:
        async with self.write() as db:
            await db.execute("UPDATE alerts SET sent_at = ? WHERE id = ?", (to_db(now), alert_id))

    # ---- search paging and status ----------------------------------------------------------

    async def save_search(self, chat_id: int, user_id: int, query: str, now: datetime) -> int:
        async with self.write() as db:
            cursor = await db.execute(
                "INSERT INTO search_pages (chat_id, user_id, query, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, user_id, query, to_db(now)),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    async def saved_search(self, search_id: int) -> tuple[int, int, str] | None:
        """(chat id, user id, query) of a saved search."""
        rows = list(
            await self._db.execute_fetchall(
                "SELECT chat_id, user_id, query FROM search_pages WHERE id = ?", (search_id,)
            )
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def search_page_start(self, search_id: int, page: int) -> Keyset | None:
        """Where page `page` of a saved search begins, once a page before it was shown."""
        rows = await self._rows(
            "SELECT after_date, after_id FROM search_page_starts WHERE search_id = ? AND page = ?",
            (search_id, page),
        )
        if not rows:
            return None
        date = from_db(rows[0]["after_date"])
        assert date is not None
        return Keyset(date, rows[0]["after_id"])

    async def set_search_page_start(self, search_id: int, page: int, start: Keyset) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO search_page_starts (search_id, page, after_date, after_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (search_id, page) DO UPDATE SET "
                "after_date = excluded.after_date, after_id = excluded.after_id",
                (search_id, page, to_db(start.date), start.post_id),
            )

    async def set_bot_state(self, key: str, value: str) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def bot_state(self, key: str) -> str | None:
        rows = list(
            await self._db.execute_fetchall("SELECT value FROM bot_state WHERE key = ?", (key,))
        )
        return rows[0][0] if rows else None

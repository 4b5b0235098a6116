"""Request pacing per request type, and flood waits honoured exactly.

Telegram answers a too-fast client with FLOOD_WAIT_X and punishes an early retry with a longer
wait, so each request type is spaced by its own interval, and after a flood wait nothing of
that type is sent until the longest wait announced so far has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from telethon import errors

from monitor.clock import Clock

T = TypeVar("T")
log = logging.getLogger(__name__)

# Seconds between two requests of a type. Telegram publishes no limits; these keep a single
# account well inside what it tolerates for long backfills, and a flood wait widens them.
DEFAULT_INTERVALS: Mapping[str, float] = {
    "history": 1.0,
    "messages": 1.0,
    "resolve": 5.0,
    "join": 10.0,
}
MAX_INTERVAL = 60.0


class FloodWaitTooLong(Exception):
    """A flood wait longer than the caller is willing to wait in place."""

    def __init__(self, kind: str, seconds: int) -> None:
        super().__init__(f"Telegram asked to wait {seconds} s before more {kind} requests")
        self.kind = kind
        self.seconds = seconds


class Pacer:
    def __init__(
        self,
        clock: Clock,
        intervals: Mapping[str, float] | None = None,
        max_wait: float = 3600.0,
    ) -> None:
        self.clock = clock
        self.intervals = dict(DEFAULT_INTERVALS if intervals is None else intervals)
        self.max_wait = max_wait
        self._next: dict[str, datetime] = {}
        self._blocked_until: dict[str, datetime] = {}
        self.flood_waits: list[tuple[str, int]] = []

    def flood(self, kind: str, seconds: int) -> None:
        """Record a flood wait: the later of the two ends wins, never the earlier."""
        until = self.clock.now() + timedelta(seconds=seconds)
        self._blocked_until[kind] = max(self._blocked_until.get(kind, until), until)
        self.flood_waits.append((kind, seconds))
        interval = self.intervals.get(kind, 0.0)
        self.intervals[kind] = min(MAX_INTERVAL, max(interval * 1.25, 0.05))

    async def wait(self, kind: str) -> None:
        now = self.clock.now()
        due = max(self._next.get(kind, now), self._blocked_until.get(kind, now), now)
        if due > now:
            await self.clock.sleep((due - now).total_seconds())
        self._next[kind] = self.clock.now() + timedelta(seconds=self.intervals.get(kind, 0.0))

    async def call(self, kind: str, request: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
        """Send `request()` when its type may be sent; wait out flood waits and retry."""
        for _ in range(attempts - 1):
            await self.wait(kind)
            try:
                return await request()
            except errors.FloodWaitError as error:
                seconds = int(error.seconds)
                log.warning("flood wait of %d s on %s requests", seconds, kind)
                self.flood(kind, seconds)
                if seconds > self.max_wait:
                    raise FloodWaitTooLong(kind, seconds) from None
        await self.wait(kind)
        return await request()

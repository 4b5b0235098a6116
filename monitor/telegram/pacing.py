"""Request pacing per request type, and flood waits honoured exactly.

Telegram answers a too-fast client with FLOOD_WAIT_X and punishes an early retry with a longer
wait, so each request type is spaced by its own interval, and after a flood wait nothing of
that type is sent until the longest wait announced so far has passed. A flood wait also widens
its type's interval for a while: requests answered without one narrow it back to the
configured interval, so one flood wait early in a week-long backfill does not slow all the
rest of it (nor do occasional ones compound until every request waits a minute).
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
# A flood wait multiplies its type's interval by WIDENING; each request answered after it
# multiplies the widened interval by RECOVERY: after one flood wait, 22 answered requests
# bring it back (slowly enough that a limit stricter than the configured interval is met by
# one flood wait every 20 or so requests, not every other one).
WIDENING = 1.25
RECOVERY = 0.99
# A widened interval this close to the configured one is back at it.
SETTLED = 0.005


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
        self._widened: dict[str, float] = {}
        self._blocked_until: dict[str, datetime] = {}
        self.flood_waits: list[tuple[str, int]] = []

    def flood(self, kind: str, seconds: int) -> None:
        """Record a flood wait: the later of the two ends wins, never the earlier."""
        until = self.clock.now() + timedelta(seconds=seconds)
        self._blocked_until[kind] = max(self._blocked_until.get(kind, until), until)
        self.flood_waits.append((kind, seconds))
        self._widened[kind] = min(MAX_INTERVAL, max(self.interval(kind) * WIDENING, 0.05))

    def interval(self, kind: str) -> float:
        """Seconds between two requests of `kind` now: the configured interval, or wider
        after a flood wait."""
        return max(self.intervals.get(kind, 0.0), self._widened.get(kind, 0.0))

    def answered(self, kind: str) -> None:
        """A request of `kind` was answered: narrow a widened interval back a step."""
        widened = self._widened.get(kind)
        if widened is None:
            return
        narrower = widened * RECOVERY
        if narrower - self.intervals.get(kind, 0.0) < SETTLED:
            del self._widened[kind]
        else:
            self._widened[kind] = narrower

    async def wait(self, kind: str) -> None:
        now = self.clock.now()
        due = max(self._next.get(kind, now), self._blocked_until.get(kind, now), now)
        if due > now:
            await self.clock.sleep((due - now).total_seconds())
        self._next[kind] = self.clock.now() + timedelta(seconds=self.interval(kind))

    async def call(self, kind: str, request: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
        """Send `request()` when its type may be sent; wait out flood waits and retry."""
        for _ in range(attempts - 1):
            await self.wait(kind)
            try:
                answer = await request()
            except errors.FloodWaitError as error:
                seconds = int(error.seconds)
                log.warning("flood wait of %d s on %s requests", seconds, kind)
                self.flood(kind, seconds)
                if seconds > self.max_wait:
                    raise FloodWaitTooLong(kind, seconds) from None
            else:
                self.answered(kind)
                return answer
        await self.wait(kind)
        answer = await request()
        self.answered(kind)
        return answer

"""A one-line progress bar for long commands; silent when the output is not a terminal."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO, label: str, enabled: bool | None = None) -> None:
        self._stream = stream
        self._label = label
        self._enabled = stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, done: int, total: int, items: int) -> None:
        now = time.monotonic()
        if not self._enabled or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        share = done / total if total else 0.0
        filled = int(share * 30)
        rate = items / max(now - self._started, 1e-9)
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
            f"{items:,} posts {rate:,.0f}/s "
        )
        self._stream.flush()
        self._drawn = True

    def posts(self, done: int, total: int) -> None:
        """Progress counted in posts rather than bytes."""
        self.update(done, total, done)

    def finish(self) -> None:
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()

"""What every command receives: settings, where to print, and shared services."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from monitor.clock import Clock, SystemClock
from monitor.config import Settings
from monitor.ingest import Analysis
from monitor.sentiment.scorer import Scorer
from monitor.sentiment.service import load_scorer
from monitor.store import Store
from monitor.telegram.session import ClientFactory
from monitor.text import TextPipeline

# Control characters other than newline and tab: in a post or a title they would move the
# cursor, recolour or retitle the reader's terminal, or hide what precedes a carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` with every control character but newline and tab shown as "?" (as `ls -q`)."""
    return _CONTROL.sub("?", text)


class Output:
    """Where a command prints: results to stdout, messages and progress to stderr. Lines
    printed to a terminal have their control characters replaced; files and pipes get the
    text exactly, and JSON is always exact."""

    def __init__(self, out: TextIO, err: TextIO, zone: ZoneInfo) -> None:
        self.out = out
        self.err = err
        self.zone = zone
        self.terminal = out.isatty()

    def line(self, text: str = "") -> None:
        print(terminal_safe(text) if self.terminal else text, file=self.out)

    def styled_line(self, text: str) -> None:
        """A line whose outside text the caller has passed through `terminal_safe` already,
        so that its own escape sequences (bold) reach the terminal."""
        print(text, file=self.out)

    def note(self, text: str) -> None:
        print(terminal_safe(text) if self.err.isatty() else text, file=self.err)

    def when(self, moment: datetime | None) -> str:
        return "-" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def json(self, value: Any) -> None:
        print(json.dumps(value, ensure_ascii=False, indent=2), file=self.out)


class Context:
    """What a command needs: settings, output, and the text pipeline, built on first use
    because loading the dictionaries takes a moment some commands do not need."""

    def __init__(
        self,
        settings: Settings,
        output: Output,
        client_factory: ClientFactory | None = None,
        clock: Clock | None = None,
        pipeline: TextPipeline | None = None,
    ) -> None:
        self.settings = settings
        self.output = output
        self.client_factory = client_factory
        self.clock = clock or SystemClock()
        self._pipeline = pipeline
        self._scorer: Scorer | None = None

    @property
    def pipeline(self) -> TextPipeline:
        if self._pipeline is None:
            self._pipeline = TextPipeline()
        return self._pipeline

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = load_scorer(self.pipeline, self.settings)
        return self._scorer

    @property
    def analysis(self) -> Analysis | None:
        """What import workers need to score as `scorer` does; None with a model, which
        runs its own threads and would be loaded once per worker."""
        if self.settings.sentiment_model is not None:
            return None
        return Analysis(score=True, lexicon=self.settings.sentiment_lexicon)

    def with_db(self, path: Path) -> Context:
        return Context(
            self.settings.with_db(path),
            self.output,
            self.client_factory,
            self.clock,
            self._pipeline,
        )

    async def open_store(self) -> Store:
        return await Store.open(self.settings.db_path)

"""Fixtures of the bad-input suite. Hypothesis runs many examples against one archive (and
one bot), so the async parts run on an event loop the test owns, as tests/test_query.py does:
the examples are plain functions that hand coroutines to that loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from monitor.importers.service import import_exports
from monitor.store import Store
from monitor.text import TextPipeline

T = TypeVar("T")
SAMPLE = Path(str(resources.files("monitor.sample").joinpath("sample_export.json")))
IMPORTED_AT = datetime(2024, 11, 20, tzinfo=UTC)


# A failing example of 100,000 characters is reported whole; Hypothesis warns that the
# report is large, which the suite's warnings-as-errors would turn into the failure shown.
LARGE_REPORTS = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def examples(count: int) -> settings:
    """Hypothesis settings for tests whose examples share the test's fixtures on purpose
    (one archive, one bot), and whose examples each touch SQLite (no per-example deadline)."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


class Loop:
    """One event loop for a whole test: `loop(coroutine)` runs it there."""

    def __init__(self, runner: asyncio.Runner) -> None:
        self.runner = runner

    def __call__(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)


@pytest.fixture
def loop() -> Iterator[Loop]:
    with asyncio.Runner() as runner:
        yield Loop(runner)


@pytest.fixture
def sample_archive(loop: Loop, tmp_path: Path, pipeline: TextPipeline) -> Iterator[Store]:
    """A real archive: the bundled sample export (two channels, twelve posts) imported."""
    store = loop(Store.open(tmp_path / "sample.db"))
    report = loop(import_exports(store, pipeline, [SAMPLE], clock=lambda: IMPORTED_AT))
    assert report.totals.new == 12 and not report.problems
    yield store
    loop(store.close())


async def archive_rows(store: Store) -> list[dict[str, Any]]:
    """Every stored post with every field and its revisions: what 'unchanged' compares."""
    return [row async for row in store.export_posts(with_revisions=True)]


async def broken_chains(store: Store) -> list[str]:
    return [
        str(broken)
        for channel in await store.channels()
        if (broken := await store.verify_channel(channel.id, channel.label)) is not None
    ]


class Complaints(logging.Handler):
    """Log records of WARNING and above: a command that reached a catch-all handler (or that
    Telegram refused) logs one, where a handled bad input only answers a sentence."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        taken = [f"{r.name}: {r.getMessage()} {r.exc_info or ''}" for r in self.records]
        self.records.clear()
        return taken


@pytest.fixture
def complaints() -> Iterator[Complaints]:
    handler = Complaints()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)

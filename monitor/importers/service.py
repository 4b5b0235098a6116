"""`import`: find exports, stream their channels' messages into the archive in batches.

Each batch is one transaction, and storing is idempotent, so an import stopped at any moment
(even by SIGKILL) and run again ends with exactly the archive one uninterrupted run gives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.importers.tdesktop import (
    CountingReader,
    ExportChat,
    ExportFormatError,
    MessageError,
    message_id_of,
    read_export,
    to_post,
)
from monitor.ingest import prepare
from monitor.models import ChannelInfo, Post, StoreCounts
from monitor.sentiment.scorer import Scorer
from monitor.store import Store
from monitor.text import TextPipeline

BATCH_SIZE = 1000
ProgressCallback = Callable[[int, int, int], None]  # bytes read, bytes in all, posts stored


@dataclass(frozen=True)
class ImportProblem:
    file: Path
    reason: str
    message_id: Any = None

    def __str__(self) -> str:
        where = f", message {self.message_id}" if self.message_id is not None else ""
        return f"{self.file}{where}: {self.reason}"


@dataclass
class ImportReport:
    files: list[Path] = field(default_factory=list)
    channels: dict[int, tuple[str, StoreCounts]] = field(default_factory=dict)
    skipped_chats: int = 0
    skipped_service: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def totals(self) -> StoreCounts:
        total = StoreCounts()
        for _, counts in self.channels.values():
            total += counts
        return total

    def add(self, channel: ExportChat, counts: StoreCounts) -> None:
        _, before = self.channels.get(channel.id, (channel.title, StoreCounts()))
        self.channels[channel.id] = (channel.title, before + counts)


def find_exports(paths: Iterable[Path], report: ImportReport) -> list[Path]:
    """The export files named by `paths`: files as given, folders searched for result.json."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            inside = sorted(path.rglob("result.json"))
            if not inside:
                report.problems.append(ImportProblem(path, "the folder holds no result.json"))
            found.extend(inside)
        else:
            report.problems.append(ImportProblem(path, "no such file or folder"))
    return found


class _Writer:
    """Stores one batch while the caller reads and prepares the next: SQLite releases the
    interpreter lock while it writes, so the two overlap. Batches still commit in order."""

    def __init__(self, store: Store, report: ImportReport) -> None:
        self._store = store
        self._report = report
        self._task: asyncio.Task[StoreCounts] | None = None
        self._chat: ExportChat | None = None
        self.stored = 0

    async def submit(
        self,
        chat: ExportChat,
        posts: list[Post],
        pipeline: TextPipeline,
        scorer: Scorer | None,
        now: datetime,
    ) -> None:
        prepared = [prepare(post, pipeline, scorer) for post in posts]
        await self.drain()
        self._chat = chat
        self._task = asyncio.create_task(self._store.store_posts(chat.id, prepared, now))

    async def drain(self) -> None:
        if self._task is None or self._chat is None:
            return
        task, self._task = self._task, None
        counts = await task
        self._report.add(self._chat, counts)
        self.stored += counts.new + counts.revised + counts.unchanged


@dataclass
class _Run:
    """What one import shares across its files."""

    store: Store
    pipeline: TextPipeline
    clock: Callable[[], datetime]
    username: str | None
    batch_size: int
    report: ImportReport
    writer: _Writer
    progress: Callable[[int, int], None]
    scorer: Scorer | None = None
    other_chats: set[int] = field(default_factory=set)
    imported: set[int] = field(default_factory=set)


async def _import_file(run: _Run, path: Path) -> None:
    report = run.report
    chat_now: ExportChat | None = None
    posts: list[Post] = []

    async def flush() -> None:
        nonlocal posts
        if chat_now is not None and posts:
            await run.writer.submit(chat_now, posts, run.pipeline, run.scorer, run.clock())
            posts = []

    def progress(position: int) -> None:
        run.progress(position, len(posts))

    last_id: Any = None
    try:
        with path.open("rb") as handle:
            for chat, raw in read_export(CountingReader(handle, progress)):
                if not chat.is_channel:
                    if chat.id not in run.other_chats:
                        run.other_chats.add(chat.id)
                        report.skipped_chats += 1
                    continue
                last_id = message_id_of(raw)
                if chat_now is None or chat_now.id != chat.id:
                    await flush()
                    await run.writer.drain()
                    if run.username and run.imported and chat.id not in run.imported:
                        raise ExportFormatError(
                            "--username names one channel, but the exports hold several; "
                            "import them without --username"
                        )
                    run.imported.add(chat.id)
                    info = ChannelInfo(chat.id, chat.title, run.username)
                    await run.store.save_channel(info, "import", run.clock())
                    chat_now = chat
                try:
                    post = to_post(chat.id, raw)
                except MessageError as error:
                    report.problems.append(ImportProblem(path, str(error), last_id))
                    continue
                if post is None:
                    report.skipped_service += 1
                    continue
                posts.append(post)
                if len(posts) >= run.batch_size:
                    await flush()
        await flush()
    except ExportFormatError as error:
        await flush()
        after = f" (after message {last_id})" if last_id is not None else ""
        report.problems.append(ImportProblem(path, f"{error}{after}"))
    except OSError as error:
        report.problems.append(ImportProblem(path, f"cannot be read: {error.strerror}"))
    finally:
        await run.writer.drain()


async def import_exports(
    store: Store,
    pipeline: TextPipeline,
    paths: Iterable[Path],
    *,
    clock: Callable[[], datetime],
    username: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
    scorer: Scorer | None = None,
) -> ImportReport:
    report = ImportReport()
    files = find_exports(paths, report)
    total_bytes = sum(path.stat().st_size for path in files)
    done_bytes = 0
    writer = _Writer(store, report)

    def progress(position: int, waiting: int) -> None:
        if on_progress is not None:
            on_progress(done_bytes + position, total_bytes, writer.stored + waiting)

    run = _Run(store, pipeline, clock, username, batch_size, report, writer, progress, scorer)
    for path in files:
        report.files.append(path)
        await _import_file(run, path)
        done_bytes += path.stat().st_size if path.exists() else 0
    return report

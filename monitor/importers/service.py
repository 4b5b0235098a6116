"""`import`: find exports, stream their channels' messages into the archive in batches.

Each batch is one transaction, and storing is idempotent, so an import stopped at any moment
(even by SIGKILL) and run again ends with exactly the archive one uninterrupted run gives.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.boilerplate import refresh_boilerplate
from monitor.importers.tdesktop import (
    CountingReader,
    ExportChat,
    ExportFormatError,
    MessageError,
    message_id_of,
    read_export,
    to_post,
)
from monitor.ingest import Analysis, PreparePool, default_workers, prepare
from monitor.models import ChannelInfo, Post, PreparedPost, RevisionSource, StoreCounts
from monitor.sentiment.scorer import Scorer
from monitor.store import Store
from monitor.store.watch import WatchPatterns
from monitor.text import TextPipeline

BATCH_SIZE = 2000
# Exports this big are prepared in worker processes; below it, starting them (each loads
# the dictionaries) costs more than it saves.
PARALLEL_FROM_BYTES = 32 * 2**20
# Messages read between turns of the event loop, so the batch being stored moves on.
YIELD_EVERY = 25
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
        if path.is_dir():
            inside = sorted(path.rglob("result.json"))
            if not inside:
                report.problems.append(ImportProblem(path, "the folder holds no result.json"))
            found.extend(file for file in inside if _readable(file, report))
        elif _readable(path, report):
            found.append(path)
    return found


def _readable(path: Path, report: ImportReport) -> bool:
    if path.is_file():
        return True
    if path.exists():
        # A pipe would leave the import waiting for a writer for ever, a device reads
        # without end: an export is a file on disk.
        reason = "is not a regular file; exports are read from files on disk"
    else:
        reason = "no such file or folder"
    report.problems.append(ImportProblem(path, reason))
    return False


@dataclass(frozen=True)
class _Batch:
    chat: ExportChat
    prepared: asyncio.Future[list[PreparedPost]]
    patterns: WatchPatterns | None  # what the workers matched mentions against
    now: datetime
    source: RevisionSource


class _Writer:
    """Prepares batches (in worker processes when given a pool) and stores them in order,
    each store waiting only for the one before it, with up to `depth` batches in flight:
    reading goes on while SQLite writes (it releases the interpreter lock) and while the
    workers prepare on the other cores."""

    def __init__(self, store: Store, report: ImportReport, pool: PreparePool | None) -> None:
        self._store = store
        self._report = report
        self._pool = pool
        self._depth = 1 if pool is None else pool.processes + 2
        self._in_flight: deque[asyncio.Task[None]] = deque()
        self.stored = 0

    async def submit(
        self,
        chat: ExportChat,
        posts: list[Post],
        pipeline: TextPipeline,
        scorer: Scorer | None,
        now: datetime,
        source: RevisionSource,
    ) -> None:
        patterns = None
        if self._pool is None:
            prepared = asyncio.get_running_loop().create_future()
            prepared.set_result([prepare(post, pipeline, scorer) for post in posts])
        else:
            patterns = await self._store.watch_patterns(chat.id)
            prepared = asyncio.ensure_future(self._pool.prepare(posts, patterns))
        previous = self._in_flight[-1] if self._in_flight else None
        batch = _Batch(chat, prepared, patterns, now, source)
        self._in_flight.append(asyncio.create_task(self._store_after(previous, batch)))
        while len(self._in_flight) > self._depth:
            await self._in_flight.popleft()

    async def _store_after(self, previous: asyncio.Task[None] | None, batch: _Batch) -> None:
        posts = await batch.prepared
        if previous is not None:
            await previous  # a failure there stops this batch too: nothing stored out of order
        counts = await self._store.store_posts(
            batch.chat.id, posts, batch.now, matched=batch.patterns, source=batch.source
        )
        self._report.add(batch.chat, counts)
        self.stored += counts.new + counts.revised + counts.unchanged

    async def drain(self) -> None:
        """Wait for every batch; the first failure is raised once all have ended."""
        results = await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._in_flight.clear()
        for result in results:
            if isinstance(result, BaseException):
                raise result


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


def file_source(path: Path) -> RevisionSource:
    """The export file as the source of the versions it brings: its name and SHA-256 (read
    once before the import, at disk speed: the hash must cover the file, not what was read
    of it before a failure)."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return RevisionSource("import", str(path), digest)


async def _import_file(run: _Run, path: Path) -> None:
    report = run.report
    chat_now: ExportChat | None = None
    posts: list[Post] = []
    source: RevisionSource | None = None

    async def flush() -> None:
        nonlocal posts
        if chat_now is not None and posts:
            assert source is not None
            await run.writer.submit(chat_now, posts, run.pipeline, run.scorer, run.clock(), source)
            posts = []

    def progress(position: int) -> None:
        run.progress(position, len(posts))

    last_id: Any = None
    try:
        source = file_source(path)
        with path.open("rb") as handle:
            for chat, raw in read_export(CountingReader(handle, progress)):
                if not chat.is_channel:
                    if chat.id not in run.other_chats:
                        run.other_chats.add(chat.id)
                        report.skipped_chats += 1
                    continue
                this_id = message_id_of(raw)
                if chat_now is None or chat_now.id != chat.id:
                    await flush()
                    if run.username and run.imported and chat.id not in run.imported:
                        raise ExportFormatError(
                            "--username names one channel, but the exports hold several; "
                            "import them without --username"
                        )
                    run.imported.add(chat.id)
                    info = ChannelInfo(chat.id, chat.title, run.username)
                    await run.store.save_imported_channel(info, run.clock())
                    chat_now = chat
                try:
                    post = to_post(chat.id, raw)
                except MessageError as error:
                    reason = str(error)
                    if this_id is None and last_id is not None:  # say where the entry is
                        reason += f" (the entry after message {last_id})"
                    report.problems.append(ImportProblem(path, reason, this_id))
                    continue
                finally:
                    last_id = last_id if this_id is None else this_id
                if post is None:
                    report.skipped_service += 1
                    continue
                posts.append(post)
                if len(posts) >= run.batch_size:
                    await flush()
                elif len(posts) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
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
    parallel: Analysis | None = None,
    processes: int | None = None,
) -> ImportReport:
    """Import the exports at `paths`. With `parallel` (what `scorer` is, for the workers),
    exports of PARALLEL_FROM_BYTES or more are prepared by `processes` worker processes
    (default: `default_workers`)."""
    report = ImportReport()
    files = find_exports(paths, report)
    total_bytes = sum(path.stat().st_size for path in files)
    done_bytes = 0
    pool = None
    if parallel is not None and total_bytes >= PARALLEL_FROM_BYTES:
        pool = PreparePool(processes or default_workers(), parallel)
    writer = _Writer(store, report, pool)

    def progress(position: int, waiting: int) -> None:
        if on_progress is not None:
            on_progress(done_bytes + position, total_bytes, writer.stored + waiting)

    run = _Run(store, pipeline, clock, username, batch_size, report, writer, progress, scorer)
    try:
        for path in files:
            report.files.append(path)
            try:
                await _import_file(run, path)
            except BrokenProcessPool:
                # Killed from outside (the out-of-memory killer, say). Batches already
                # stored are whole, so running the import again finishes it.
                reason = (
                    "the worker processes stopped unexpectedly; run the import again to finish it"
                )
                report.problems.append(ImportProblem(path, reason))
                break
            done_bytes += path.stat().st_size if path.exists() else 0
    finally:
        if pool is not None:
            pool.close()
    # Learned here, once the posts are in, rather than by the first digest that needs it.
    await refresh_boilerplate(store, pipeline, report.channels, clock())
    return report

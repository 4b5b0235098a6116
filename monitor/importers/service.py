"""`import`: find exports, stream their channels' messages into the archive in batches.

Each batch is one transaction, and storing is idempotent, so an import stopped at any moment
(even by SIGKILL) and run again ends with exactly the archive one uninterrupted run gives.
"""

from __future__ import annotations

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
from monitor.ingest import ingest
from monitor.models import ChannelInfo, Post, StoreCounts
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


class _ChannelBatch:
    """Posts of the current channel waiting to be stored together."""

    def __init__(self) -> None:
        self.chat: ExportChat | None = None
        self.posts: list[Post] = []


async def import_exports(
    store: Store,
    pipeline: TextPipeline,
    paths: Iterable[Path],
    *,
    clock: Callable[[], datetime],
    username: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    report = ImportReport()
    files = find_exports(paths, report)
    total_bytes = sum(path.stat().st_size for path in files)
    done_bytes = 0
    other_chats: set[int] = set()
    imported: set[int] = set()
    stored = 0

    for path in files:
        report.files.append(path)
        batch = _ChannelBatch()

        async def flush(batch: _ChannelBatch = batch) -> None:
            nonlocal stored
            if batch.chat is not None and batch.posts:
                counts = await ingest(store, pipeline, batch.chat.id, batch.posts, clock())
                report.add(batch.chat, counts)
                stored += len(batch.posts)
                batch.posts = []

        def progress(position: int, base: int = done_bytes, batch: _ChannelBatch = batch) -> None:
            if on_progress is not None:
                on_progress(base + position, total_bytes, stored + len(batch.posts))

        last_id: Any = None
        try:
            with path.open("rb") as handle:
                for chat, raw in read_export(CountingReader(handle, progress)):
                    if not chat.is_channel:
                        if chat.id not in other_chats:
                            other_chats.add(chat.id)
                            report.skipped_chats += 1
                        continue
                    last_id = message_id_of(raw)
                    if batch.chat is None or batch.chat.id != chat.id:
                        await flush()
                        if username and imported and chat.id not in imported:
                            raise ExportFormatError(
                                "--username names one channel, but the exports hold several; "
                                "import them without --username"
                            )
                        imported.add(chat.id)
                        await store.save_channel(
                            ChannelInfo(chat.id, chat.title, username), "import", clock()
                        )
                        batch.chat = chat
                    try:
                        post = to_post(chat.id, raw)
                    except MessageError as error:
                        report.problems.append(ImportProblem(path, str(error), last_id))
                        continue
                    if post is None:
                        report.skipped_service += 1
                        continue
                    batch.posts.append(post)
                    if len(batch.posts) >= batch_size:
                        await flush()
            await flush()
        except ExportFormatError as error:
            await flush()
            after = f" (after message {last_id})" if last_id is not None else ""
            report.problems.append(ImportProblem(path, f"{error}{after}"))
        except OSError as error:
            report.problems.append(ImportProblem(path, f"cannot be read: {error.strerror}"))
        done_bytes += path.stat().st_size if path.exists() else 0
    return report

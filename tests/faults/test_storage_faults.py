"""The archive file refusing writes: a full disk, a file the system will not let grow, a
read-only file, a write lock held by another program. The command says so in one sentence and
exits 1, the archive is left as it was and sound, and once the cause is gone the same command
finishes the work, to exactly the archive it would have built undisturbed. The collector meets
the same faults in its passes: one line in the log, and the next pass catches up."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.ingest import ingest
from monitor.models import ChannelInfo, StoreCounts
from monitor.scheduler import catch_up_job
from monitor.store import Store
from monitor.store.base import StoreBase
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import World
from monitor.text import TextPipeline
from tests.conftest import Clock, channel_export, export_message, fill, make_post, run_cli
from tests.faults.conftest import (
    Archive,
    archive,
    assert_intact,
    assert_matches_world,
    bot,
    lock_held,
    outcome,
)

Outcome = tuple[int, str, str]
Fault = Callable[[Path, Path, pytest.MonkeyPatch], Outcome]  # (db, export, ...) -> import's


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A first export of a channel, then a later one: more posts, some edited, a second channel."""
    folder = tmp_path_factory.mktemp("exports")

    def message(i: int, edited: bool = False) -> dict[str, object]:
        if not edited:
            return export_message(i, f"Пост {i}: санкции, переговоры и обстрелы")
        return export_message(i, f"Пост {i}: исправлено", edited_unixtime=str(1731000000 + i))

    first = [channel_export([message(i) for i in range(1, 151)], 4001, "Первый")]
    second = [
        channel_export([message(i, i % 10 == 0) for i in range(1, 301)], 4001, "Первый"),
        channel_export([message(i) for i in range(1, 151)], 4002, "Второй"),
    ]
    paths = []
    for name, chats in (("first", first), ("second", second)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"chats": {"list": chats}}, ensure_ascii=False))
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def reference(exports: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Archive:
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    for export in exports:
        assert run_cli(None, "import", export, "--db", db)[0] == 0
    return archive(db)


# ---- the faults, each applied around one `import`, and lifted after it ------------------------


def disk_full(db: Path, export: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """SQLite's own full disk (SQLITE_FULL): the archive may not take one page more."""
    configure = StoreBase._configure

    async def no_room_left(store: StoreBase) -> None:
        await configure(store)
        pages = await store._scalar("PRAGMA page_count")
        await store._db.execute(f"PRAGMA max_page_count = {pages}")

    with monkeypatch.context() as patch:
        patch.setattr(StoreBase, "_configure", no_room_left)
        return run_cli(None, "import", export, "--db", db)


def file_may_not_grow(db: Path, export: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """The system refuses to write past the archive's size (a file size limit, EFBIG)."""
    limit = db.stat().st_size

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return outcome(bot("import", export, "--db", db, cwd=db.parent, preexec_fn=limited))


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SETPCAP, PR_CAPBSET_DROP = 1, 2, 8, 24


def _as_an_ordinary_user() -> None:
    """In the child, before exec: root ignores file modes, so it gives up the capabilities
    that let it; a user other than root needs nothing."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _can_give_up_root() -> bool:
    if os.geteuid() != 0:
        return True
    if sys.platform != "linux":
        return False
    status = Path("/proc/self/status").read_text()
    effective = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff")), 16)  # fmt: skip
    return bool(effective >> CAP_SETPCAP & 1)


def read_only(db: Path, export: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    if not _can_give_up_root():
        pytest.skip("running as root without the right to give up root's file access")
    files = [db, *db.parent.glob(f"{db.name}-*")]
    for path in files:
        path.chmod(0o400)  # read-only, and for its owner only, as the archive is made
    try:
        return outcome(bot("import", export, "--db", db, cwd=db.parent,
                           preexec_fn=_as_an_ordinary_user))  # fmt: skip
    finally:
        for path in [*files, *db.parent.glob(f"{db.name}-*")]:
            path.chmod(0o600)


def locked(db: Path, export: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Another program holds the write lock past the store's ten seconds of retrying."""
    with lock_held(db):
        return outcome(bot("import", export, "--db", db, cwd=db.parent))


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        (disk_full, "error: the disk holding {db} is full; nothing of the last batch was written"),
        pytest.param(file_may_not_grow, "error: writing to {db} failed: disk I/O error",
                     marks=pytest.mark.slow),
        pytest.param(read_only, "error: {db} is read-only; nothing was written",
                     marks=pytest.mark.slow),
        pytest.param(locked,
                     "error: {db} is locked by another process; try again when it has finished",
                     marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_an_import_the_archive_refuses_leaves_it_intact_and_can_be_run_again(
    fault: Fault, sentence: str, exports: tuple[Path, Path], reference: Archive, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    first, second = exports
    db = tmp_path / "archive.db"
    assert run_cli(None, "import", first, "--db", db)[0] == 0
    before = archive(db)

    code, out, err = fault(db, second, monkeypatch)
    assert (code, out, err.splitlines()) == (1, "", [sentence.format(db=db)])
    # Batches stored before the fault struck stay (each is whole); nothing stored earlier is
    # lost or rewritten: every post is still there, and the history only grew.
    after = archive(db)
    assert after.revisions[: len(before.revisions)] == before.revisions
    assert {post[:2] for post in before.posts} <= {post[:2] for post in after.posts}
    assert_intact(db)

    code, _, err = run_cli(None, "import", second, "--db", db)
    assert code == 0, err
    assert archive(db) == reference
    assert_intact(db)


async def test_a_lock_released_while_the_store_waits_lets_the_write_through(
    tmp_path: Path, pipeline: TextPipeline, clock: Clock
) -> None:
    db = tmp_path / "archive.db"
    async with await Store.open(db) as store:
        await store.save_channel(ChannelInfo(1001, "Канал"), "test", clock())
        with lock_held(db, seconds=0.5):
            # Locked now and for half a second more: the write has to wait for the lock.
            counts = await ingest(store, pipeline, 1001, [make_post(1, "текст")], clock())
        assert counts == StoreCounts(new=1)
        assert await store.post_count() == 1
        assert await store.verify_channel(1001, "Канал") is None


async def _no_room_left(store: Store) -> None:
    pages = await store._scalar("PRAGMA page_count")
    await store._db.execute(f"PRAGMA max_page_count = {pages}")


async def _read_only(store: Store) -> None:
    # Root ignores file modes, so the connection is made read-only instead of the file.
    await store._db.execute("PRAGMA query_only = 1")


@pytest.mark.parametrize(
    ("fault", "lift", "sentence"),
    [
        (_no_room_left, "PRAGMA max_page_count = 2147483646", "is full"),
        (_read_only, "PRAGMA query_only = 0", "is read-only"),
    ],
)
async def test_a_collector_pass_the_archive_refuses_is_logged_and_the_next_one_catches_up(
    fault: Callable[[Store], object], lift: str, sentence: str, world: World,
    collector: Collector, store: Store, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    channel = world.add_channel("Канал", "disk_chan")
    fill(world, channel, 50)
    await collector.add("@disk_chan")
    await catch_up_job(collector)
    fill(world, channel, 250)
    await fault(store)  # type: ignore[misc]
    with caplog.at_level(logging.WARNING):
        await catch_up_job(collector)  # must not raise: `run` goes on
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sentence in record.getMessage() and "the next pass tries again" in record.getMessage()
    assert record.exc_info is None  # one line, no traceback
    assert await store.post_count() == 50
    await store._db.execute(lift)
    await catch_up_job(collector)
    await assert_matches_world(store, world, [channel])

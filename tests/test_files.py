"""Opening the archive: created for its owner only, a readable one named, an old one
upgraded once however many processes open it at the same moment."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import pytest

from monitor.store import Store
from monitor.store.base import _statements as statements
from monitor.store.schema import LATEST_VERSION, MIGRATIONS
from tests.conftest import T0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask a user may have: what we create must not depend on it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


async def test_new_archive_and_folders_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "nested" / "monitor.db"
    async with await Store.open(path) as store:
        assert await store.allow_user(42, 1, T0) is True  # a write makes the -wal file
        assert mode(path) == 0o600
        assert mode(path.with_name("monitor.db-wal")) == 0o600
        assert mode(path.with_name("monitor.db-shm")) == 0o600
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "nested") == 0o700


async def test_an_existing_folder_is_left_alone(tmp_path: Path, open_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    async with await Store.open(shared / "monitor.db"):
        pass
    assert mode(shared) == 0o755


async def test_a_readable_archive_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "monitor.db"
    async with await Store.open(path):
        pass
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        async with await Store.open(path):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "readable by other users" in warnings[0]
    assert mode(path) == 0o644  # shared on purpose is the owner's call: warned, not changed


def old_archive(path: Path, version: int) -> None:
    """An archive left by an older release: the migrations up to `version` only."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode = WAL")
        for migration in MIGRATIONS[:version]:
            for statement in statements(migration.sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, '2024-11-01 00:00:00')",
                (migration.version, migration.name),
            )
        db.execute(f"PRAGMA user_version = {version:d}")
    db.close()


async def test_two_processes_upgrading_one_archive(tmp_path: Path) -> None:
    """The second opener read the old version before the first upgraded the file; it must
    find the upgrade done, not apply it again ("table bot_users already exists")."""
    path = tmp_path / "old.db"
    old_archive(path, 5)

    class Late(Store):
        other_process_done = False

        @asynccontextmanager
        async def write(self) -> AsyncIterator[aiosqlite.Connection]:
            if not Late.other_process_done:
                Late.other_process_done = True
                async with await Store.open(path):  # the other process wins the lock
                    pass
            async with super().write() as db:
                yield db

    async with await Late.open(path) as store:
        assert Late.other_process_done
        assert await store._scalar("PRAGMA user_version") == LATEST_VERSION
        applied = await store._scalar("SELECT count(*) FROM schema_migrations")
        assert applied == len(MIGRATIONS)

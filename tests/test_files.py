"""The archive and its folder are created for their owner only; a readable one is named."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Store
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

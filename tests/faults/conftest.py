"""What the fault tests share: the program and its stand-ins run as child processes, the state
they leave in an archive file, and faults of the simulated Telegram that follow its clock."""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from monitor.clock import ManualClock
from monitor.store import Store
from monitor.telegram.sandbox import SimChannel, World
from tests.conftest import NOW, run_cli, stored_view, world_view

ROOT = Path(__file__).resolve().parents[2]
# Columns saying when this process saw something: they differ between any two runs.
WHEN_SEEN = frozenset(
    {"id", "added_at", "first_seen_at", "updated_at", "seen_at", "last_read_at", "last_error_at",
     "last_swept_at",
     # When the channel's boilerplate was learned, and from which posts: derived, not kept.
     "boilerplate_learned_at", "boilerplate_through"}
)  # fmt: skip

# ---- child processes ---------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """An environment holding none of the program's settings a developer may have exported."""
    kept = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**kept, "PYTHONPATH": str(ROOT), **extra}


_children: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_child_left_behind() -> Iterator[None]:
    """A test that fails while its child runs (or sits stopped) kills it."""
    yield
    while _children:
        child = _children.pop()
        if child.poll() is None:
            child.kill()
            child.communicate()


def python(*args: str | Path, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    popen.setdefault("env", child_env())
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    child = subprocess.Popen([sys.executable, *map(str, args)], cwd=cwd, text=True, **popen)
    _children.append(child)
    return child


def bot(*args: str | Path, cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    """`python bot.py ARGS` as an analyst runs it, in `cwd` (where no .env is)."""
    return python(ROOT / "bot.py", *args, cwd=cwd, **popen)


def outcome(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out or "", err or ""


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str,
             timeout: float = 60) -> None:  # fmt: skip
    """Poll `condition` while the child runs: waiting on a real process, never on a clock."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the child ended ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)


@contextmanager
def lock_held(db: Path, seconds: float | None = None) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the archive's write lock, from entry until `seconds` have
    passed or, without them, until the block ends; it commits what it holds either way."""
    hold = [] if seconds is None else [str(seconds)]
    holder = python(
        "-m", "tests.faults.lock_holder", db, *hold, cwd=db.parent, stdin=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        code, _, err = outcome(holder)
    assert code == 0, err


# ---- what an archive file holds ------------------------------------------------------------------


def posts_stored(db: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.Error:  # not created yet, or its schema not yet written
        return 0


class Archive(NamedTuple):
    channels: list[tuple[Any, ...]]
    posts: list[tuple[Any, ...]]
    revisions: list[tuple[Any, ...]]


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    cursor = conn.execute(sql)
    keep = [i for i, column in enumerate(cursor.description) if column[0] not in WHEN_SEEN]
    return [tuple(row[i] for i in keep) for row in cursor]


def archive(db: Path) -> Archive:
    """Every channel, post and revision with every column but those saying when it was seen:
    two runs over the same input must give the same."""
    with closing(sqlite3.connect(db)) as conn:
        return Archive(
            _rows(conn, "SELECT * FROM channels ORDER BY id"),
            _rows(conn, "SELECT * FROM posts ORDER BY channel_id, message_id"),
            _rows(conn, "SELECT * FROM post_revisions ORDER BY id"),
        )


def assert_intact(db: Path) -> None:
    """SQLite finds the file sound, and `verify` every hash chain (`python bot.py verify`,
    run in this process: the same code, without a second of start-up)."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    code, out, err = run_cli(None, "verify", "--db", db)
    assert code == 0 and out.startswith("OK: "), out + err


# ---- the simulated Telegram under faults ---------------------------------------------------------


class FaultClock(ManualClock):
    """A manual clock that calls `on_sleep` hooks with the seconds waited, each time the code
    under test waits (a backoff, a flood wait, pacing), so that faults and Telegram's own
    activity follow its time."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.on_sleep: list[Callable[[float], None]] = []

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        for hook in self.on_sleep:
            hook(seconds)


@pytest.fixture
def manual_clock() -> FaultClock:
    return FaultClock(NOW)


def seeded_channels(world: World, rng: random.Random, count: int, posts: tuple[int, int],
                    prefix: str = "fault") -> list[SimChannel]:  # fmt: skip
    """`count` channels, each with a history of a seeded length, one post every 20 minutes."""
    channels = []
    for n in range(count):
        channel = world.add_channel(f"Канал {n}", f"{prefix}_{n:02d}")
        length = rng.randint(*posts)
        start = world.clock.now() - timedelta(minutes=20 * length)
        for i in range(length):
            world.post(channel, f"{prefix} {n}: сводка {i}, обстрелы и потери",
                       date=start + timedelta(minutes=20 * i), views=rng.randrange(10, 10_000))  # fmt: skip
        channels.append(channel)
    return channels


async def assert_matches_world(store: Store, world: World, channels: list[SimChannel]) -> None:
    """Every post Telegram shows is stored once with its current text; every stored post it no
    longer shows is marked deleted with its text kept; every hash chain holds."""
    for channel in channels:
        stored = await stored_view(store, channel.id)
        shown = world_view(world, channel.id)
        assert {i: text for i, (text, deleted) in stored.items() if not deleted} == shown
        assert {i for i, (_, deleted) in stored.items() if deleted} == stored.keys() - shown.keys()
        assert await store.verify_channel(channel.id, channel.title) is None
        async for post in store.export_posts([channel.id], with_revisions=True):
            # A deletion is a revision too, but no version.
            versions = [
                (r["text"], r["edit_date"]) for r in post["revisions"] if r["deleted_at"] is None
            ]
            assert versions and all(a != b for a, b in itertools.pairwise(versions)), post

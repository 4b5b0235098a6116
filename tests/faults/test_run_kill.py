"""`run` killed with SIGKILL in the middle of its backfill and started again ends with exactly
the archive an uninterrupted run gives: the same channels, posts, revisions and hashes, and
`verify` passes. The child is `tests.faults.collector_child`: the real `run` against a
simulated Telegram it rebuilds from a seed, so the restarted process meets the same world."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from monitor.sample.demo_posts import CHANNELS
from tests.faults.conftest import Archive, archive, assert_intact, outcome, python, wait_for

SEED = 7


def _run(db: Path, stop_at_page: int = 0) -> subprocess.Popen[str]:
    return python("-m", "tests.faults.collector_child", db, "--seed", str(SEED),
                  "--stop-at-page", str(stop_at_page), cwd=db.parent)  # fmt: skip


def _caught_up(db: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            states = conn.execute("SELECT backfill_state FROM channels").fetchall()
    except sqlite3.Error:  # not created yet
        return False
    return states == [("done",)] * len(CHANNELS)


def _run_until_caught_up(db: Path) -> tuple[int, int]:
    """Run until every channel's backfill is done, then stop it as a user would (SIGTERM);
    returns how many history pages it asked for and how many posts its catch-up read."""
    child = _run(db)
    wait_for(lambda: _caught_up(db), child, "the end of the backfill")
    child.send_signal(signal.SIGTERM)
    code, out, err = outcome(child)
    assert code == 0 and "Stopped." in out, out + err
    read = re.search(r"catch-up \(posts read\) done: (\d+)", err)
    assert read is not None, err
    return int(out.rsplit("history pages:", 1)[1]), int(read[1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Archive, int]:
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    pages, read = _run_until_caught_up(db)
    expected = archive(db)
    assert read == len(expected.posts)
    return expected, pages


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["first page", 1, 2, 3, "last page"])
def test_run_killed_in_its_backfill_resumes_to_the_same_archive(
    moment: str | int, reference: tuple[Archive, int], tmp_path: Path
) -> None:
    expected, pages = reference
    # The first page, the last (everything stored but the last channel not marked done), or
    # a page drawn with the moment as seed.
    page = {"first page": 1, "last page": pages}.get(str(moment)) or random.Random(moment).randint(
        2, pages - 1
    )
    db = tmp_path / "archive.db"
    child = _run(db, stop_at_page=page)
    _, status = os.waitpid(child.pid, os.WUNTRACED)  # until it stops itself at that page
    assert os.WIFSTOPPED(status), f"the child ended before history page {page} of {pages}"
    child.kill()
    assert outcome(child)[0] == -signal.SIGKILL
    interrupted = archive(db)
    assert not _caught_up(db)
    assert len(interrupted.posts) < len(expected.posts) or moment == "last page"

    # It went on from where the killed one stopped: no post was read twice.
    assert _run_until_caught_up(db)[1] == len(expected.posts) - len(interrupted.posts)
    assert archive(db) == expected
    assert_intact(db)

"""An import killed with SIGKILL at any moment and run again gives exactly the archive an
uninterrupted import gives: same posts, same revisions, same hashes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import channel_export, export_message

ROOT = Path(__file__).resolve().parents[2]
POSTS = 6000


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill")
    messages = []
    for i in range(1, POSTS + 1):
        extra = {"edited_unixtime": str(1730000000 + i * 60)} if i % 7 == 0 else {}
        messages.append(
            export_message(
                i, f"Пост {i}: Трамп, санкции и мирные переговоры, день {i % 30}", **extra
            )
        )
    export = {"chats": {"list": [
        channel_export(messages[: POSTS // 2], 4001, "Первый"),
        channel_export(messages[POSTS // 2 :], 4002, "Второй", "private_channel"),
    ]}}  # fmt: skip
    path = folder / "result.json"
    path.write_text(json.dumps(export, ensure_ascii=False))
    return path


def _import(db: Path, export: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "import", str(export), "--db", str(db)],
        cwd=db.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _posts_stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.Error:
        return 0


def _archive(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        posts = conn.execute(
            "SELECT channel_id, message_id, date, edit_date, text, entities, lemmas FROM posts "
            "ORDER BY channel_id, message_id"
        ).fetchall()
        revisions = conn.execute(
            "SELECT channel_id, message_id, date, text, edit_date, prev_hash, hash "
            "FROM post_revisions ORDER BY id"
        ).fetchall()
    return posts, revisions


@pytest.fixture(scope="module")
def reference(export_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    assert _import(db, export_file).wait(timeout=120) == 0
    return db


@pytest.mark.parametrize("kill_after_posts", [1, 1500, 4200])
def test_killed_import_resumes_to_the_same_archive(
    export_file: Path, reference: Path, tmp_path: Path, kill_after_posts: int
) -> None:
    db = tmp_path / "killed.db"
    process = _import(db, export_file)
    # Waiting on a real child process (not a timing assertion): poll until it has stored
    # enough to be killed in the middle of the import.
    deadline = time.monotonic() + 60
    while (
        _posts_stored(db) < kill_after_posts
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    interrupted_at = _posts_stored(db)
    assert interrupted_at < POSTS or kill_after_posts > POSTS - 1000

    resumed = _import(db, export_file)
    assert resumed.wait(timeout=120) == 0
    assert _archive(db) == _archive(reference)
    verify = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "verify", "--db", str(db)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr

"""An import killed with SIGKILL at any moment and run again gives exactly the archive an
uninterrupted import gives: same posts, same revisions, same hashes, and `verify` passes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import channel_export, export_message
from tests.faults.conftest import (
    Archive,
    archive,
    assert_intact,
    bot,
    outcome,
    posts_stored,
    wait_for,
)

POSTS = 6000  # two channels of 3000: batches of 2000 commit at 2000, 3000, 5000 and 6000 posts
# Kill moments, seeded: once this many posts are stored, and this many seconds later (the
# child may be reading, preparing or committing a batch then); 0 posts is during start-up.
# At most 3000 stored leaves a second of work to kill the import in.
KILLS = [
    (0 if n == 0 else rng.randint(1, 3000), round(rng.uniform(0, 0.3), 2))
    for n, rng in enumerate(random.Random(f"import-{n}") for n in range(3))
]


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    messages = []
    for i in range(1, POSTS + 1):
        edited: dict[str, Any] = {"edited_unixtime": str(1730000000 + i * 60)} if i % 7 == 0 else {}
        text = f"Пост {i}: Трамп, санкции и мирные переговоры, день {i % 30}"
        messages.append(export_message(i, text, **edited))
    export = {"chats": {"list": [
        channel_export(messages[: POSTS // 2], 4001, "Первый"),
        channel_export(messages[POSTS // 2 :], 4002, "Второй", "private_channel"),
    ]}}  # fmt: skip
    path = tmp_path_factory.mktemp("kill") / "result.json"
    path.write_text(json.dumps(export, ensure_ascii=False))
    return path


def _import(db: Path, export: Path) -> subprocess.Popen[str]:
    return bot("import", export, "--db", db, cwd=db.parent)


@pytest.fixture(scope="module")
def reference(export_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    code, _, err = outcome(_import(db, export_file))
    assert code == 0, err
    return archive(db)


@pytest.mark.slow
@pytest.mark.parametrize(("after_posts", "then_seconds"), KILLS)
def test_killed_import_resumes_to_the_same_archive(
    export_file: Path, reference: Archive, tmp_path: Path, after_posts: int, then_seconds: float
) -> None:
    db = tmp_path / "killed.db"
    process = _import(db, export_file)
    wait_for(lambda: posts_stored(db) >= after_posts, process, f"{after_posts} posts stored")
    try:
        process.wait(timeout=then_seconds)  # waiting on the child, to kill it later still
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    assert outcome(process)[0] == -signal.SIGKILL, "the import ended before it was killed"
    assert posts_stored(db) < POSTS

    code, _, err = outcome(_import(db, export_file))
    assert code == 0, err
    assert archive(db) == reference
    assert_intact(db)

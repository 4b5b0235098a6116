"""What `import` is given to read: files and folders, and anything else refused in a sentence."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from monitor.importers.service import ImportReport, find_exports

SAMPLE = Path(str(resources.files("monitor.sample").joinpath("sample_export.json")))
BOT = Path(__file__).resolve().parent.parent / "bot.py"


@pytest.fixture
def pipe_export(tmp_path: Path) -> Path:
    """A folder whose result.json is a named pipe: opening it waits for a writer for ever."""
    folder = tmp_path / "ChatExport"
    folder.mkdir()
    os.mkfifo(folder / "result.json")
    return folder


def test_only_regular_files_are_read(tmp_path: Path, pipe_export: Path) -> None:
    good = tmp_path / "good" / "result.json"
    good.parent.mkdir()
    good.write_bytes(SAMPLE.read_bytes())
    report = ImportReport()
    found = find_exports(
        [pipe_export, pipe_export / "result.json", good.parent, tmp_path / "missing.json",
         Path("/dev/zero")],
        report,
    )  # fmt: skip
    assert found == [good]
    reasons = [(problem.file, problem.reason) for problem in report.problems]
    not_regular = "is not a regular file; exports are read from files on disk"
    assert reasons == [
        (pipe_export / "result.json", not_regular),
        (pipe_export / "result.json", not_regular),
        (tmp_path / "missing.json", "no such file or folder"),
        (Path("/dev/zero"), not_regular),
    ]


def test_import_of_a_pipe_is_refused_at_once(tmp_path: Path, pipe_export: Path) -> None:
    # A child process with a time limit: were the pipe opened, this test would wait for ever.
    done = subprocess.run(
        [sys.executable, str(BOT), "import", str(pipe_export), "--db", str(tmp_path / "a.db")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is not a regular file" in done.stderr and "Traceback" not in done.stderr

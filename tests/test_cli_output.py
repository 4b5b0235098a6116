"""What the command line prints from outside text: nothing a terminal or a spreadsheet runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from monitor.cli.archive import spreadsheet_safe
from monitor.cli.context import terminal_safe
from tests.conftest import WriteExport, channel_export, export_message, run_cli

# A title and a post that would clear the screen, retitle the window, hide a line behind a
# carriage return, and use a C1 control (CSI) and DEL.
HOSTILE_TITLE = "Канал\x1b]0;pwned\x07\x1b[2J"
HOSTILE_TEXT = "Трамп заявил\rТрамп ничего не сказал \x1b[31mкрасным\x1b[0m \x9b1m конец\x7f"


pytestmark = pytest.mark.usefixtures("isolated")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*argv: str, terminal: bool = False) -> tuple[int, str, str]:
    return run_cli(None, *argv, out=Terminal() if terminal else None)


@pytest.fixture
def hostile_db(tmp_path: Path, write_export: WriteExport) -> str:
    path = str(tmp_path / "hostile.db")
    messages = [
        export_message(1, HOSTILE_TEXT),
        export_message(2, '=HYPERLINK("http://example.invalid","Трамп")'),
        export_message(3, "-5 градусов, Трамп"),
        export_message(4, "+7 999 Трамп"),
        export_message(5, "@rybar пишет про Трамп"),
        export_message(6, "\tТрамп"),
        export_message(7, "Трамп, обычный текст"),
    ]
    export = write_export(channel_export(messages, name=HOSTILE_TITLE))
    assert run("import", str(export), "--db", path)[0] == 0
    return path


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain текст", "plain текст"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),
        ("\x1b[2J", "?[2J"),
        ("a\rb", "a?b"),
        ("\x00\x07\x7f\x9b", "????"),
        ("\u202eRTL mark stays", "\u202eRTL mark stays"),
    ],
)
def test_terminal_safe(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


@pytest.mark.parametrize(
    "argv",
    [
        ("search", "Трамп", "--limit", "20"),
        ("stats",),
        ("channels", "list"),
        ("digest", "--since", "2024-01-01", "--until", "2030-01-01"),
    ],
)
def test_no_control_character_reaches_a_terminal(hostile_db: str, argv: tuple[str, ...]) -> None:
    code, out, _ = run(*argv, "--db", hostile_db, terminal=True)
    assert code == 0
    assert "Канал?]0;pwned??[2J" in out  # the title, shown but harmless
    if argv[0] == "search":
        assert "красным" in out and "\x1b[1m" in out  # our own bold still reaches the terminal
        out = out.replace("\x1b[1m", "").replace("\x1b[0m", "")
    assert not any(c in out for c in "\x1b\r\x07\x7f\x9b")


def test_json_and_pipes_stay_exact(hostile_db: str) -> None:
    code, out, _ = run("search", "Трамп", "--json", "--limit", "20", "--db", hostile_db)
    assert code == 0
    texts = {hit["text"] for hit in json.loads(out)}
    assert HOSTILE_TEXT in texts
    code, out, _ = run("channels", "list", "--db", hostile_db)  # not a terminal: exact
    assert code == 0 and HOSTILE_TITLE in out


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+7 999", "'+7 999"),
        ("-5 градусов", "'-5 градусов"),
        ("@rybar", "'@rybar"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Трамп", "Трамп"),
        ("", ""),
        (-5, -5),
        (None, None),
    ],
)
def test_spreadsheet_safe(cell: object, written: object) -> None:
    assert spreadsheet_safe(cell) == written


def test_csv_cells_never_start_a_formula(hostile_db: str) -> None:
    code, out, _ = run("export", "--format", "csv", "--db", hostile_db)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    texts = {row["text"] for row in rows}
    assert '\'=HYPERLINK("http://example.invalid","Трамп")' in texts
    assert "'-5 градусов, Трамп" in texts and "Трамп, обычный текст" in texts
    # JSON lines keep every text exactly as posted.
    code, out, _ = run("export", "--format", "jsonl", "--db", hostile_db)
    exact = {json.loads(line)["text"] for line in out.splitlines()}
    assert "-5 градусов, Трамп" in exact and "\tТрамп" in exact

"""The command line as a user runs it: exit codes, output formats, one-sentence errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from monitor.cli import main
from tests.conftest import run_cli

SAMPLE = Path(str(resources.files("monitor.sample").joinpath("sample_export.json")))
pytestmark = pytest.mark.usefixtures("isolated")


def run(*argv: str) -> tuple[int, str, str]:
    return run_cli(None, *argv)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    assert run("import", str(SAMPLE), "--db", path)[0] == 0
    return path


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("import", "search", "channels", "export", "verify", "stats", "demo"):
        assert command in text


def test_default_database_is_created_under_data(tmp_path: Path) -> None:
    code, out, _ = run("import", str(SAMPLE))
    assert code == 0
    assert (tmp_path / "data" / "monitor.db").is_file()
    assert "12 new posts" in out


def test_a_bad_setting_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_API_ID", "abc")
    code, _, err = run("stats")
    assert code == 2
    assert err.strip() == "error: TG_API_ID must be an integer, got 'abc'"


def test_dotenv_in_the_working_folder_is_read(tmp_path: Path, db: str) -> None:
    (tmp_path / ".env").write_text(f"DB_PATH={db}\nTIMEZONE=Europe/Moscow\n")
    code, out, _ = run("stats")
    assert code == 0
    assert "MSK" in out and "Фронтовая сводка" in out


def test_import_twice_adds_nothing(db: str) -> None:
    code, out, _ = run("import", str(SAMPLE), "--db", db)
    assert code == 0
    assert "0 new posts" in out and "12 already stored" in out


def test_search_json(db: str) -> None:
    code, out, _ = run("search", "Трамп", "--json", "--db", db, "--order", "date")
    assert code == 0
    hits = json.loads(out)
    assert [h["message_id"] for h in hits] == [107, 106, 203, 102]
    assert set(hits[0]) >= {"channel", "channel_id", "message_id", "date", "url", "snippet", "text"}
    assert hits[0]["date"] == "2024-11-07T10:20:00+00:00"
    assert hits[0]["url"] == "https://t.me/c/1700000001/107"
    assert "**Трампом**" in hits[0]["snippet"]


def test_search_text_and_filters(db: str) -> None:
    code, out, _ = run(
        "search", "санкции", "--channel", "1700000002", "--since", "2024-11-04", "--db", db
    )
    assert code == 0
    assert "https://t.me/c/1700000002/202" in out and "1700000001" not in out
    code, out, _ = run("search", "Путин", "--db", db)
    assert (code, out.strip()) == (0, "No posts match.")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["search", "и", "в"], 1, "error: The query has only very common words"),
        (["search", "x" * 10_000], 1, "error: The query is 10,000 characters long"),
        (
            ["search", "Трамп", "--channel", "@nobodyhere"],
            1,
            "No archived channel is called @nobodyhere",
        ),
        (["search", "Трамп", "--since", "yesterday"], 2, "--since: needs a date as YYYY-MM-DD"),
        (["search", "Трамп", "--limit", "0"], 2, "expected 1 or more"),
        (["export", "--format", "xml"], 2, "invalid choice"),
        (["import", "/nonexistent/result.json"], 1, "no such file or folder"),
    ],
)
def test_bad_input_is_one_clear_sentence(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    try:
        got, _, err = run(*argv, "--db", db)
    except SystemExit as exited:  # argparse reports usage errors itself
        got, err = int(exited.code or 0), capsys.readouterr().err
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 100)
    code, _, err = run("stats", "--db", str(path))
    assert code == 1
    assert "is not an SQLite database" in err
    assert path.read_text() == "hello\n" * 100


def test_export_jsonl_and_csv_hold_every_field(db: str) -> None:
    code, out, _ = run("export", "--format", "jsonl", "--revisions", "--db", db)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 12
    edited = next(r for r in records if r["message_id"] == 106)
    assert edited["edit_date"] == "2024-11-06T09:00:00+00:00"
    assert edited["revisions"][0]["hash"] and edited["revisions"][0]["text"] == edited["text"]
    bold = next(r for r in records if r["message_id"] == 102)
    assert bold["entities"] == [{"type": "bold", "offset": 35, "length": 5}]
    reacted = next(r for r in records if r["message_id"] == 103)
    assert reacted["reactions"] == 44 and reacted["reactions_detail"] == {"👍": 41, "🤡": 3}

    code, out, _ = run("export", "--format", "csv", "--channel", "1700000002", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5
    assert {r["channel_id"] for r in rows} == {"1700000002"}
    assert rows[3]["post_author"] == "Редакция"


def test_verify_passes_then_names_the_altered_post(db: str) -> None:
    code, out, _ = run("verify", "--db", db)
    assert code == 0 and out.startswith("OK: 2 channel(s), 12 revisions")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE post_revisions SET text = 'подделка' WHERE message_id = 106")
    code, _, err = run("verify", "--db", db)
    assert code == 1
    assert "ALTERED: revision" in err and "message 106 in Фронтовая сводка" in err


def test_stats_and_channels_json(db: str) -> None:
    code, out, _ = run("stats", "--json", "--db", db)
    stats = json.loads(out)
    assert code == 0
    # Message 106 was edited before the export was made: one version, an edit date.
    assert stats["totals"] == {
        "channels": 2, "posts": 12, "deleted": 0, "revised": 0, "edited_before_read": 1
    }  # fmt: skip
    code, out, _ = run("channels", "list", "--json", "--db", db)
    channels = json.loads(out)
    assert code == 0
    assert {c["id"]: c["posts"] for c in channels} == {1700000001: 7, 1700000002: 5}
    assert all(c["active"] is False for c in channels)


def test_an_imported_archive_is_measured_over_its_own_span(db: str) -> None:
    # Neither channel is followed: each is judged up to its last post, not from today.
    code, out, _ = run("stats", "--json", "--db", db)
    health = {c["channel"]: c["health"] for c in json.loads(out)["channels"]}
    assert code == 0
    assert {
        name: (h["state"], h["posts_per_day"], h["last_post"]) for name, h in health.items()
    } == {
        "Фронтовая сводка": ("imported, not followed", 0.96, "2024-11-08T14:00:00+00:00"),
        "Официальный вестник": ("imported, not followed", 0.68, "2024-11-09T20:00:00+00:00"),
    }  # 7 posts over 7.3 days, 5 over 7.4
    code, out, _ = run("stats", "--db", db)
    assert code == 0
    assert any(
        line.startswith("Фронтовая сводка") and " 1.0 " in line and "imported, not followed" in line
        for line in out.splitlines()
    )
    code, out, _ = run("channels", "list", "--json", "--db", db)
    assert {c["title"]: c["health"] for c in json.loads(out)} == health
    code, out, _ = run("channels", "list", "--db", db)
    assert code == 0
    assert "1.0/day  last post 2024-11-08 14:00 UTC  imported, not followed" in out.splitlines()[1]


def test_the_digest_of_an_imported_archive_says_how_top_posts_are_ranked(db: str) -> None:
    code, out, _ = run("digest", "--since", "2024-11-01", "--until", "2024-11-09", "--db", db)
    assert code == 0
    top = out[out.index("Top posts:") : out.index("Deleted:")]
    # Фронтовая сводка's export kept reactions; Официальный вестник's posts carry no counters.
    assert (
        "  - no view counts in an imported archive: top posts of Официальный вестник are ranked "
        "by forwards and replies within the archive, then by time\n"
    ) in top
    assert "Фронтовая сводка: https://t.me/c/1700000001/103 " in top  # its 44 reactions
    health = out[out.index("Collection health:") :]
    assert "Фронтовая сводка: imported, not followed, last post 2024-11-08 14:00 UTC" in health


def test_demo_runs_the_bot_against_the_simulated_telegram() -> None:
    code, out, _ = run("demo")
    assert code == 0
    assert "Done reading Записки с передовой: " in out  # the /add exchange, backfill included
    assert "Olga → bot: /search Трамп санкции" in out and "Results 1–5" in out
    # Each of the bot's messages is printed once, the replies that came later included.
    for title in ("Записки с передовой", "Два полковника", "Сводка дня", "Тыловой вестник"):
        assert out.count(f"Following {title};") == 1 and out.count(f"Done reading {title}:") == 1
    saved = Path(out.split("(the chart is saved at ", 1)[1].split(")", 1)[0])
    magic = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff"}
    assert saved.read_bytes().startswith(magic[saved.suffix])  # named by its real format
    digest = out[out.index("📋 Digest") :]
    for planted in ("«Трамп» in @frontline_notes", "tone +", "Copy-paste campaigns",
                    "🗑 @svodka_dnya", "was: Трамп оказался"):  # fmt: skip
        assert planted in digest
    assert "[picture] Трамп: 26 posts in 30 days" in digest  # the chart after the digest


def test_the_demo_refuses_the_network() -> None:
    import socket

    from monitor.demo import NetworkRefused, loopback_only

    with loopback_only(), socket.socket() as sock, pytest.raises(NetworkRefused):
        sock.connect(("149.154.167.51", 443))  # one of Telegram's addresses


def test_watch_commands(db: str) -> None:
    code, out, _ = run("watch", "add", "Трамп", "--alias", "Trump", "--db", db)
    assert code == 0 and "4 posts so far" in out
    code, out, _ = run("watch", "add", "санкции", "--channel", "1700000002", "--db", db)
    assert code == 0 and "2 posts so far" in out
    code, _, err = run("watch", "add", "Трамп", "--db", db)
    assert code == 1 and "'Трамп' is already watched" in err
    code, _, err = run("watch", "add", "🔥", "--db", db)
    assert code == 1 and "has no words to watch" in err
    code, out, _ = run("watch", "list", "--json", "--db", db)
    listed = {t["term"]: t for t in json.loads(out)}
    assert listed["Трамп"]["aliases"] == ["Трамп", "Trump"] and listed["Трамп"]["posts"] == 4
    assert listed["санкции"]["channel"] == "Официальный вестник"
    code, out, _ = run("watch", "remove", "трамп", "--db", db)
    assert code == 0 and "No longer watching 'Трамп'" in out
    code, _, err = run("watch", "remove", "Трамп", "--db", db)
    assert code == 1 and "is not watched" in err


def test_a_worker_process_running_bot_py_again_imports_none_of_the_command_line() -> None:
    # spawn runs the main script's top level again, as __mp_main__, in every worker process
    # (the import's and the digest's); the command line's imports cost them a second or more.
    script = Path(__file__).resolve().parent.parent / "bot.py"
    probe = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name='__mp_main__')\n"
        "print(sorted(m for m in ('monitor.cli', 'telethon', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_export_shows_where_each_version_was_read(db: str) -> None:
    digest = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    code, out, _ = run("export", "--format", "jsonl", "--revisions", "--db", db)
    [record, *_] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and record["source"] == "import"
    [revision] = record["revisions"]
    assert (revision["source"], revision["source_file"], revision["source_sha256"]) == (
        "import", str(SAMPLE), digest,
    )  # fmt: skip
    code, out, _ = run("export", "--format", "csv", "--revisions", "--db", db)
    [row, *_] = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and row["source"] == "import"
    assert json.loads(row["revisions"])[0]["source_sha256"] == digest


def _rehash(db: str, channel_id: int) -> None:
    """A forger's last step: every hash of the channel computed again, the head stored."""
    from monitor.store.chain import _recomputed

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        head = ""
        for row in conn.execute(
            "SELECT * FROM post_revisions WHERE channel_id = ? ORDER BY id", (channel_id,)
        ).fetchall():
            new = _recomputed(head, channel_id, row)
            conn.execute("UPDATE post_revisions SET prev_hash = ?, hash = ? WHERE id = ?",
                         (head, new, row["id"]))  # fmt: skip
            head = new
        conn.execute("UPDATE channels SET chain_head = ? WHERE id = ?", (head, channel_id))


def test_a_published_head_catches_a_rehashed_archive_and_a_channel_deleted_whole(
    db: str, tmp_path: Path
) -> None:
    code, out, _ = run("chain-head", "--json", "--db", db)
    heads = json.loads(out)
    assert code == 0
    assert [(h["channel_id"], h["revisions"]) for h in heads] == [(1700000001, 7), (1700000002, 5)]
    published = tmp_path / "heads.json"
    published.write_text(out)
    code, out, _ = run("chain-head", "--channel", "1700000002", "--db", db)
    assert code == 0 and out.startswith(
        f"Официальный вестник (channel id 1700000002): {heads[1]['head']}"
    )
    assert run("verify", "--expect", str(published), "--db", db)[0] == 0

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE posts SET text = 'подделка' WHERE message_id = 106")
        conn.execute("UPDATE post_revisions SET text = 'подделка' WHERE message_id = 106")
    _rehash(db, 1700000001)
    code, out, _ = run("verify", "--db", db)
    assert code == 0 and out.startswith("OK")  # recomputed: the archive alone cannot tell
    code, _, err = run("verify", "--expect", str(published), "--db", db)
    assert code == 1
    assert "ALTERED: Фронтовая сводка (channel id 1700000001): the published head" in err

    with sqlite3.connect(db) as conn:  # the forged channel removed instead, every trace of it
        for table in ("post_revisions", "posts", "channels"):
            column = "id" if table == "channels" else "channel_id"
            conn.execute(f"DELETE FROM {table} WHERE {column} = 1700000001")
    assert run("verify", "--db", db)[0] == 0
    code, _, err = run("verify", "--expect", str(published), "--db", db)
    assert code == 1 and "channel id 1700000001" in err and "no longer in the archive" in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        ("{not json", "it is not JSON"),
        ('{"channel_id": 1, "head": ""}', "it should hold a JSON list of heads"),
        ('[{"head": ""}]', "entry 1 has no whole-number channel_id"),
        ('[{"channel_id": true, "head": ""}]', "entry 1 has no whole-number channel_id"),
        ('[{"channel_id": 1, "head": "abc"}]', "entry 1 has no head of 64 hexadecimal digits"),
        ('[{"channel_id": 1, "head": ""}, "x"]', "entry 2 has no whole-number channel_id"),
    ],
)
def test_a_bad_file_of_heads_is_one_sentence(
    db: str, tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "heads.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run("verify", "--expect", str(path), "--db", db)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {path} cannot be used: {reason}")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_stats_say_which_edits_were_seen(db: str) -> None:
    code, out, _ = run("stats", "--db", db)
    assert code == 0
    header, *_, total, legend = out.splitlines()
    assert "revised" in header and "edited early" in header
    assert total.split()[1:5] == ["12", "0", "0", "1"]
    assert legend.startswith("revised: edited while archived")

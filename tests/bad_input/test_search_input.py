"""Any search a person can type, through the real search() over a real archive and through
the command line: matching posts or one sentence, never an SQLite error or a traceback.
tests/test_query.py covers the parser's grammar; these go through every layer under it."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import UTC, date, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from monitor.cli import main
from monitor.search.query import QueryError
from monitor.search.service import search
from monitor.store import Keyset, SearchOrder, Store
from monitor.text import TextPipeline
from tests.bad_input.conftest import LARGE_REPORTS, SAMPLE, Loop, examples
from tests.bad_input.strategies import around, date_words, dates, hostile_text, one_sentence

pytestmark = LARGE_REPORTS

SAMPLE_CHANNELS = (1700000001, 1700000002)
# How people name the sample's channels (imported without usernames), and names it lacks.
CHANNEL_REFS = st.one_of(
    st.sampled_from(["1700000001", "-1001700000002", "t.me/c/1700000002/5", "@rybar", "rybar"]),
    hostile_text(max_pieces=3),
)
# Words of the sample's posts, in other forms than they were written in.
SAMPLE_WORDS = ["Трампа", "санкциями", "выборах", "сводки", "переговоров", "#Бахмут", "фронту"]
ZONES = [UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")]  # +14 h, -11 h


@examples(250)
@given(
    query=st.one_of(
        hostile_text(surrogates=True), around(SAMPLE_WORDS), st.sampled_from(SAMPLE_WORDS)
    ),
    channels=st.one_of(st.just([]), st.lists(CHANNEL_REFS, max_size=2)),
    since=st.one_of(st.none(), st.none(), dates()),
    until=st.one_of(st.none(), st.none(), dates()),
    order=st.sampled_from(["relevance", "date"]),
    limit=st.integers(1, 30),
    after=st.one_of(
        st.none(),
        st.builds(Keyset, st.datetimes(timezones=st.just(UTC)), st.integers(-(2**63), 2**63 - 1)),
    ),
    zone=st.sampled_from(ZONES),
)
@example(query="Трамп until:9999-12-31", channels=[], since=None, until=None, order="date",
         limit=5, after=None, zone=UTC)  # fmt: skip
@example(query="Трамп since:0001-01-01", channels=[], since=None, until=None, order="date",
         limit=5, after=None, zone=ZONES[1])  # fmt: skip
@example(query="Трамп", channels=[], since=date.min, until=date.max, order="relevance",
         limit=5, after=None, zone=ZONES[2])  # fmt: skip
@example(query="Трамп channel:99999999999999999999", channels=[], since=None, until=None,
         order="date", limit=5, after=None, zone=UTC)  # fmt: skip
@example(query="Трамп", channels=["t.me/c/123456789012345678901234"], since=None, until=None,
         order="date", limit=5, after=None, zone=UTC)  # fmt: skip
@example(query="Трамп", channels=["x" * 100_000], since=None, until=None, order="date",
         limit=5, after=None, zone=UTC)  # fmt: skip
def test_any_search_gives_matching_posts_or_one_sentence(
    loop: Loop, sample_archive: Store, pipeline: TextPipeline, query: str, channels: list[str],
    since: date | None, until: date | None, order: SearchOrder, limit: int, after: Keyset | None, zone: tzinfo,
) -> None:  # fmt: skip
    try:
        result = loop(
            search(
                sample_archive, pipeline, query, channels=channels, since=since, until=until,
                order=order, limit=limit, after=after if order == "date" else None, zone=zone,
            )
        )  # fmt: skip
    except QueryError as error:
        assert one_sentence(str(error)), str(error)[:300]
        event("a sentence")
        return
    hits = result.hits
    event("posts found" if hits else "no posts")
    assert len(hits) <= limit
    assert len({(h.post.channel_id, h.post.message_id) for h in hits}) == len(hits)
    first, last = since or result.query.since, until or result.query.until
    for hit in hits:
        assert hit.post.channel_id in SAMPLE_CHANNELS
        day = hit.post.date.astimezone(zone).date()
        assert (first is None or day >= first) and (last is None or day <= last)
        assert hit.snippet, "a hit shows where it matched"
    if order == "date":
        keys = [(h.post.date, h.post.id) for h in hits]
        assert keys == sorted(keys, reverse=True)
        assert after is None or all(key < after for key in keys)


def test_a_query_that_matches_finds_the_post_whatever_hides_in_it(
    loop: Loop, sample_archive: Store, pipeline: TextPipeline
) -> None:
    """The positive side of the property above: marks and joiners do not hide a word."""
    result = loop(search(sample_archive, pipeline, "\u202eТр\u200dа\u200bмп\u200f\x00"))
    assert {h.post.message_id for h in result.hits} >= {102}


# ---- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipeline: TextPipeline) -> str:
    """The sample imported by the command line itself, in a folder with no .env, with the
    session's text pipeline (building one per command costs a second per example)."""
    monkeypatch.chdir(tmp_path)
    for name in ("DB_PATH", "DATA_DIR", "TIMEZONE", "LOG_LEVEL", "TG_API_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("monitor.cli.context.TextPipeline", lambda: pipeline)
    path = str(tmp_path / "cli.db")
    assert run_cli("import", str(SAMPLE), "--db", path)[0] == 0
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command, argparse's own exits included."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(list(argv), out=out, err=err)
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else 2
    return code, out.getvalue(), err.getvalue()


# A command line cannot carry NUL; undecodable bytes arrive as lone surrogates.
ARGUMENT = hostile_text(surrogates=True).map(lambda text: text.replace("\x00", ""))


@st.composite
def search_argv(draw: st.DrawFn) -> list[str]:
    words = st.one_of(ARGUMENT, around(SAMPLE_WORDS))
    argv = ["search", *draw(st.lists(words, min_size=1, max_size=3))]
    options: dict[str, st.SearchStrategy[str]] = {
        "--channel": st.one_of(CHANNEL_REFS, ARGUMENT),
        "--since": date_words(),
        "--until": date_words(),
        "--limit": st.one_of(st.integers(-5, 10**30).map(str), ARGUMENT),
        "--order": st.one_of(st.sampled_from(["date", "relevance"]), ARGUMENT),
    }
    for option in draw(st.lists(st.sampled_from(sorted(options)), unique=True)):
        argv += [option, draw(options[option]).replace("\x00", "")]
    if draw(st.booleans()):
        argv.append("--json")
    return argv


# argparse's own complaints repeat what was typed; ours are kept short.
ARGPARSE_ECHOES = ("unrecognized arguments:", "invalid choice:", "expected one argument")


@examples(120)
@given(argv=search_argv(), zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"]))
@example(argv=["search", "Трамп", "--until", "9999-12-31"], zone="UTC")
@example(argv=["search", "Трамп", "--since", "0001-01-01"], zone="Pacific/Kiritimati")
@example(argv=["search", "Трамп", "--channel", "99999999999999999999"], zone="UTC")
@example(argv=["search", "Трамп", "--channel", "@" + "x" * 100_000], zone="UTC")
@example(argv=["search", "Трамп", "--limit", "9" * 100_000], zone="UTC")
@example(argv=["search", "\udcff\udcfe"], zone="UTC")
@example(argv=["search", "Трамп", "--limit", "99999999999999999999"], zone="UTC")
def test_cli_search_exits_0_1_or_2_with_one_line_on_stderr(
    cli_db: str, monkeypatch: pytest.MonkeyPatch, argv: list[str], zone: str
) -> None:
    monkeypatch.setenv("TIMEZONE", zone)
    code, out, err = run_cli(*argv, "--db", cli_db)
    event(f"exit {code}")
    assert "Traceback" not in err
    if code == 0:
        assert err == ""
        if "--json" in (argv[: argv.index("--")] if "--" in argv else argv):  # "--": all words
            assert isinstance(json.loads(out), list)
        else:
            assert out.strip()
        return
    lines = err.splitlines()
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), err[:300]
        assert one_sentence(lines[0]), lines[0][:300]
        return
    assert code == 2, (code, err[:300])
    assert lines and re.match(r"bot\.py( search)?: error: ", lines[-1]), err[-300:]
    if not any(echo in lines[-1] for echo in ARGPARSE_ECHOES):
        assert one_sentence(lines[-1]), lines[-1][:300]

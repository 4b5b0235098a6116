"""bench.channels_dev: Telethon markdown back into text and entities, and the CSVs of real
channels as Telegram Desktop exports the real importer reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.channels_dev import (
    channel_id,
    export_parts,
    find_data,
    parse_markdown,
    write_exports,
)
from monitor.importers.service import import_exports
from monitor.importers.tdesktop import to_post
from monitor.store import Store
from monitor.text import TextPipeline

# Words without markdown's own characters, with emoji that take two UTF-16 units each.
_CHARACTERS = [*'абвгдеёжзийклмнопрстуфхцчшщъыьэюяABCxyz0123.,!?«»"-', "😀", "🇷🇺", "🔹", "⚡️"]
_WORD = st.lists(st.sampled_from(_CHARACTERS), min_size=1, max_size=8).map("".join)
_TEXT = st.lists(_WORD, min_size=1, max_size=4).map(" ".join)
_URL = st.from_regex(r"https://[a-z]{1,8}\.ru/[a-z0-9/?=&%-]{0,12}", fullmatch=True)
_MARKS = {"bold": "**", "italic": "__", "strikethrough": "~~", "code": "`"}
# (kind, text, target): plain text, a delimited entity, a link, a link inside bold, or bold
# inside a link.
_SEGMENT = st.one_of(
    st.tuples(st.just("plain"), _TEXT, st.none()),
    st.tuples(st.sampled_from(sorted(_MARKS)), _TEXT, st.none()),
    st.tuples(st.just("text_link"), _TEXT, _URL),
    st.tuples(st.just("bold_link"), _TEXT, _URL),
    st.tuples(st.just("link_bold"), _TEXT, _URL),
)


def _markdown(kind: str, text: str, url: str | None) -> str:
    if kind == "plain":
        return text
    if kind == "text_link":
        return f"[{text}]({url})"
    if kind == "bold_link":
        return f"**[{text}]({url})**"
    if kind == "link_bold":
        return f"[**{text}**]({url})"
    return f"{_MARKS[kind]}{text}{_MARKS[kind]}"


def _utf16_slice(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le")
    return units[2 * offset : 2 * (offset + length)].decode("utf-16-le")


@given(st.lists(_SEGMENT, min_size=1, max_size=6))
def test_markdown_gives_the_text_and_every_entity_at_its_utf16_place(
    segments: list[tuple[str, str, str | None]],
) -> None:
    # Segments are joined by a space, as posts write them: "**a****b**" is Telethon's own
    # ambiguity, not a case this converter can settle.
    markdown = " ".join(_markdown(*segment) for segment in segments)
    text, entities = parse_markdown(markdown)
    assert text == " ".join(t for _, t, _ in segments).strip()
    expected = []
    for kind, piece, url in segments:
        if kind == "bold_link":
            expected += [("bold", piece.strip(), None), ("text_link", piece.strip(), url)]
        elif kind == "link_bold":
            expected += [("text_link", piece.strip(), url), ("bold", piece.strip(), None)]
        elif kind != "plain":
            expected.append((kind, piece.strip(), url))
    found = [(e.type, _utf16_slice(text, e.offset, e.length).strip(), e.href) for e in entities]
    assert found == expected
    # The export's parts join into the same text, and each link's part keeps its target.
    parts = export_parts(text, entities)
    assert "".join(part["text"] for part in parts) == text
    assert [p["href"] for p in parts if p["type"] == "text_link"] == [
        url for kind, _, url in segments if url is not None
    ]


def test_the_importer_reads_the_parts_back_at_the_same_utf16_offsets() -> None:
    text, entities = parse_markdown("⚡️**Хабаровск** спущен, [сообщило](https://ria.ru/1) МО")
    message = {
        "id": 5,
        "date_unixtime": "1761000000",
        "text_entities": export_parts(text, entities),
    }
    post = to_post(1, message)
    assert post is not None
    assert post.text == "⚡️Хабаровск спущен, сообщило МО"
    assert post.entities == [
        {"type": "bold", "offset": 2, "length": 9},
        {"type": "text_link", "offset": 20, "length": 8, "href": "https://ria.ru/1"},
    ]


def test_a_bold_line_split_around_a_link_reads_back_whole() -> None:
    # How Telethon writes a bold headline whose middle word is a link (RIA, TASS, mos.ru).
    text, entities = parse_markdown("**Главное из **[**брифинга**](https://t.me/x/1)** МО:**")
    assert text == "Главное из брифинга МО:"
    assert [(e.type, e.offset, e.length) for e in entities] == [
        ("bold", 0, 11), ("text_link", 11, 8), ("bold", 11, 8), ("bold", 19, 4)
    ]  # fmt: skip


def test_a_lone_delimiter_stays_text() -> None:
    assert parse_markdown("2 ** 3 и snake_case") == ("2 ** 3 и snake_case", [])


def test_the_ids_are_stable_and_distinct() -> None:
    assert channel_id("rian_ru") == channel_id("RIAN_RU") == 1_964_496_233
    assert len({channel_id(n) for n in ("rian_ru", "tass_agency", "rbc_news", "d_code")}) == 4


CSV = (
    "id,date,text,views,forwards,replies\n"
    '12,2025-10-26T09:15:00+00:00,"**Срочно**: [ЦБ](https://cbr.ru) снизил ставку 🔥\n\n'
    '🔹 [Подписаться](https://t.me/demo_news)",1500,12,\n'
    "11,2025-10-25T23:59:59+00:00,,300,,\n"
    '10,2025-10-25T08:00:00+00:00,"Доброе утро",7.0,1.0,2.0\n'
)


async def test_exports_import_through_the_real_importer(
    tmp_path: Path, store: Store, pipeline: TextPipeline
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo_news.csv").write_text(CSV, encoding="utf-8")
    files = write_exports(data, tmp_path / "exports")
    export = json.loads(files["demo_news"].read_text(encoding="utf-8"))
    assert (export["name"], export["type"], export["id"]) == (
        "demo_news", "public_channel", channel_id("demo_news")
    )  # fmt: skip
    # Oldest first, as Telegram Desktop writes them; the counters kept for readers.
    assert [(m["id"], m.get("views")) for m in export["messages"]] == [
        (10, 7), (11, 300), (12, 1500)
    ]  # fmt: skip

    report = await import_exports(
        store, pipeline, [files["demo_news"]], clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        username="demo_news",
    )  # fmt: skip
    assert not report.problems
    posts = [
        p
        async for p in store.period_posts(
            datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
        )
    ]
    assert [(p.message_id, p.date, p.text) for p in posts] == [
        (10, datetime(2025, 10, 25, 8, 0, tzinfo=UTC), "Доброе утро"),
        (11, datetime(2025, 10, 25, 23, 59, 59, tzinfo=UTC), ""),
        (
            12,
            datetime(2025, 10, 26, 9, 15, tzinfo=UTC),
            "Срочно: ЦБ снизил ставку 🔥\n\n🔹 Подписаться",
        ),
    ]
    # Real exports carry no view counts, and the importer reads none.
    assert {p.views for p in posts} == {None}
    assert "ставка" in posts[2].lemmas.split()


def test_an_absent_data_folder_is_named_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find_data(tmp_path / "nowhere") is None
    said = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in said and said.count("\n") == 1

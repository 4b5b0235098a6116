"""The query language: parsing table by table, and no input ever surfacing an SQLite error."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.models import LIVE, ChannelInfo
from monitor.search.query import MAX_QUERY_CHARS, QueryError, parse_query
from monitor.search.service import search
from monitor.store import Store
from monitor.text import TextPipeline
from tests.conftest import T0, make_post


@pytest.mark.parametrize(
    ("query", "fts"),
    [
        ("Трампа", '"трамп"'),
        ("Трамп санкции", '"трамп" AND "санкция"'),
        ('"мирные переговоры"', '"мирный переговоры"'),
        ("«мирных переговоров»", '"мирный переговоры"'),
        ("Трамп OR Байден", '("трамп" OR "байден")'),
        ("Трамп | Байден", '("трамп" OR "байден")'),
        ("Трамп AND Байден", '"трамп" AND "байден"'),
        ("Трамп -Байден", '"трамп" NOT ("байден")'),
        ("Трамп NOT Байден", '"трамп" NOT ("байден")'),
        ('Трамп -"мирные переговоры"', '"трамп" NOT ("мирный переговоры")'),
        ("#СВО", '"#сво"'),
        ("F-16", '"f 16"'),
        ("Трамп и Байден", '"трамп" AND "байден"'),  # stopword dropped
        ("OR Трамп", '"трамп"'),  # leading OR ignored
        ("Трамп OR", '"трамп"'),  # trailing OR ignored
        ('"Трамп', '"трамп"'),  # unbalanced quote closes at the end
        ("Трамп*", '"трамп"'),
        ("NEAR(Трамп Байден)", '"near трамп" AND "байден"'),  # no NEAR group: just words
        ("lemmas:Трамп", '"lemma трамп"'),  # no column filter: just words
        ("Трамп 🔥", '"трамп"'),
        ("стали", '("стать" OR "сталь")'),
    ],
)
def test_fts_expression(pipeline: TextPipeline, query: str, fts: str) -> None:
    assert parse_query(query, pipeline).fts() == fts


def test_filters(pipeline: TextPipeline) -> None:
    parsed = parse_query("Трамп channel:@rybar since:2024-11-01 until:2024-11-30", pipeline)
    assert parsed.channels == ("@rybar",)
    assert parsed.since == date(2024, 11, 1)
    assert parsed.until == date(2024, 11, 30)
    assert parsed.fts() == '"трамп"'


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("", "no words"),
        ("   ", "no words"),
        ("🔥🔥🔥", "no words"),
        ("*", "no words"),
        ('""', "no words"),
        ("AND OR NOT", "no words"),
        ("и в на", "only very common words"),
        ("-Трамп", "only excludes"),
        ("Трамп since:2024-13-01", "since: needs a date as YYYY-MM-DD"),
        ("Трамп until:вчера", "until: needs a date"),
        ("Трамп since:", "since: needs a value"),
        ("Трамп since:2024-11-30 until:2024-11-01", "is before"),
        ("а" * (MAX_QUERY_CHARS + 1), "characters long"),
        (" ".join(f"слово{i}" for i in range(40)), "too many words"),
    ],
)
def test_unsearchable_queries_get_one_sentence(
    pipeline: TextPipeline, query: str, sentence: str
) -> None:
    with pytest.raises(QueryError, match=sentence) as raised:
        parse_query(query, pipeline)
    message = str(raised.value)
    assert "\n" not in message and "sqlite" not in message.lower()


def test_quoted_stopwords_are_searchable(pipeline: TextPipeline) -> None:
    expression = parse_query('"в том числе"', pipeline).fts()
    assert expression.startswith('("в тот число" OR ')


def test_control_characters_are_spaces(pipeline: TextPipeline) -> None:
    assert parse_query("Трамп\x00Байден\x07", pipeline).fts() == '"трамп" AND "байден"'


HOSTILE = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            ['"', "(", ")", "*", "^", ":", "-", "+", "AND", "OR", "NOT", "NEAR(", "NEAR/2",
             "lemmas:", "{", "}", "Трамп", "санкции", "и", "🔥", "\x00", "\u202e", "\u200d",
             "channel:", "since:", "until:", "channel:@testchan", "since:2024-11-01", "'", "\\",
             "#", "@", "ё", " "]
        ),
        max_size=20,
    ).map(" ".join),
)  # fmt: skip


def test_no_query_surfaces_an_error_other_than_a_sentence(pipeline: TextPipeline) -> None:
    """Every input gives results or a QueryError, run through a real SQLite FTS5 index."""
    with tempfile.TemporaryDirectory() as folder, asyncio.Runner() as runner:
        store = runner.run(Store.open(Path(folder) / "q.db"))
        runner.run(store.save_channel(ChannelInfo(1001, "Канал", "testchan"), "test", T0))
        runner.run(
            store.store_posts(
                1001,
                [
                    _prepared(pipeline, 1, "Трамп ввёл санкции"),
                    _prepared(pipeline, 2, "мирные переговоры и #Бахмут"),
                ],
                T0,
                source=LIVE,
            )
        )

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(query=HOSTILE)
        def check(query: str) -> None:
            try:
                result = runner.run(search(store, pipeline, query))
            except QueryError as error:
                assert str(error) and "\n" not in str(error)
            else:
                assert all(hit.post.channel_id == 1001 for hit in result.hits)

        try:
            check()
        finally:
            runner.run(store.close())


def _prepared(pipeline: TextPipeline, message_id: int, text: str):  # type: ignore[no-untyped-def]
    from monitor.ingest import prepare

    return prepare(make_post(message_id, text), pipeline)

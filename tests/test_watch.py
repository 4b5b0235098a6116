"""Watchlists: patterns through the text pipeline, counts rebuilt from history and kept up
to date as posts arrive and change."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from monitor.ingest import ingest
from monitor.models import LIVE, ChannelInfo
from monitor.store import Store
from monitor.text import TextPipeline
from monitor.watch import WatchError, add_term, patterns, remove_term
from tests.conftest import T0, Clock, make_post


@pytest.mark.parametrize(
    ("term", "aliases", "expected"),
    [
        ("Трамп", [], [("Трамп", "трамп")]),
        ("Трампа", ["Trump"], [("Трампа", "трамп"), ("Trump", "trump")]),
        ("Tрамп", [], [("Tрамп", "трамп")]),  # Latin T folded
        ("Бахмут", ["Артёмовск", "Бахмута"], [("Бахмут", "бахмут"), ("Артёмовск", "артемовск")]),
        ("мирные переговоры", [], [("мирные переговоры", "мирный переговоры")]),
        ("#СВО", [], [("#СВО", "#сво сво")]),
    ],
)
def test_patterns(
    pipeline: TextPipeline, term: str, aliases: list[str], expected: list[tuple[str, str]]
) -> None:
    assert patterns(pipeline, term, aliases) == expected


@pytest.mark.parametrize(
    ("term", "aliases", "message"),
    [
        ("🔥", [], "has no words to watch"),
        ("Трамп", ["!!!"], "has no words to watch"),
        (" ".join(["слово"] * 9), [], "too long"),
        ("Трамп", [f"имя{i}" for i in range(21)], "at most 20 aliases"),
    ],
)
def test_bad_terms(pipeline: TextPipeline, term: str, aliases: list[str], message: str) -> None:
    with pytest.raises(WatchError, match=message):
        patterns(pipeline, term, aliases)


@pytest.fixture
async def archive(store: Store, pipeline: TextPipeline, clock: Clock) -> Store:
    await store.save_channel(ChannelInfo(1001, "Первый", "first"), "test", clock())
    await store.save_channel(ChannelInfo(2002, "Второй", "second"), "test", clock())
    day = timedelta(days=1)
    await ingest(store, pipeline, 1001, [
        make_post(1, "Трамп победил", date=T0),
        make_post(2, "Снова Трампа обсуждают, Трамп везде", date=T0),
        make_post(3, "Trump wins", date=T0 + day),
        make_post(4, "мирных переговоров не будет", date=T0 + day),
        make_post(5, "переговоры и мирные жители", date=T0 + day),
        make_post(6, "#Бахмут держится", date=T0 + 2 * day),
    ], clock())  # fmt: skip
    await ingest(
        store,
        pipeline,
        2002,
        [make_post(1, "Трамп и Артёмовск", channel_id=2002, date=T0)],
        clock(),
    )
    return store


async def test_counts_are_built_from_history(
    archive: Store, pipeline: TextPipeline, clock: Clock
) -> None:
    trump = await add_term(archive, pipeline, "Трамп", ["Trump"], None, "test", clock())
    assert await archive.watch_counts(trump.id) == {
        (1001, "2024-11-01"): 2, (1001, "2024-11-02"): 1, (2002, "2024-11-01"): 1,
    }  # fmt: skip
    talks = await add_term(archive, pipeline, "мирные переговоры", [], None, "test", clock())
    assert await archive.watch_counts(talks.id) == {(1001, "2024-11-02"): 1}  # in order only
    bakhmut = await add_term(archive, pipeline, "Бахмут", ["Артёмовск"], "@first", "test", clock())
    assert await archive.watch_counts(bakhmut.id) == {(1001, "2024-11-03"): 1}  # one channel only


async def test_counts_follow_new_posts_and_edits(
    archive: Store, pipeline: TextPipeline, clock: Clock
) -> None:
    trump = await add_term(archive, pipeline, "Трамп", [], None, "test", clock())
    mine = await add_term(archive, pipeline, "Трамп", [], "second", "test", clock())
    await ingest(
        archive,
        pipeline,
        2002,
        [make_post(2, "Трампом недовольны", channel_id=2002, date=T0)],
        clock(),
    )
    assert await archive.watch_counts(trump.id) == {
        (1001, "2024-11-01"): 2,
        (2002, "2024-11-01"): 2,
    }
    assert await archive.watch_counts(mine.id) == {(2002, "2024-11-01"): 2}
    # An edit drops the mention from post 1 and adds one to post 5.
    await ingest(archive, pipeline, 1001, [
        make_post(1, "Байден победил", date=T0, edit_date=T0 + timedelta(hours=1)),
        make_post(5, "Трамп и мирные жители", date=T0 + timedelta(days=1), edit_date=T0 + timedelta(days=1, hours=1)),
    ], clock())  # fmt: skip
    counts = await archive.watch_counts(trump.id)
    assert counts == {(1001, "2024-11-01"): 1, (1001, "2024-11-02"): 1, (2002, "2024-11-01"): 2}
    # Storing the same posts again changes nothing.
    await ingest(
        archive,
        pipeline,
        1001,
        [
            make_post(
                5,
                "Трамп и мирные жители",
                date=T0 + timedelta(days=1),
                edit_date=T0 + timedelta(days=1, hours=1),
            )
        ],
        clock(),
    )
    assert await archive.watch_counts(trump.id) == counts


async def test_add_and_remove_errors(archive: Store, pipeline: TextPipeline, clock: Clock) -> None:
    await add_term(archive, pipeline, "Трамп", [], None, "test", clock())
    with pytest.raises(WatchError, match="already watched"):
        await add_term(archive, pipeline, "трамп", [], None, "test", clock())
    with pytest.raises(WatchError, match="No archived channel is called @nobody_here"):
        await add_term(archive, pipeline, "Путин", [], "@nobody_here", "test", clock())
    removed = await remove_term(archive, "ТРАМП", None)
    assert await archive.watch_terms() == []
    assert await archive.watch_counts(removed.id) == {}
    with pytest.raises(WatchError, match="is not watched"):
        await remove_term(archive, "Трамп", None)


async def _mentioned(store: Store, term_id: int) -> set[int]:
    counts = await store.watch_counts(term_id)
    rows = await store._db.execute_fetchall(
        "SELECT p.message_id FROM watch_mentions w JOIN posts p ON p.id = w.post_id "
        "WHERE w.term_id = ?",
        (term_id,),
    )
    assert sum(counts.values()) == len(rows)  # the counts follow the mentions
    return {row[0] for row in rows}


async def test_mentions_found_against_an_older_watchlist_are_found_again(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    from monitor.ingest import prepare

    trump = await add_term(store, pipeline, "Трамп", [], None, "test", T0)
    before = await store.watch_patterns(1001)
    sanctions = await add_term(store, pipeline, "санкции", [], None, "test", T0)
    items = [
        dataclasses.replace(prepare(make_post(i, text), pipeline), mentions=mentions)
        for i, text, mentions in [
            (1, "Трамп и санкции", (trump.id,)),  # matched before санкции was watched
            (2, "Только санкции", ()),
        ]
    ]
    await store.store_posts(1001, items, clock(), matched=before, source=LIVE)
    assert await _mentioned(store, trump.id) == {1}
    assert await _mentioned(store, sanctions.id) == {1, 2}


async def test_two_edits_in_one_batch_leave_the_mentions_of_the_last(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    term = await add_term(store, pipeline, "Трамп", [], None, "test", T0)
    await ingest(store, pipeline, 1001, [make_post(1, "Трамп приехал")], clock())
    edits = [
        make_post(1, "Никто не приехал", edit_date=T0 + timedelta(hours=1)),
        make_post(1, "Трамп всё-таки приехал", edit_date=T0 + timedelta(hours=2)),
        make_post(2, "Трамп уехал"),
        make_post(2, "Все уехали", edit_date=T0 + timedelta(hours=3)),
    ]
    await ingest(store, pipeline, 1001, edits, clock())
    assert await _mentioned(store, term.id) == {1}

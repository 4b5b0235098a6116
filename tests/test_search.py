"""Search end to end over a real index: word forms, phrases, operators, filters, snippets."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.ingest import ingest
from monitor.models import ChannelInfo
from monitor.search.query import QueryError
from monitor.search.service import search
from monitor.search.snippet import render_segments, snippet_segments
from monitor.store import Keyset, SearchTimeout, Store, TimeBudget
from monitor.text import TextPipeline
from tests.conftest import T0, Clock, make_post

POSTS = {
    1: "Трамп выиграл выборы.",
    2: "Все говорят о Трампе и его команде.",
    3: "Встреча с Трампом назначена на понедельник.",
    4: "Письмо Трампу отправлено.",
    5: "Без Трампа ничего не решится.",
    6: "Новые санкции против банков.",
    7: "Пакет санкций утвердили.",
    8: "Угрожают санкциями.",
    9: "Начались мирные переговоры в Стамбуле.",
    10: "Итоги мирных переговоров неясны.",
    11: "Переговоры идут, но мирные жители страдают.",
    12: "Байден и Трамп снова спорят.",
    13: "Tрамп с латинской буквой в начале.",
    14: "Погода в Москве.",
}


@pytest.fixture
async def archive(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> Store:
    await store.save_channel(ChannelInfo(2002, "Другой канал", "otherchan"), "test", clock())
    posts = [make_post(i, text, date=T0 + timedelta(days=i)) for i, text in POSTS.items()]
    await ingest(store, pipeline, 1001, posts, clock())
    await ingest(
        store, pipeline, 2002, [make_post(1, "Трамп в другом канале", channel_id=2002)], clock()
    )
    return store


async def _ids(
    archive: Store, pipeline: TextPipeline, query: str, **options
) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    result = await search(archive, pipeline, query, limit=50, **options)
    return {(hit.post.channel_id, hit.post.message_id) for hit in result.hits}


def _in_main(*ids: int) -> set[tuple[int, int]]:
    return {(1001, i) for i in ids}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Трамп", _in_main(1, 2, 3, 4, 5, 12, 13) | {(2002, 1)}),
        ("Трампом", _in_main(1, 2, 3, 4, 5, 12, 13) | {(2002, 1)}),
        ("санкции", _in_main(6, 7, 8)),
        ("санкциями", _in_main(6, 7, 8)),
        ('"мирные переговоры"', _in_main(9, 10)),
        ('"переговоры мирные"', set()),
        ("мирные переговоры", _in_main(9, 10, 11)),
        ("Байден OR санкций", _in_main(6, 7, 8, 12)),
        ("Трамп -Байден channel:@testchan", _in_main(1, 2, 3, 4, 5, 13)),
        ("Трамп channel:otherchan", {(2002, 1)}),
        ("Трамп channel:t.me/otherchan", {(2002, 1)}),
        ("Трамп channel:2002", {(2002, 1)}),
        ("Трамп since:2024-11-04 until:2024-11-05", _in_main(3, 4)),
        ("погода", _in_main(14)),
        ("ТРАМП", _in_main(1, 2, 3, 4, 5, 12, 13) | {(2002, 1)}),
        ("Тpамп", _in_main(1, 2, 3, 4, 5, 12, 13) | {(2002, 1)}),  # Latin р in the query
        ("Путин", set()),
    ],
)
async def test_search(
    archive: Store, pipeline: TextPipeline, query: str, expected: set[tuple[int, int]]
) -> None:
    assert await _ids(archive, pipeline, query) == expected


async def test_unknown_channel_filter_is_one_sentence(
    archive: Store, pipeline: TextPipeline
) -> None:
    with pytest.raises(QueryError, match="No archived channel is called @nobodyhere"):
        await search(archive, pipeline, "Трамп channel:@nobodyhere")


async def test_days_follow_the_readers_time_zone(archive: Store, pipeline: TextPipeline) -> None:
    # Post 3 is at 2024-11-04 12:00 UTC, which is still 2024-11-04 in Kyiv but
    # 2024-11-05 01:00 in Auckland.
    kyiv = await _ids(
        archive,
        pipeline,
        "Трамп",
        since=date(2024, 11, 4),
        until=date(2024, 11, 4),
        zone=ZoneInfo("Europe/Kyiv"),
    )
    auckland = await _ids(
        archive,
        pipeline,
        "Трамп",
        since=date(2024, 11, 5),
        until=date(2024, 11, 5),
        zone=ZoneInfo("Pacific/Auckland"),
    )
    assert kyiv == _in_main(3)
    assert auckland == _in_main(3)


async def test_paging_reports_more(archive: Store, pipeline: TextPipeline) -> None:
    first = await search(archive, pipeline, "Трамп", order="date", limit=3)
    last = first.hits[-1].post
    second = await search(
        archive, pipeline, "Трамп", order="date", limit=3, after=Keyset(last.date, last.id)
    )
    assert first.has_more and second.has_more
    assert not {h.post.id for h in first.hits} & {h.post.id for h in second.hits}
    assert [h.post.date for h in first.hits] == sorted(
        (h.post.date for h in first.hits), reverse=True
    )
    with pytest.raises(ValueError):  # relevance has no keyset order
        await search(archive, pipeline, "Трамп", after=Keyset(last.date, last.id))


async def _pages(store: Store, pipeline: TextPipeline, query: str, limit: int) -> list[list[int]]:
    """The message ids of every page of a date-ordered search, each after the one before."""
    pages: list[list[int]] = []
    after = None
    while True:
        result = await search(store, pipeline, query, order="date", limit=limit, after=after)
        pages.append([hit.post.message_id for hit in result.hits])
        if not result.has_more:
            return pages
        last = result.hits[-1].post
        after = Keyset(last.date, last.id)


# PROBE_COST decides between walking the posts by date and reading every match: 0 walks the
# whole archive, 4 walks a stretch of the 45 newest posts (none match) and reads the rest
# from the index, a million reads every match from the index.
@pytest.mark.parametrize("probe_cost", [0, 4, 1_000_000])
async def test_date_pages_are_the_same_whichever_way_they_are_read(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo,
    monkeypatch: pytest.MonkeyPatch, probe_cost: int,
) -> None:  # fmt: skip
    from monitor.store import search as store_search

    monkeypatch.setattr(store_search, "PROBE_COST", probe_cost)
    # 100 posts an hour apart: the older half mention Трамп, the newer half do not.
    posts = [
        make_post(i, "Трамп и санкции" if i <= 50 else "Погода", date=T0 + timedelta(hours=i))
        for i in range(1, 101)
    ]
    # Two posts in the same second, and one stored last but dated among the first: the
    # order is by date, then by id.
    posts[10] = make_post(11, "Трамп", date=posts[9].date)
    await ingest(store, pipeline, 1001, posts, clock())
    await ingest(store, pipeline, 1001, [make_post(200, "Трамп", date=T0 + timedelta(hours=2, minutes=30))], clock())  # fmt: skip
    expected = [*range(50, 11, -1), 11, 10, *range(9, 2, -1), 200, 2, 1]
    pages = await _pages(store, pipeline, "Трамп", 4)
    assert [m for page in pages for m in page] == expected
    assert [len(page) for page in pages] == [4] * 12 + [3]


async def test_a_search_past_its_time_budget_is_stopped_and_the_next_one_runs(
    archive: Store, pipeline: TextPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.store import search as store_search

    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 1)  # a tiny archive: look every step
    ticks = itertools.count(step=10)  # ten seconds pass each time the clock is read
    with pytest.raises(SearchTimeout):
        await search(archive, pipeline, "Трамп", budget=TimeBudget(5, clock=lambda: next(ticks)))
    again = await search(archive, pipeline, "Трамп", budget=TimeBudget(5))
    assert len(again.hits) == 8


async def test_an_archive_in_memory_is_searched_too(
    pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    async with await Store.open(":memory:") as store:
        await store.save_channel(channel, "test", clock())
        await ingest(store, pipeline, 1001, [make_post(1, "Трамп прилетел")], clock())
        result = await search(store, pipeline, "Трамп", order="date", budget=TimeBudget(5))
        assert [hit.post.message_id for hit in result.hits] == [1]


async def test_hits_carry_links_and_highlighted_snippets(
    archive: Store, pipeline: TextPipeline
) -> None:
    result = await search(
        archive, pipeline, "Трамп channel:@testchan since:2024-11-04 until:2024-11-04"
    )
    [hit] = result.hits
    assert hit.post.url == "https://t.me/testchan/3"
    assert render_segments(list(hit.snippet)) == "Встреча с **Трампом** назначена на понедельник."


def test_long_posts_are_cut_around_the_match(pipeline: TextPipeline) -> None:
    text = "Начало. " + "слово " * 200 + "Здесь упомянут Трамп. " + "хвост " * 200
    snippet = render_segments(snippet_segments(text, pipeline.tokens(text), {"трамп"}, width=120))
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "**Трамп**" in snippet
    assert len(snippet) < 160


def test_snippet_without_a_match_shows_the_start(pipeline: TextPipeline) -> None:
    text = "Первая строка\nвторая строка"
    assert (
        render_segments(snippet_segments(text, pipeline.tokens(text), {"трамп"}))
        == "Первая строка вторая строка"
    )


async def test_relevance_over_many_matches_is_judged_among_the_latest_stored(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from monitor.store import search as store_search

    monkeypatch.setattr(store_search, "RANK_WINDOW", 3)
    # The oldest post says Трамп most often, so it would rank first over all matches.
    texts = ["Трамп Трамп Трамп", *(f"Трамп и погода номер {i}" for i in range(2, 7))]
    await ingest(store, pipeline, 1001, [make_post(i, t) for i, t in enumerate(texts, 1)], clock())
    assert await _ids(store, pipeline, "Трамп") == _in_main(4, 5, 6)
    # A filter looks at every match, so the oldest is found (and ranks first).
    filtered = await search(store, pipeline, "Трамп channel:1001", limit=50)
    assert next(hit.post.message_id for hit in filtered.hits) == 1
    assert len(filtered.hits) == 6
    by_date = await _ids(store, pipeline, "Трамп", order="date")
    assert by_date == _in_main(1, 2, 3, 4, 5, 6)

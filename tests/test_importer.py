"""Telegram Desktop exports: conversion table, whole files, idempotency, malformed input."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.importers.service import ImportReport, import_exports
from monitor.importers.tdesktop import MessageError, to_post
from monitor.store import Store
from monitor.text import TextPipeline
from tests.conftest import T0, Clock, WriteExport, channel_export, export_message

UNIX = int(T0.timestamp())


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ({"text": "просто текст"}, "text", "просто текст"),
        ({"text": ["Жирный ", {"type": "bold", "text": "Трамп"}, "!"]}, "text", "Жирный Трамп!"),
        ({"text": ["😀 ", {"type": "bold", "text": "да"}]}, "entities", [{"type": "bold", "offset": 3, "length": 2}]),
        ({"text": ["x"], "text_entities": [{"type": "plain", "text": "a "}, {"type": "text_link", "text": "тут", "href": "https://e.x"}]},
         "entities", [{"type": "text_link", "offset": 2, "length": 3, "href": "https://e.x"}]),
        ({"date": "2000-01-01T00:00:00", "date_unixtime": str(UNIX)}, "date", T0),
        ({"edited": "x", "edited_unixtime": str(UNIX + 60)}, "edit_date", T0 + timedelta(minutes=1)),
        ({"forwarded_from": "Два майора", "forwarded_from_id": "channel1234"}, "forward_from_id", 1234),
        ({"forwarded_from": "Два майора"}, "forward_from", "Два майора"),
        ({"reply_to_message_id": 7}, "reply_to", 7),
        ({"author": "Редактор"}, "post_author", "Редактор"),
        ({"photo": "photos/1.jpg"}, "media_type", "photo"),
        ({"file": "files/a.mp4", "media_type": "video_file"}, "media_type", "video_file"),
        ({"file": "files/a.pdf"}, "media_type", "document"),
        ({"poll": {"question": "?"}}, "media_type", "poll"),
        ({}, "media_type", None),
        ({"reactions": [{"type": "emoji", "count": 5, "emoji": "👍"}, {"type": "custom_emoji", "count": 2, "document_id": "9"}]},
         "reactions", {"👍": 5, "custom:9": 2}),
    ],
)  # fmt: skip
def test_to_post(extra: dict[str, Any], field: str, expected: Any) -> None:
    raw = {"id": 5, "type": "message", "date_unixtime": str(UNIX), "text": ""}
    raw.update(extra)
    post = to_post(1001, raw)
    assert post is not None
    assert getattr(post, field) == expected


def test_service_messages_are_skipped() -> None:
    assert to_post(1001, {"id": 5, "type": "service", "action": "pin_message"}) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"date_unixtime": "1"}, "'id' is missing"),
        ({"id": "abc", "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": True, "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": float("inf"), "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": float("nan"), "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": 1.5, "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": 2**70, "date_unixtime": "1"}, "'id' should be a whole number"),
        ({"id": -4, "date_unixtime": "1"}, "'id' should be positive"),
        ({"id": 1, "date": "2024-01-01T00:00:00"}, "'date_unixtime' is missing"),
        ({"id": 1, "date_unixtime": "99999999999999999"}, "not a possible time"),
        ({"id": 1, "date_unixtime": "1", "text": 5}, "'text' should be a string or a list"),
        ({"id": 1, "date_unixtime": "1", "text": ["a", 5]}, "a text part should be"),
        ({"id": 1, "date_unixtime": "1", "reactions": "many"}, "'reactions' should be a list"),
        ({"id": 1, "date_unixtime": "1", "author": ["x"]}, "'author' should be text"),
        ("not an object", "a message should be an object"),
    ],
)
def test_malformed_messages(raw: Any, message: str) -> None:
    with pytest.raises(MessageError, match=message):
        to_post(1001, raw)


async def _import(
    store: Store, pipeline: TextPipeline, clock: Clock, *paths: Path, **options: Any
) -> ImportReport:
    return await import_exports(store, pipeline, list(paths), clock=clock, **options)


async def _texts(store: Store) -> dict[tuple[int, int], str]:
    return {(r["channel_id"], r["message_id"]): r["text"] async for r in store.export_posts()}


async def test_single_channel_export(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    messages = [export_message(i, f"пост {i}") for i in range(1, 6)]
    messages.insert(
        2, {"id": 99, "type": "service", "date_unixtime": str(UNIX), "action": "pin_message"}
    )
    messages.append(export_message(6, "", photo="photos/p.jpg"))
    path = write_export(channel_export(messages))
    report = await _import(store, pipeline, clock, path, username="testchan")
    assert report.problems == []
    assert report.totals.new == 6 and report.skipped_service == 1
    records = [r async for r in store.export_posts()]
    assert [r["message_id"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["url"] == "https://t.me/testchan/1"
    assert records[5]["media_type"] == "photo" and records[5]["text"] == ""


async def test_full_account_export_imports_channels_only(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    export = {
        "about": "...",
        "chats": {"about": "...", "list": [
            channel_export([export_message(1, "привет")], 55, "Мама", "personal_chat"),
            channel_export([export_message(1, "раз"), export_message(2, "два")], 2001, "Канал А"),
            channel_export([export_message(1, "три")], 2002, "Канал Б", "private_channel"),
            channel_export([export_message(1, "группа")], 2003, "Группа", "private_supergroup"),
        ]},
        "left_chats": {"about": "...", "list": [channel_export([export_message(9, "ушли")], 2004, "Покинутый")]},
    }  # fmt: skip
    report = await _import(store, pipeline, clock, write_export(export))
    assert report.problems == [] and report.skipped_chats == 2
    assert await _texts(store) == {
        (2001, 1): "раз",
        (2001, 2): "два",
        (2002, 1): "три",
        (2004, 9): "ушли",
    }
    assert [r["url"] async for r in store.export_posts([2002])] == ["https://t.me/c/2002/1"]


async def test_folders_and_several_paths(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    first = write_export(channel_export([export_message(1, "а")], 3001, "Один"))
    second = write_export(channel_export([export_message(1, "б")], 3002, "Два"))
    report = await _import(store, pipeline, clock, first.parent.parent)  # the folder holding both
    assert len(report.files) == 2 and set(report.channels) == {3001, 3002}
    report = await _import(store, pipeline, clock, first, second)
    assert report.totals.unchanged == 2 and report.totals.new == 0


async def test_username_with_several_channels_is_refused(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    export = {
        "chats": {
            "list": [
                channel_export([export_message(1, "a")], 1),
                channel_export([export_message(1, "b")], 2),
            ]
        }
    }
    report = await _import(store, pipeline, clock, write_export(export), username="onechan")
    assert "--username names one channel" in str(report.problems[0])


async def test_importing_twice_adds_nothing_and_a_newer_export_adds_revisions(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    old = write_export(
        channel_export([export_message(i, f"версия 1 поста {i}") for i in range(1, 4)])
    )
    await _import(store, pipeline, clock, old)
    again = await _import(store, pipeline, clock, old)
    assert (again.totals.new, again.totals.revised, again.totals.unchanged) == (0, 0, 3)
    newer = [export_message(i, f"версия 1 поста {i}") for i in range(1, 4)]
    newer[1] = export_message(2, "версия 2", edited_unixtime=str(UNIX + 3600))
    newer.append(export_message(4, "новый"))
    report = await _import(store, pipeline, clock, write_export(channel_export(newer)))
    assert (report.totals.new, report.totals.revised, report.totals.unchanged) == (1, 1, 2)
    [record] = [r async for r in store.export_posts(with_revisions=True) if r["message_id"] == 2]
    assert [r["text"] for r in record["revisions"]] == ["версия 1 поста 2", "версия 2"]
    assert await store.verify_channel(1001, "test") is None


async def test_a_truncated_file_keeps_what_came_before(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    path = write_export(channel_export([export_message(i, f"пост {i}") for i in range(1, 11)]))
    text = path.read_text()
    path.write_text(text[: text.index('"id": 5,')])
    report = await _import(store, pipeline, clock, path, batch_size=2)
    [problem] = report.problems
    assert (
        str(path) in str(problem)
        and "truncated" in str(problem)
        and "after message 4" in str(problem)
    )
    assert sorted(m for _, m in await _texts(store)) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not json", "not valid JSON"),
        ("[1, 2, 3]", "no JSON object at the top"),
        ('{"name": "x", "settings": {}}', "it has no 'messages' list"),
        ("", "the file is empty"),
        (
            '{"id": 5, "type": "public_channel", "messages": []}}',
            "not valid JSON (parse error: trailing garbage",
        ),
        ('{"messages": [{"id": 1}]}', "messages come before its id"),
        (b'{"name": "\xd0\xba\xc1\xbe", "messages": []}', "it is not UTF-8 text"),
        (
            b'{"name": "\xc1\xc2", "messages": []}',
            "not valid JSON (lexical error: invalid bytes in UTF8 string.)",
        ),
    ],
)
async def test_files_that_are_no_export(
    store: Store, pipeline: TextPipeline, clock: Clock, tmp_path: Path, content: str | bytes,
    reason: str,
) -> None:  # fmt: skip
    path = tmp_path / "result.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    report = await _import(store, pipeline, clock, path)
    [problem] = report.problems
    assert str(path) in str(problem) and reason in str(problem)
    assert await store.post_count() == 0


async def test_a_bad_message_is_reported_and_the_rest_imported(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    messages = [export_message(i, f"пост {i}") for i in range(1, 6)]
    messages[2]["text"] = {"oops": True}
    report = await _import(store, pipeline, clock, write_export(channel_export(messages)))
    [problem] = report.problems
    assert problem.message_id == 3 and "'text' should be" in problem.reason
    assert sorted(m for _, m in await _texts(store)) == [1, 2, 4, 5]


async def test_an_entry_that_is_no_message_object_is_reported_where_it_lies(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    messages: list[Any] = [export_message(1, "первый"), None, 7, [{"id": 9}], "текст"]
    messages.append(export_message(2, "второй"))
    report = await _import(store, pipeline, clock, write_export(channel_export(messages)))
    assert [p.reason for p in report.problems] == [
        f"a message should be an object, got {shown} (the entry after message 1)"
        for shown in ("null", "7", '[{"id": 9}]', '"текст"')
    ]
    assert sorted(m for _, m in await _texts(store)) == [1, 2]


async def test_a_missing_path_is_reported(
    store: Store, pipeline: TextPipeline, clock: Clock, tmp_path: Path
) -> None:
    report = await _import(store, pipeline, clock, tmp_path / "nope.json", tmp_path)
    assert [p.reason for p in report.problems] == [
        "no such file or folder",
        "the folder holds no result.json",
    ]


# ---- property tests -----------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "type", "date_unixtime", "edited_unixtime", "text", "text_entities", "reactions",
          "forwarded_from", "forwarded_from_id", "reply_to_message_id", "author", "photo", "file",
          "media_type", "poll"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=10) | JSON)
def test_to_post_returns_or_raises_message_error_only(raw: Any) -> None:
    try:
        to_post(1001, raw)
    except MessageError as error:
        assert str(error)


_shared: dict[str, TextPipeline] = {}


def _pipeline() -> TextPipeline:
    return _shared.setdefault("pipeline", TextPipeline())


def _mutate(data: bytes, rng: random.Random) -> tuple[bytes, int]:
    """One mutation of a real-shaped export; returns it and the byte offset it starts at."""
    kind = rng.randrange(4)
    where = rng.randrange(len(data))
    if kind == 0:
        return data[:where], where
    if kind == 1:
        return data[:where] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8))) + data[
            where:
        ], where
    export = json.loads(data)
    message = rng.choice(export["messages"])
    key = rng.choice(sorted(message))
    if kind == 2:
        del message[key]
    else:
        message[key] = rng.choice([None, True, -1, 3.5, "", [], {}, "x" * 50, [1, {"a": 2}]])
    encoded = json.dumps(export, ensure_ascii=False).encode()
    return encoded, encoded.find(f'"id": {message.get("id", -1)},'.encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_mutated_exports_never_crash_and_keep_what_precedes_the_damage(seed: int) -> None:
    rng = random.Random(seed)
    messages = [export_message(i, f"Пост {i} про Трампа", reactions=[{"type": "emoji", "count": i, "emoji": "👍"}])
                for i in range(1, 21)]  # fmt: skip
    original = json.dumps(channel_export(messages), ensure_ascii=False).encode()
    mutated, offset = _mutate(original, rng)
    intact = {
        m["id"] for m in messages if original.find(f'"id": {m["id"]},'.encode()) < offset - 400
    }

    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "result.json"
            path.write_bytes(mutated)
            async with await Store.open(Path(folder) / "m.db") as store:
                report = await import_exports(
                    store,
                    _pipeline(),
                    [path],
                    clock=lambda: datetime(2024, 11, 1, tzinfo=UTC),
                    batch_size=3,
                )
                assert isinstance(report, ImportReport)
                stored = {r["message_id"] async for r in store.export_posts()}
                assert intact <= stored
                for channel in await store.channels():
                    assert await store.verify_channel(channel.id, channel.label) is None

    asyncio.run(scenario())


def _archive_rows(db: Path) -> tuple[list[tuple[Any, ...]], ...]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return tuple(
            conn.execute(sql).fetchall()
            for sql in (
                "SELECT channel_id, message_id, text, lemmas, sentiment FROM posts "
                "ORDER BY channel_id, message_id",
                "SELECT channel_id, message_id, hash FROM post_revisions ORDER BY id",
                "SELECT w.term_id, p.channel_id, p.message_id FROM watch_mentions w "
                "JOIN posts p ON p.id = w.post_id ORDER BY 1, 2, 3",
                "SELECT term_id, channel_id, day, count FROM watch_counts ORDER BY 1, 2, 3",
                "SELECT rowid FROM posts_fts WHERE posts_fts MATCH '\"трамп\"' ORDER BY rowid",
            )
        )


async def test_worker_processes_build_the_archive_one_process_builds(
    tmp_path: Path,
    pipeline: TextPipeline,
    write_export: WriteExport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.config import Settings
    from monitor.importers import service
    from monitor.ingest import Analysis
    from monitor.sentiment.service import load_scorer
    from monitor.watch import add_term

    texts = ["Трамп победил, это прекрасно", "Ужасные санкции против Трампа", "Погода хорошая"]
    export = {"chats": {"list": [
        channel_export([export_message(i, f"{texts[i % 3]} {i}") for i in range(1, 40)], 4001),
        channel_export([export_message(i, f"{texts[(i + 1) % 3]}") for i in range(1, 25)], 4002),
    ]}}  # fmt: skip
    path = write_export(export)
    scorer = load_scorer(pipeline, Settings())
    monkeypatch.setattr(service, "PARALLEL_FROM_BYTES", 0)
    archives = []
    for name, parallel in (("one.db", None), ("workers.db", Analysis(score=True))):
        async with await Store.open(tmp_path / name) as store:
            await add_term(store, pipeline, "Трамп", [], None, "test", T0)
            report = await import_exports(
                store, pipeline, [path], clock=lambda: T0, scorer=scorer, parallel=parallel,
                processes=2, batch_size=7,
            )  # fmt: skip
            assert report.totals.new == 39 + 24 and not report.problems
        archives.append(_archive_rows(tmp_path / name))
    assert archives[0] == archives[1]
    posts, _, mentions, counts, _ = archives[1]
    assert any(sentiment for *_, sentiment in posts)
    assert len(mentions) == sum(count for *_, count in counts) > 0


async def test_workers_that_die_give_a_sentence_and_keep_what_was_stored(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from concurrent.futures.process import BrokenProcessPool

    from monitor.importers import service
    from monitor.ingest import Analysis, PreparePool

    calls = 0

    async def dies_on_third(self: PreparePool, posts: Any, patterns: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise BrokenProcessPool("a child process terminated abruptly")
        return [service.prepare(post, pipeline) for post in posts]

    monkeypatch.setattr(service, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(PreparePool, "prepare", dies_on_third)
    path = write_export(channel_export([export_message(i, f"пост {i}") for i in range(1, 30)]))
    report = await import_exports(
        store, pipeline, [path], clock=clock, parallel=Analysis(score=False), processes=1,
        batch_size=5,
    )  # fmt: skip
    assert [p.reason for p in report.problems] == [
        "the worker processes stopped unexpectedly; run the import again to finish it"
    ]
    assert await store.post_count() == 10  # the two batches before the failure

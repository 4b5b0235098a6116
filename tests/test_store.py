"""The archive on a real SQLite file: schema, upserts, revisions, hash chain, export, stats."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.ingest import ingest
from monitor.models import ChannelInfo, StoreCounts
from monitor.store import Keyset, Store, StoreError
from monitor.store.schema import LATEST_VERSION, MIGRATIONS
from monitor.text import TextPipeline
from tests.conftest import T0, Clock, make_post


async def test_new_archive_has_schema_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "a.db"
    async with await Store.open(path) as store:
        assert await store._scalar("PRAGMA user_version") == LATEST_VERSION
        assert await store._scalar("PRAGMA journal_mode") == "wal"
        assert await store._scalar("PRAGMA foreign_keys") == 1
        names = {r[0] for r in await store._rows("SELECT name FROM schema_migrations")}
        assert names == {migration.name for migration in MIGRATIONS}
    async with await Store.open(path) as store:  # reopening applies nothing twice
        assert await store._scalar("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is a text file, not a database\n" * 10, "is not an SQLite database"),
        (b"\x00" * 4096, "is not an SQLite database"),
    ],
)
async def test_a_file_that_is_not_sqlite_is_refused_and_untouched(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        await Store.open(path)
    assert path.read_bytes() == content


async def test_a_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER)")
        db.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this program knows"):
        await Store.open(path)
    assert path.read_bytes() == before


async def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="another program"):
        await Store.open(path)


async def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        await Store.open(tmp_path)


async def _ingest(store: Store, pipeline: TextPipeline, clock: Clock, *posts) -> StoreCounts:  # type: ignore[no-untyped-def]
    return await ingest(store, pipeline, 1001, list(posts), clock())


async def _revisions(store: Store, message_id: int) -> list[tuple[str, str | None]]:
    rows = await store._rows(
        "SELECT text, edit_date FROM post_revisions WHERE message_id = ? ORDER BY id", (message_id,)
    )
    return [(r["text"], r["edit_date"]) for r in rows]


async def test_storing_the_same_post_twice_never_duplicates(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    post = make_post(1, "Трамп победил")
    assert await _ingest(store, pipeline, clock, post) == StoreCounts(new=1)
    assert await _ingest(store, pipeline, clock, post, post) == StoreCounts(unchanged=2)
    assert await store.post_count() == 1
    assert await store.revision_count() == 1


async def test_duplicates_inside_one_batch_are_stored_once(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    post = make_post(1, "Трамп победил")
    counts = await _ingest(store, pipeline, clock, post, post)
    assert counts == StoreCounts(new=1, unchanged=1)
    assert await store.post_count() == 1


async def test_an_edit_adds_a_revision_and_keeps_the_old_text(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await _ingest(store, pipeline, clock, make_post(1, "Трамп проиграл"))
    edited = make_post(1, "Трамп победил", edit_date=T0 + timedelta(hours=2))
    assert await _ingest(store, pipeline, clock, edited) == StoreCounts(revised=1)
    assert await _revisions(store, 1) == [
        ("Трамп проиграл", None),
        ("Трамп победил", "2024-11-01 14:00:00"),
    ]
    [record] = [r async for r in store.export_posts(with_revisions=True)]
    assert record["text"] == "Трамп победил"
    assert [r["text"] for r in record["revisions"]] == ["Трамп проиграл", "Трамп победил"]
    # the index follows the edit
    assert await store.search_posts('"победить"') and not await store.search_posts('"проиграть"')


async def test_an_edit_date_change_alone_is_a_revision_but_metrics_alone_are_not(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await _ingest(store, pipeline, clock, make_post(1, "текст", views=10))
    await _ingest(store, pipeline, clock, make_post(1, "текст", views=50, reactions={"👍": 3}))
    assert len(await _revisions(store, 1)) == 1
    row = (await store._rows("SELECT views, reactions, reactions_detail FROM posts"))[0]
    assert (row["views"], row["reactions"], row["reactions_detail"]) == (50, 3, '{"👍": 3}')
    await _ingest(store, pipeline, clock, make_post(1, "текст", edit_date=T0 + timedelta(hours=1)))
    assert len(await _revisions(store, 1)) == 2


async def test_an_older_version_is_kept_as_history_without_replacing_the_current_text(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    newest = make_post(1, "вторая правка", edit_date=T0 + timedelta(hours=5))
    older = make_post(1, "первая правка", edit_date=T0 + timedelta(hours=1))
    await _ingest(store, pipeline, clock, newest)
    assert await _ingest(store, pipeline, clock, older) == StoreCounts(revised=1)
    assert await _ingest(store, pipeline, clock, older) == StoreCounts(unchanged=1)
    [record] = [r async for r in store.export_posts(with_revisions=True)]
    assert record["text"] == "вторая правка"
    assert len(record["revisions"]) == 2
    assert await store.verify_channel(1001, "@testchan") is None


async def test_a_post_of_an_unknown_channel_is_refused(
    store: Store, pipeline: TextPipeline, clock: Clock
) -> None:
    with pytest.raises(ValueError, match="not in the archive"):
        await _ingest(store, pipeline, clock, make_post(1, "текст"))
    assert await store.post_count() == 0


# ---- evidence chain -----------------------------------------------------------------------


@pytest.fixture
async def history(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> Store:
    await _ingest(store, pipeline, clock, *(make_post(i, f"пост номер {i}") for i in range(1, 6)))
    await _ingest(
        store,
        pipeline,
        clock,
        make_post(3, "пост номер 3, исправлен", edit_date=T0 + timedelta(days=1)),
    )
    assert await store.verify_channel(1001, "@testchan") is None
    return store


@pytest.mark.parametrize(
    ("tamper", "message_id", "reason"),
    [
        ("UPDATE post_revisions SET text = 'подделка' WHERE message_id = 2", 2, "no longer match"),
        (
            "UPDATE post_revisions SET edit_date = '2020-01-01 00:00:00' WHERE id = 6",
            3,
            "no longer match",
        ),
        (
            "UPDATE post_revisions SET date = '2020-01-01 00:00:00' WHERE message_id = 4",
            4,
            "no longer match",
        ),
        ("DELETE FROM post_revisions WHERE message_id = 2", 3, "removed or reordered"),
        ("DELETE FROM post_revisions WHERE id = 6", 5, "revisions after it were removed"),
        ("UPDATE posts SET text = 'подделка' WHERE message_id = 4", 4, "current text differs"),
        (
            "UPDATE post_revisions SET hash = 'ab' || substr(hash, 3) WHERE message_id = 1",
            1,
            "no longer match",
        ),
    ],
)
async def test_verify_names_the_first_altered_post(
    history: Store, tamper: str, message_id: int, reason: str
) -> None:
    await history._db.execute(tamper)
    await history._db.commit()
    broken = await history.verify_channel(1001, "@testchan")
    assert broken is not None
    assert broken.message_id == message_id
    assert reason in broken.reason
    assert "@testchan" in broken.describe()


async def test_chains_are_per_channel(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await store.save_channel(ChannelInfo(2002, "Другой"), "test", clock())
    await _ingest(store, pipeline, clock, make_post(1, "раз"))
    await ingest(store, pipeline, 2002, [make_post(1, "два", channel_id=2002)], clock())
    await store._db.execute("UPDATE post_revisions SET text = 'x' WHERE channel_id = 2002")
    await store._db.commit()
    assert await store.verify_channel(1001, "@testchan") is None
    assert await store.verify_channel(2002, "Другой") is not None


# ---- channels, export, stats, search ------------------------------------------------------


async def test_usernames_move_to_the_channel_that_holds_them_now(
    store: Store, clock: Clock
) -> None:
    await store.save_channel(ChannelInfo(1, "Старый", "name"), "test", clock())
    await store.save_channel(ChannelInfo(2, "Новый", "Name"), "test", clock())
    assert (await store.channel(1)).username is None  # type: ignore[union-attr]
    assert (await store.channel_by_username("@NAME")).id == 2  # type: ignore[union-attr]


async def test_an_import_keeps_the_username_learnt_before(store: Store, clock: Clock) -> None:
    await store.save_channel(ChannelInfo(1, "Канал", "chan"), "cli", clock(), active=True)
    channel = await store.save_channel(ChannelInfo(1, "Канал (новое имя)"), "import", clock())
    assert (channel.username, channel.title, channel.active) == ("chan", "Канал (новое имя)", True)


async def test_export_filters_and_links(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await store.save_channel(ChannelInfo(2002, "Без имени"), "test", clock())
    await _ingest(
        store, pipeline, clock, make_post(1, "a"), make_post(2, "b", date=T0 + timedelta(days=3))
    )
    await ingest(store, pipeline, 2002, [make_post(7, "c", channel_id=2002)], clock())
    records = [r async for r in store.export_posts()]
    assert [r["url"] for r in records] == [
        "https://t.me/testchan/1", "https://t.me/testchan/2", "https://t.me/c/2002/7",
    ]  # fmt: skip
    assert [
        r["message_id"] async for r in store.export_posts([1001], since=T0 + timedelta(days=1))
    ] == [2]
    assert [r["message_id"] async for r in store.export_posts(until=T0 + timedelta(days=1))] == [
        1,
        7,
    ]


async def test_stats_count_posts_deleted_and_revised(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await _ingest(store, pipeline, clock, make_post(1, "a"), make_post(2, "b"), make_post(3, "c"))
    await _ingest(store, pipeline, clock, make_post(2, "b2", edit_date=T0 + timedelta(days=1)))
    await store._db.execute(
        "UPDATE posts SET deleted_at = '2024-11-02 00:00:00' WHERE message_id = 3"
    )
    await store._db.commit()
    [stats] = await store.channel_stats()
    assert (stats.posts, stats.revised, stats.deleted) == (3, 1, 1)
    assert stats.first_post == T0 + timedelta(minutes=1)
    assert stats.last_post == T0 + timedelta(minutes=3)


async def test_search_orders_and_filters(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await _ingest(
        store, pipeline, clock,
        make_post(1, "Трамп", date=T0),
        make_post(2, "Трамп Трамп Трамп и снова Трамп", date=T0 + timedelta(days=1)),
        make_post(3, "Трампа упомянули", date=T0 + timedelta(days=2)),
    )  # fmt: skip
    by_date = await store.search_posts('"трамп"', order="date")
    assert [p.message_id for p in by_date] == [3, 2, 1]
    window = await store.search_posts(
        '"трамп"', since=T0 + timedelta(hours=1), until=T0 + timedelta(days=2)
    )
    assert [p.message_id for p in window] == [2]
    after_3 = Keyset(by_date[0].date, by_date[0].id)
    assert [
        p.message_id
        for p in await store.search_posts('"трамп"', order="date", limit=1, after=after_3)
    ] == [2]
    assert await store.search_posts('"трамп"', channel_ids=[999]) == []


async def test_a_read_only_database_gives_a_clear_error(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    # Root ignores file modes, so the connection is made read-only instead of the file.
    await store._db.execute("PRAGMA query_only = 1")
    with pytest.raises(StoreError, match="read-only; nothing was written"):
        await ingest(store, pipeline, 1001, [make_post(1, "текст")], clock())
    await store._db.execute("PRAGMA query_only = 0")
    assert await store.post_count() == 0


async def test_a_locked_database_gives_a_clear_error(
    tmp_path: Path, pipeline: TextPipeline, clock: Clock
) -> None:
    path = tmp_path / "locked.db"
    async with await Store.open(path) as store:
        await store.save_channel(ChannelInfo(1001, "Канал"), "test", clock())
        await store._db.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(path)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked by another process"):
                await ingest(store, pipeline, 1001, [make_post(1, "текст")], clock())
        finally:
            other.rollback()
            other.close()
        assert await ingest(store, pipeline, 1001, [make_post(1, "текст")], clock()) == StoreCounts(
            new=1
        )

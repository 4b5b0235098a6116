"""The evidence chain, version 2: what each revision's hash covers, where each version was
read, what `verify` catches, imports that cannot overwrite what the collector saw, and
archives written under version 1."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.importers.service import import_exports
from monitor.ingest import ingest, prepare
from monitor.integrity import revision_hash_v1
from monitor.models import RECHECK, ChannelInfo, Post, PreparedPost, RevisionSource
from monitor.store import Store
from monitor.store.base import _statements
from monitor.store.schema import MIGRATIONS
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import SandboxClient, World
from monitor.text import TextPipeline
from tests.conftest import T0, Clock, WriteExport, channel_export, export_message, make_post

IMPORT = RevisionSource("import", "exports/result.json", "ab" * 32)


async def _sources(store: Store, channel_id: int) -> list[tuple[int, str | None, bool]]:
    """(message id, source, is a deletion) of each revision, in chain order."""
    rows = await store._rows(
        "SELECT message_id, source, deleted_at FROM post_revisions WHERE channel_id = ? "
        "ORDER BY id",
        (channel_id,),
    )
    return [(r["message_id"], r["source"], r["deleted_at"] is not None) for r in rows]


# ---- what the hash covers, and what verify catches -------------------------------------------


@pytest.fixture
async def evidence(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> Store:
    """Posts with every kind of evidence, an edit, an imported version, and a deletion."""
    link = [{"type": "MessageEntityTextUrl", "offset": 0, "length": 4, "url": "https://a.example"}]
    await ingest(store, pipeline, 1001, [
        make_post(1, "тут ссылка", entities=link),
        make_post(2, "", media_type="photo"),
        make_post(3, "пересказ", forward_from="Два майора", forward_from_id=1234),
        make_post(4, "ответ", reply_to=1, post_author="Редактор"),
        make_post(5, "будет удалён"),
    ], clock())  # fmt: skip
    clock.advance(hours=1)
    edited = make_post(4, "ответ, исправлен", reply_to=1, post_author="Редактор",
                       edit_date=clock())  # fmt: skip
    await ingest(store, pipeline, 1001, [edited], clock())
    imported = make_post(1, "подложный текст", edit_date=clock() + timedelta(days=1))
    await store.store_posts(1001, [_prepared(pipeline, imported)], clock(), source=IMPORT)
    await store.mark_deleted(1001, [5], clock(), source=RECHECK)
    assert await store.verify_channel(1001, "@testchan") is None
    return store


def _prepared(pipeline: TextPipeline, post: Post) -> PreparedPost:
    return prepare(post, pipeline)


async def test_each_revision_records_its_source_and_a_deletion_is_a_revision(
    evidence: Store,
) -> None:
    assert await _sources(evidence, 1001) == [
        (1, "live", False), (2, "live", False), (3, "live", False), (4, "live", False),
        (5, "live", False), (4, "live", False), (1, "import", False), (5, "recheck", True),
    ]  # fmt: skip
    [post] = [
        r async for r in evidence.export_posts([1001], with_revisions=True) if r["message_id"] == 1
    ]
    assert post["text"] == "тут ссылка" and post["source"] == "live"  # the import is history
    imported = post["revisions"][1]
    assert (imported["source"], imported["source_file"], imported["source_sha256"]) == (
        "import", "exports/result.json", "ab" * 32,
    )  # fmt: skip
    assert imported["chain_version"] == 2 and imported["prev_hash"]


@pytest.mark.parametrize(
    ("tamper", "message_id", "reason"),
    [
        ("UPDATE posts SET entities = replace(entities, 'a.example', 'b.example') WHERE message_id = 1",
         1, "current entities differ"),
        ("UPDATE post_revisions SET entities = replace(entities, 'a.example', 'b.example') "
         "WHERE message_id = 1", 1, "no longer matches its hash"),
        ("UPDATE posts SET media_type = 'video' WHERE message_id = 2", 2, "current media type"),
        ("UPDATE posts SET forward_from = 'Рыбарь' WHERE message_id = 3", 3, "current forward from"),
        ("UPDATE posts SET forward_from_id = 99 WHERE message_id = 3", 3, "current forward from id"),
        ("UPDATE posts SET post_author = 'Другой' WHERE message_id = 4", 4, "current post author"),
        ("UPDATE posts SET reply_to = 2 WHERE message_id = 4", 4, "current reply to"),
        ("UPDATE post_revisions SET reply_to = 2 WHERE message_id = 4", 4, "no longer matches"),
        ("UPDATE posts SET deleted_at = NULL WHERE message_id = 5", 5, "deletion mark was removed"),
        ("UPDATE posts SET deleted_at = '2024-11-01 13:00:00' WHERE message_id = 3", 3,
         "no hashed deletion says so"),
        ("UPDATE post_revisions SET source = 'live' WHERE source = 'import'", 1, "no longer matches"),
        ("UPDATE post_revisions SET source_file = 'other.json' WHERE source = 'import'", 1,
         "no longer matches"),
        # An import relabelled as the collector's would also become the current version.
        ("UPDATE posts SET source = 'import' WHERE message_id = 2", 2, "current source"),
        ("UPDATE post_revisions SET chain_version = 1 WHERE message_id = 5", 5,
         "claims chain version 1 after revisions of version 2"),
    ],
)  # fmt: skip
async def test_verify_catches_a_change_to_any_evidence(
    evidence: Store, tamper: str, message_id: int, reason: str
) -> None:
    await evidence._db.execute(tamper)
    await evidence._db.commit()
    broken = await evidence.verify_channel(1001, "@testchan")
    assert broken is not None
    assert (broken.message_id, reason in broken.reason) == (message_id, True), broken


async def test_a_published_head_catches_an_archive_rehashed_after_tampering(
    evidence: Store,
) -> None:
    [published] = await evidence.chain_heads()
    assert published.revisions == 8 and published.head
    await evidence._db.execute("UPDATE posts SET text = 'подделка' WHERE message_id = 3")
    await evidence._db.execute("UPDATE post_revisions SET text = 'подделка' WHERE message_id = 3")
    await evidence._db.commit()
    await rehash(evidence._db, 1001)
    assert await evidence.verify_channel(1001, "@testchan") is None  # a perfect forgery ...
    broken = await evidence.verify_channel(1001, "@testchan", [published.head])
    assert broken is not None and "is no longer in its chain" in broken.reason  # ... but for this


async def rehash(db, channel_id: int) -> None:  # type: ignore[no-untyped-def]
    """What a forger with the program at hand does after changing rows: every hash computed
    again in chain order, the head stored."""
    from monitor.store.chain import _recomputed

    db.row_factory = sqlite3.Row
    head = ""
    rows = await db.execute_fetchall(
        "SELECT * FROM post_revisions WHERE channel_id = ? ORDER BY id", (channel_id,)
    )
    for row in rows:
        new = _recomputed(head, channel_id, row)
        await db.execute("UPDATE post_revisions SET prev_hash = ?, hash = ? WHERE id = ?",
                         (head, new, row["id"]))  # fmt: skip
        head = new
    await db.execute("UPDATE channels SET chain_head = ? WHERE id = ?", (head, channel_id))
    await db.commit()
    db.row_factory = None


# ---- imports cannot overwrite what the collector saw -----------------------------------------


async def test_a_forged_export_after_live_collection_changes_no_current_text_nor_the_title(
    store: Store, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    info = ChannelInfo(1001, "Настоящий канал", "realchan", access_hash=42)
    await store.save_channel(info, "cli", clock(), active=True)
    await store.follow_channel(1001, None, clock())
    await ingest(store, pipeline, 1001, [make_post(1, "правда"), make_post(2, "тоже правда")],
                 clock())  # fmt: skip
    later = str(int((T0 + timedelta(days=3)).timestamp()))
    forged = write_export(channel_export([
        export_message(1, "подделка", edited_unixtime=later),  # newer than what was read
        export_message(2, "подделка без даты правки"),
        export_message(3, "пост, которого не было"),
    ], name="Поддельное имя"))  # fmt: skip
    report = await import_exports(store, pipeline, [forged], clock=clock, username="forged")
    assert report.problems == []
    records = {r["message_id"]: r async for r in store.export_posts(with_revisions=True)}
    assert {m: (r["text"], r["source"]) for m, r in records.items()} == {
        1: ("правда", "live"), 2: ("тоже правда", "live"), 3: ("пост, которого не было", "import"),
    }  # fmt: skip
    digest = hashlib.sha256(forged.read_bytes()).hexdigest()
    for message_id, text in ((1, "подделка"), (2, "подделка без даты правки")):
        [live, imported] = records[message_id]["revisions"]
        assert live["source"] == "live"
        assert (imported["text"], imported["source"]) == (text, "import")
        assert (imported["source_file"], imported["source_sha256"]) == (str(forged), digest)
    channel = await store.channel(1001)
    assert channel is not None and (channel.title, channel.username) == (
        "Настоящий канал",
        "realchan",
    )
    assert await store.verify_channel(1001, "@realchan") is None
    # Importing it again adds nothing.
    again = await import_exports(store, pipeline, [forged], clock=clock)
    assert (again.totals.new, again.totals.revised, again.totals.unchanged) == (0, 0, 3)


async def test_an_import_does_not_take_a_followed_channels_username(
    store: Store, clock: Clock
) -> None:
    await store.save_channel(ChannelInfo(1, "Настоящий", "chan"), "cli", clock(), active=True)
    await store.follow_channel(1, None, clock())
    imported = await store.save_imported_channel(ChannelInfo(2, "Другой", "chan"), clock())
    assert imported.username is None
    assert (await store.channel_by_username("chan")).id == 1  # type: ignore[union-attr]


async def test_the_collectors_version_replaces_an_imported_one_whatever_its_edit_date(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    future = make_post(1, "подделка из будущего", edit_date=T0 + timedelta(days=30))
    await store.store_posts(1001, [_prepared(pipeline, future)], clock(), source=IMPORT)
    same = make_post(2, "одинаково")
    await store.store_posts(1001, [_prepared(pipeline, same)], clock(), source=IMPORT)
    await ingest(store, pipeline, 1001, [make_post(1, "правда"), same], clock())
    records = {r["message_id"]: r async for r in store.export_posts(with_revisions=True)}
    assert (records[1]["text"], records[1]["source"]) == ("правда", "live")
    # The collector confirms what the import brought: recorded, and no edit.
    assert [r["source"] for r in records[2]["revisions"]] == ["import", "live"]
    [stats] = await store.channel_stats()
    assert stats.revised == 1
    assert await store.verify_channel(1001, "@testchan") is None


# ---- where the collector read each version ---------------------------------------------------


async def test_the_collector_names_how_it_read_each_version(
    world: World, tg: SandboxClient, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "sourced")
    world.post(channel, "из истории")
    added = await collector.add("@sourced")
    await collector.backfill(added.channel)
    collector.install_handlers()
    world.post(channel, "живой")
    await tg.settle()
    world.drop_rate = 1.0  # the next post and the deletion never arrive live
    world.post(channel, "пропущенный")
    world.delete(channel, [1])
    await tg.settle()
    await collector.catch_up()
    await collector.sweep_deletions()
    assert await _sources(store, channel.id) == [
        (1, "backfill", False), (2, "live", False), (3, "catch-up", False), (1, "recheck", True),
    ]  # fmt: skip
    world.drop_rate = 0.0
    world.delete(channel, [2])
    await tg.settle()
    assert (await _sources(store, channel.id))[-1] == (2, "live", True)
    assert await store.verify_channel(channel.id, "@sourced") is None


# ---- archives written under chain version 1 --------------------------------------------------


def _version_1_archive(path: Path) -> None:
    """An archive as the program wrote it before chain version 2 (schema 7): one followed
    channel with an edit and a deletion, one channel only ever imported."""
    with sqlite3.connect(path, isolation_level=None) as db:
        for migration in MIGRATIONS:
            if migration.version > 7:
                break
            for statement in _statements(migration.sql):
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, '2024-11-01 00:00:00')",
                       (migration.version, migration.name))  # fmt: skip
        db.execute("PRAGMA user_version = 7")
        for channel_id, state in ((1001, "done"), (2002, "none")):
            db.execute(
                "INSERT INTO channels (id, username, title, added_at, added_by, active, "
                "backfill_state) VALUES (?, ?, 'Канал', '2024-11-01 00:00:00', 'cli', ?, ?)",
                (channel_id, f"chan{channel_id}", int(state == "done"), state),
            )
            head = ""
            versions = [
                (1, "первый", None),
                (2, "второй", None),
                (1, "первый, правка", "2024-11-01 13:00:00"),
            ]
            for message_id, text, edit in versions:
                date = f"2024-11-01 12:0{message_id}:00"
                db.execute(
                    "INSERT INTO posts (channel_id, message_id, date, edit_date, text, "
                    "first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET text = excluded.text, edit_date = excluded.edit_date",
                    (channel_id, message_id, date, edit, text, date, date),
                )
                prev, head = head, revision_hash_v1(head, channel_id, message_id, date, text, edit)
                db.execute(
                    "INSERT INTO post_revisions (channel_id, message_id, date, text, edit_date, "
                    "seen_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (channel_id, message_id, date, text, edit, date, prev, head),
                )
            db.execute("UPDATE channels SET chain_head = ? WHERE id = ?", (head, channel_id))
        db.execute("INSERT INTO posts_fts (rowid, lemmas) SELECT id, lemmas FROM posts")
        # A deletion marked then had no revision.
        db.execute("UPDATE posts SET deleted_at = '2024-11-02 00:00:00' WHERE message_id = 2")


async def test_an_archive_of_chain_version_1_verifies_and_goes_on_under_version_2(
    tmp_path: Path, pipeline: TextPipeline, clock: Clock, write_export: WriteExport
) -> None:
    path = tmp_path / "v1.db"
    _version_1_archive(path)
    async with await Store.open(path) as store:
        for channel_id in (1001, 2002):
            assert await store.verify_channel(channel_id, "old") is None
        # What the never-followed channel holds came from imports; the other's is not known.
        assert {m for m, source, _ in await _sources(store, 2002) if source == "import"} == {1, 2}
        assert {source for _, source, _ in await _sources(store, 1001)} == {None}
        await ingest(store, pipeline, 1001, [make_post(2, "второй, правка", date=T0 + timedelta(minutes=2),
                                                       edit_date=T0 + timedelta(hours=3))], clock())  # fmt: skip
        await store.mark_deleted(1001, [1], clock(), source=RECHECK)
        versions = await store._rows(
            "SELECT chain_version FROM post_revisions WHERE channel_id = 1001 ORDER BY id"
        )
        assert [r["chain_version"] for r in versions] == [1, 1, 1, 2, 2]
        assert await store.verify_channel(1001, "old") is None
        # An import never replaces a version of unknown source: it may be the collector's.
        newer = export_message(
            1, "из экспорта", edited_unixtime=str(int((T0 + timedelta(days=9)).timestamp()))
        )
        await import_exports(
            store, pipeline, [write_export(channel_export([newer], 1001))], clock=clock
        )
        texts = [r["text"] async for r in store.export_posts([1001])]
        assert texts[0] == "первый, правка"
        # Version 1 still catches what it covered.
        await store._db.execute(
            "UPDATE post_revisions SET text = 'x' WHERE channel_id = 1001 AND id = 1"
        )
        await store._db.commit()
        broken = await store.verify_channel(1001, "old")
        assert broken is not None and broken.message_id == 1


async def test_a_deletion_of_a_post_never_stored_is_not_a_revision(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    await ingest(store, pipeline, 1001, [make_post(1, "текст")], clock())
    assert await store.mark_deleted(1001, [1, 2, 1], clock(), source=RECHECK) == 1
    assert await store.mark_deleted(1001, [1], clock(), source=RECHECK) == 0
    assert await store.revision_count() == 2


async def test_the_digest_shows_an_imported_version_as_imported(
    store: Store, pipeline: TextPipeline, clock: Clock, channel: ChannelInfo
) -> None:
    from zoneinfo import ZoneInfo

    from monitor.bot.render import render_digest
    from monitor.digest import build_digest
    from monitor.sentiment.lexicon import build_lexicon, builtin_entries
    from monitor.sentiment.scorer import LexiconScorer

    await ingest(store, pipeline, 1001, [make_post(1, "правда"), make_post(2, "было")], clock())
    clock.advance(hours=1)
    await ingest(store, pipeline, 1001, [make_post(2, "стало", edit_date=clock())], clock())
    forged = make_post(1, "подделка", edit_date=clock())
    await store.store_posts(1001, [_prepared(pipeline, forged)], clock(), source=IMPORT)
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    digest = await build_digest(store, scorer, T0, T0 + timedelta(days=1), clock())
    assert [(e["new_text"], e["source"]) for e in digest["edits"]] == [
        ("стало", "live"), ("подделка", "import"),
    ]  # fmt: skip
    text = "\n".join(render_digest(digest, ZoneInfo("UTC")))
    assert "<i>now:</i> стало" in text
    assert "<i>now, per an imported export (not read from Telegram):</i> подделка" in text

"""Posts, their revisions and hash chain (new versions, deletions), metrics; export and
statistics reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.integrity import CHAIN_VERSION, Evidence, revision_hash
from monitor.models import ChannelStats, PreparedPost, RevisionSource, StoreCounts, post_url
from monitor.store.base import StoreBase, chunks, from_db, placeholders, post_filter, to_db
from monitor.store.watch import (
    WatchPatterns,
    forget_mentions,
    mentioned_terms,
    note_mentions,
    watch_patterns,
)

_POST_COLUMNS = (
    "channel_id, message_id, date, edit_date, text, entities, media_type, forward_from, "
    "forward_from_id, reply_to, grouped_id, post_author, views, forwards, replies, reactions, "
    "reactions_detail, lemmas, sentiment, first_seen_at, updated_at, source"
)
# A revision's columns besides its id, in the order `_revision_row` gives them.
REVISION_COLUMNS = (
    "channel_id, message_id, seen_at, prev_hash, hash, chain_version, date, edit_date, text, "
    "entities, media_type, forward_from, forward_from_id, post_author, reply_to, deleted_at, "
    "source, source_file, source_sha256"
)

# Export columns, in the order CSV files get them (documented in the README).
EXPORT_COLUMNS = (
    "channel_id", "channel", "message_id", "url", "date", "edit_date", "deleted_at", "text",
    "entities", "media_type", "forward_from", "forward_from_id", "reply_to", "grouped_id",
    "post_author", "views", "forwards", "replies", "reactions", "reactions_detail",
    "sentiment", "source", "first_seen_at", "updated_at",
)  # fmt: skip


# json.dumps builds a new encoder per call when given options; one is enough.
_json = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(frozen=True)
class _Known:
    text: str
    edit_date: str | None
    date: str
    source: str | None  # of the current version; None: not recorded (before chain version 2)

    @property
    def collected(self) -> bool:
        return self.source != "import"


def _sort_key(edit_date: str | None) -> str:
    return edit_date or ""


class PostsMixin(StoreBase):
    async def store_posts(
        self,
        channel_id: int,
        items: Sequence[PreparedPost],
        seen_at: datetime,
        high_water: int | None = None,
        matched: WatchPatterns | None = None,
        *,
        source: RevisionSource,
    ) -> StoreCounts:
        """Store posts of one channel in one transaction, keyed by message id.

        A post seen before is not stored again; a changed text or edit date adds a revision
        and keeps the old one; a version older than the one held (an old export imported
        after live collection) is kept as history without replacing the current text. What
        the collector read (`source`) outranks what an import brought: an import never
        replaces a version the collector saw, its versions are kept as history only, and the
        collector's version replaces an imported one whatever their edit dates.
        `high_water`, when given, raises the channel's high-water mark in the same
        transaction, so a restart never skips posts it believes stored. `matched`: the
        patterns the items' mentions were found against; if the watchlist has changed since,
        or none are given, mentions are found here.
        """
        seen = to_db(seen_at)
        new = revised = unchanged = 0
        async with self.write() as db:
            head = await self._scalar("SELECT chain_head FROM channels WHERE id = ?", (channel_id,))
            if head is None:
                raise ValueError(f"channel {channel_id} is not in the archive")
            known = await self._known(channel_id, [item.post.message_id for item in items])
            patterns = await watch_patterns(db, channel_id)
            trusted = matched == patterns

            def terms_of(item: PreparedPost) -> tuple[int, ...]:
                if trusted and item.mentions is not None:
                    return item.mentions
                return mentioned_terms(item.lemmas, patterns)

            new_posts: list[tuple[Any, ...]] = []
            new_terms: list[tuple[int, ...]] = []
            edited_terms: dict[int, tuple[int, ...]] = {}  # message id -> terms of its last edit
            updates: list[tuple[Any, ...]] = []
            metric_updates: list[tuple[Any, ...]] = []
            revisions: list[tuple[Any, ...]] = []
            versions: set[tuple[int, str, str | None]] = set()  # revisions of this batch

            async def known_version(message_id: int, text: str, edit: str | None) -> bool:
                return (message_id, text, edit) in versions or await self._has_revision(
                    channel_id, message_id, text, edit
                )

            for item in items:
                post = item.post
                date, edit = to_db(post.date), to_db(post.edit_date)
                assert date is not None
                entities = _json(post.entities)
                current = known.get(post.message_id)
                if current is None:
                    new_posts.append(_post_row(item, entities, seen, source))
                    new_terms.append(terms_of(item))
                    becomes_current = True
                else:
                    same = current.text == post.text and current.edit_date == edit
                    # The collector's reading of a post outranks an import's, whatever the
                    # edit dates say (an export can be forged, dates included).
                    takes_over = source.collected and not current.collected
                    if same and not takes_over:
                        if _has_metrics(item) and (source.collected or not current.collected):
                            metric_updates.append(_metric_row(item, seen))
                        unchanged += 1
                        continue
                    if takes_over:
                        becomes_current = True
                    elif not source.collected and current.collected:
                        # An import never replaces what the collector saw: history only.
                        if await known_version(post.message_id, post.text, edit):
                            unchanged += 1
                            continue
                        becomes_current = False
                    elif edit == current.edit_date and await known_version(
                        post.message_id, post.text, edit
                    ):
                        # Two texts under one edit date cannot be ordered: a version the
                        # history holds already is not made current again (a file with
                        # both, imported twice).
                        unchanged += 1
                        continue
                    elif _sort_key(edit) >= _sort_key(current.edit_date):
                        becomes_current = True
                    elif await known_version(post.message_id, post.text, edit):
                        unchanged += 1
                        continue
                    else:
                        becomes_current = False
                    if becomes_current:
                        updates.append(
                            (post.text, edit, entities, post.media_type, post.forward_from,
                             post.forward_from_id, post.reply_to, post.post_author, source.kind,
                             item.lemmas, item.sentiment, seen, channel_id, post.message_id)
                        )  # fmt: skip
                        edited_terms[post.message_id] = terms_of(item)
                        if _has_metrics(item):
                            metric_updates.append(_metric_row(item, seen))
                base_date = current.date if current else date
                evidence = Evidence(
                    base_date, edit, post.text, entities, post.media_type, post.forward_from,
                    post.forward_from_id, post.post_author, post.reply_to, None, source.kind,
                    source.file, source.sha256,
                )  # fmt: skip
                prev, head = head, revision_hash(head, channel_id, post.message_id, evidence)
                revisions.append(
                    _revision_row(channel_id, post.message_id, seen, prev, head, evidence)
                )
                versions.add((post.message_id, post.text, edit))
                if current is None:
                    new += 1
                    known[post.message_id] = _Known(post.text, edit, date, source.kind)
                else:
                    revised += 1
                    if becomes_current:
                        known[post.message_id] = _Known(post.text, edit, current.date, source.kind)
            last_id = await self._scalar("SELECT coalesce(max(id), 0) FROM posts")
            await db.executemany(
                f"INSERT INTO posts ({_POST_COLUMNS}) VALUES ({placeholders(22)})", new_posts
            )
            # One statement indexes the whole batch: a trigger per row made FTS5 write far
            # more (measured: storing took twice as long).
            await db.execute(
                "INSERT INTO posts_fts (rowid, lemmas) SELECT id, lemmas FROM posts WHERE id > ?",
                (last_id,),
            )
            new_ids = await self._new_ids(last_id)
            await note_mentions(
                db,
                channel_id,
                [
                    (new_ids[row[1]], row[2], terms)
                    for row, terms in zip(new_posts, new_terms, strict=False)
                ],
            )
            # An edit may add or drop a mention: forget the old text's, note the new one's.
            edited = await self._ids(channel_id, list(edited_terms))
            await forget_mentions(db, list(edited.values()))
            await db.executemany(
                "UPDATE posts SET text = ?, edit_date = ?, entities = ?, media_type = ?, "
                "forward_from = ?, forward_from_id = ?, reply_to = ?, post_author = ?, "
                "source = ?, lemmas = ?, sentiment = ?, updated_at = ? "
                "WHERE channel_id = ? AND message_id = ?",
                updates,
            )
            await note_mentions(
                db,
                channel_id,
                [(edited[m], known[m].date, terms) for m, terms in edited_terms.items()],
            )
            await db.executemany(
                "UPDATE posts SET views = coalesce(?, views), forwards = coalesce(?, forwards), "
                "replies = coalesce(?, replies), reactions = coalesce(?, reactions), "
                "reactions_detail = coalesce(?, reactions_detail), updated_at = ? "
                "WHERE channel_id = ? AND message_id = ?",
                metric_updates,
            )
            await db.executemany(
                f"INSERT INTO post_revisions ({REVISION_COLUMNS}) "
                f"VALUES ({placeholders(REVISION_COLUMNS.count(',') + 1)})",
                revisions,
            )
            await db.execute(
                "UPDATE channels SET chain_head = ?, high_water = max(high_water, ?) WHERE id = ?",
                (head, high_water or 0, channel_id),
            )
        return StoreCounts(new, revised, unchanged)

    async def mark_deleted(
        self, channel_id: int, message_ids: Sequence[int], now: datetime, *, source: RevisionSource
    ) -> int:
        """Set deleted_at on posts not yet marked, each deletion a revision of the chain (the
        post as it was, and when it was seen deleted); the text stays. Returns how many
        changed."""
        when = to_db(now)
        async with self.write() as db:
            head = await self._scalar("SELECT chain_head FROM channels WHERE id = ?", (channel_id,))
            revisions: list[tuple[Any, ...]] = []
            for part in chunks(sorted(set(message_ids))):
                rows = await self._rows(
                    "SELECT * FROM posts WHERE channel_id = ? AND deleted_at IS NULL "
                    f"AND message_id IN ({placeholders(len(part))}) ORDER BY message_id",
                    (channel_id, *part),
                )
                for row in rows:
                    # The post as it is, seen deleted now.
                    evidence = Evidence(
                        row["date"], row["edit_date"], row["text"], row["entities"],
                        row["media_type"], row["forward_from"], row["forward_from_id"],
                        row["post_author"], row["reply_to"], when, source.kind, source.file,
                        source.sha256,
                    )  # fmt: skip
                    message_id = row["message_id"]
                    prev, head = head, revision_hash(head, channel_id, message_id, evidence)
                    revisions.append(
                        _revision_row(channel_id, message_id, when, prev, head, evidence)
                    )
                await db.execute(
                    f"UPDATE posts SET deleted_at = ?, updated_at = ? WHERE channel_id = ? "
                    f"AND deleted_at IS NULL AND message_id IN ({placeholders(len(part))})",
                    (when, when, channel_id, *part),
                )
            await db.executemany(
                f"INSERT INTO post_revisions ({REVISION_COLUMNS}) "
                f"VALUES ({placeholders(REVISION_COLUMNS.count(',') + 1)})",
                revisions,
            )
            if revisions:
                await db.execute(
                    "UPDATE channels SET chain_head = ? WHERE id = ?", (head, channel_id)
                )
        return len(revisions)

    async def _ids(self, channel_id: int, message_ids: list[int]) -> dict[int, int]:
        """Message id -> post id for stored posts of a channel."""
        ids: dict[int, int] = {}
        for part in chunks(sorted(set(message_ids))):
            rows = await self._db.execute_fetchall(
                "SELECT message_id, id FROM posts "
                f"WHERE channel_id = ? AND message_id IN ({placeholders(len(part))})",
                (channel_id, *part),
            )
            ids.update((row[0], row[1]) for row in rows)
        return ids

    async def _new_ids(self, after_id: int) -> dict[int, int]:
        """Message id -> post id for the posts just inserted after `after_id` (one channel's)."""
        rows = await self._db.execute_fetchall(
            "SELECT message_id, id FROM posts WHERE id > ?", (after_id,)
        )
        return {row[0]: row[1] for row in rows}

    async def _known(self, channel_id: int, message_ids: list[int]) -> dict[int, _Known]:
        known: dict[int, _Known] = {}
        for part in chunks(sorted(set(message_ids))):
            rows = await self._db.execute_fetchall(
                "SELECT message_id, text, edit_date, date, source FROM posts "
                f"WHERE channel_id = ? AND message_id IN ({placeholders(len(part))})",
                (channel_id, *part),
            )
            for message_id, text, edit_date, date, source in rows:
                known[message_id] = _Known(text, edit_date, date, source)
        return known

    async def _has_revision(
        self, channel_id: int, message_id: int, text: str, edit_date: str | None
    ) -> bool:
        return bool(
            await self._scalar(
                "SELECT 1 FROM post_revisions WHERE channel_id = ? AND message_id = ? "
                "AND text = ? AND edit_date IS ?",
                (channel_id, message_id, text, edit_date),
            )
        )

    # ---- reading back ---------------------------------------------------------------------

    async def post_count(self) -> int:
        return int(await self._scalar("SELECT count(*) FROM posts"))

    async def texts_for_scoring(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(post id, text) in id order after `after_id`, for rescoring in batches."""
        rows = await self._db.execute_fetchall(
            "SELECT id, text FROM posts WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [(row[0], row[1]) for row in rows]

    async def set_sentiments(self, scores: Sequence[tuple[float | None, int]]) -> None:
        async with self.write() as db:
            await db.executemany("UPDATE posts SET sentiment = ? WHERE id = ?", scores)

    async def revision_count(self) -> int:
        return int(await self._scalar("SELECT count(*) FROM post_revisions"))

    async def channel_stats(self) -> list[ChannelStats]:
        # A post is revised when the archive holds a version of it besides the current one
        # (a deletion event, or the collector confirming an imported version, is none).
        rows = await self._rows(
            """
            SELECT c.id, c.username, c.title,
                   count(p.id) AS posts, min(p.date) AS first_post, max(p.date) AS last_post,
                   count(p.deleted_at) AS deleted, coalesce(sum(p.other), 0) AS revised,
                   coalesce(sum(p.edit_date IS NOT NULL AND NOT p.other), 0) AS edited_before_read
            FROM channels c LEFT JOIN (
                SELECT e.id, e.channel_id, e.date, e.edit_date, e.deleted_at, EXISTS (
                    SELECT 1 FROM post_revisions r
                    WHERE r.channel_id = e.channel_id AND r.message_id = e.message_id
                      AND r.deleted_at IS NULL
                      AND (r.text IS NOT e.text OR r.edit_date IS NOT e.edit_date)) AS other
                FROM posts e) p ON p.channel_id = c.id
            GROUP BY c.id ORDER BY posts DESC, c.id
            """
        )
        return [
            ChannelStats(
                channel_id=row["id"],
                label=f"@{row['username']}" if row["username"] else row["title"],
                posts=row["posts"],
                first_post=from_db(row["first_post"]),
                last_post=from_db(row["last_post"]),
                deleted=row["deleted"],
                revised=row["revised"],
                edited_before_read=row["edited_before_read"],
            )
            for row in rows
        ]

    async def export_posts(
        self,
        channel_ids: Sequence[int] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        with_revisions: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every stored field of each post, ordered by channel and message id, streamed."""
        clauses, params = post_filter(channel_ids, since, until)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        revisions = (
            self._stream(
                "SELECT r.* "
                f"FROM post_revisions r JOIN posts p USING (channel_id, message_id) {where} "
                "ORDER BY r.channel_id, r.message_id, r.id",
                params,
            )
            if with_revisions
            else None
        )
        pending: sqlite3.Row | None = None
        async for row in self._stream(
            "SELECT p.*, c.username, c.title FROM posts p JOIN channels c ON c.id = p.channel_id "
            f"{where} ORDER BY p.channel_id, p.message_id",
            params,
        ):
            record = _export_record(row)
            if revisions is not None:
                history: list[dict[str, Any]] = []
                key = (row["channel_id"], row["message_id"])
                while True:
                    if pending is None:
                        pending = await anext(revisions, None)
                        if pending is None:
                            break
                    if (pending["channel_id"], pending["message_id"]) != key:
                        break
                    history.append(_revision_record(pending))
                    pending = None
                record["revisions"] = history
            yield record


def _post_row(
    item: PreparedPost, entities: str, seen: str | None, source: RevisionSource
) -> tuple[Any, ...]:
    post = item.post
    return (
        post.channel_id, post.message_id, to_db(post.date), to_db(post.edit_date), post.text,
        entities, post.media_type, post.forward_from,
        post.forward_from_id, post.reply_to, post.grouped_id, post.post_author, post.views,
        post.forwards, post.replies, _reaction_total(post.reactions),
        _reaction_detail(post.reactions), item.lemmas, item.sentiment, seen, seen, source.kind,
    )  # fmt: skip


def _revision_row(
    channel_id: int, message_id: int, seen: str | None, prev: str, head: str, e: Evidence
) -> tuple[Any, ...]:
    """A revision as REVISION_COLUMNS lists its columns."""
    return (
        channel_id, message_id, seen, prev, head, CHAIN_VERSION, e.date, e.edit_date, e.text,
        e.entities, e.media_type, e.forward_from, e.forward_from_id, e.post_author, e.reply_to,
        e.deleted_at, e.source, e.source_file, e.source_sha256,
    )  # fmt: skip


def _metric_row(item: PreparedPost, seen: str | None) -> tuple[Any, ...]:
    post = item.post
    return (
        post.views, post.forwards, post.replies, _reaction_total(post.reactions),
        _reaction_detail(post.reactions), seen, post.channel_id, post.message_id,
    )  # fmt: skip


def _has_metrics(item: PreparedPost) -> bool:
    post = item.post
    return any(v is not None for v in (post.views, post.forwards, post.replies, post.reactions))


def _reaction_total(reactions: dict[str, int] | None) -> int | None:
    return None if reactions is None else sum(reactions.values())


def _reaction_detail(reactions: dict[str, int] | None) -> str | None:
    return None if reactions is None else _json(reactions)


def _iso(value: str | None) -> str | None:
    moment = from_db(value)
    return None if moment is None else moment.isoformat()


def _export_record(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "channel_id": row["channel_id"],
        "channel": row["username"] or row["title"],
        "message_id": row["message_id"],
        "url": post_url(row["channel_id"], row["username"], row["message_id"]),
        "date": _iso(row["date"]),
        "edit_date": _iso(row["edit_date"]),
        "deleted_at": _iso(row["deleted_at"]),
        "text": row["text"],
        "entities": json.loads(row["entities"]),
        "media_type": row["media_type"],
        "forward_from": row["forward_from"],
        "forward_from_id": row["forward_from_id"],
        "reply_to": row["reply_to"],
        "grouped_id": row["grouped_id"],
        "post_author": row["post_author"],
        "views": row["views"],
        "forwards": row["forwards"],
        "replies": row["replies"],
        "reactions": row["reactions"],
        "reactions_detail": json.loads(row["reactions_detail"])
        if row["reactions_detail"]
        else None,
        "sentiment": row["sentiment"],
        "source": row["source"],
        "first_seen_at": _iso(row["first_seen_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def _revision_record(row: sqlite3.Row) -> dict[str, Any]:
    """A revision as `export --revisions` gives it: what its hash covers, and the hashes."""
    return {
        "text": row["text"],
        "edit_date": _iso(row["edit_date"]),
        "deleted_at": _iso(row["deleted_at"]),
        "entities": json.loads(row["entities"]) if row["entities"] is not None else None,
        "media_type": row["media_type"],
        "forward_from": row["forward_from"],
        "forward_from_id": row["forward_from_id"],
        "post_author": row["post_author"],
        "reply_to": row["reply_to"],
        "source": row["source"],
        "source_file": row["source_file"],
        "source_sha256": row["source_sha256"],
        "seen_at": _iso(row["seen_at"]),
        "chain_version": row["chain_version"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }

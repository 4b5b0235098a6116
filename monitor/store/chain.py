"""Checking the evidence chain: recomputing every revision's hash, comparing each post with
its current revision, and the channels' heads to publish."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence

from monitor.integrity import CHAIN_VERSION, Evidence, revision_hash, revision_hash_v1
from monitor.models import ChainBreak, ChainHead
from monitor.store.base import StoreBase, chunks, from_db, placeholders

# What a post holds of each version, compared with its current revision by `verify_channel`:
# version 1 covered the text and dates only.
_V1_FIELDS = ("date", "edit_date", "text")
_V2_FIELDS = (
    *_V1_FIELDS, "entities", "media_type", "forward_from", "forward_from_id", "post_author",
    "reply_to", "source",
)  # fmt: skip
# The revision that is a post's current version: the collector's before an import's (None,
# not recorded, counts as the collector's), then the latest edit, then the latest stored.
_CURRENT_REVISION = """
    SELECT c.id FROM post_revisions c
    WHERE c.channel_id = p.channel_id AND c.message_id = p.message_id AND c.deleted_at IS NULL
    ORDER BY c.source IS 'import', coalesce(c.edit_date, '') DESC, c.id DESC LIMIT 1
"""


def _recomputed(prev_hash: str, channel_id: int, row: sqlite3.Row) -> str | None:
    """The revision's hash computed again under its chain version; None for a version this
    program does not know."""
    if row["chain_version"] == 1:
        return revision_hash_v1(
            prev_hash, channel_id, row["message_id"], row["date"], row["text"], row["edit_date"]
        )
    if row["chain_version"] == CHAIN_VERSION:
        evidence = Evidence(
            row["date"], row["edit_date"], row["text"], row["entities"], row["media_type"],
            row["forward_from"], row["forward_from_id"], row["post_author"], row["reply_to"],
            row["deleted_at"], row["source"], row["source_file"], row["source_sha256"],
        )  # fmt: skip
        return revision_hash(prev_hash, channel_id, row["message_id"], evidence)
    return None


class ChainMixin(StoreBase):
    async def chain(self, channel_id: int) -> AsyncIterator[sqlite3.Row]:
        async for row in self._stream(
            "SELECT * FROM post_revisions WHERE channel_id = ? ORDER BY id", (channel_id,)
        ):
            yield row

    async def verify_channel(
        self, channel_id: int, label: str, published: Collection[str] = ()
    ) -> ChainBreak | None:
        """Recompute one channel's chain; the first revision or post that does not fit.

        Every post must equal its current revision in what that revision's chain version
        covers, and a deletion mark must have its deletion revision (marks made before chain
        version 2, on posts stored before it, had none). `published`: heads printed earlier by
        `chain-head`, each of which must still be in the chain.
        """
        head, version = "", 1
        deletions: dict[int, str] = {}  # message id -> when its deletion revision says
        found: set[str] = set()
        async for row in self.chain(channel_id):
            where = (channel_id, label, row["message_id"], row["id"])
            expected = _recomputed(head, channel_id, row)
            if expected is None:
                return ChainBreak(*where, f"its chain version {row['chain_version']} is unknown")
            if row["chain_version"] < version:
                reason = f"it claims chain version {row['chain_version']} after revisions of version {version}"
                return ChainBreak(*where, reason)
            if row["prev_hash"] != head:
                return ChainBreak(*where, "a revision before it was removed or reordered")
            if row["hash"] != expected:
                return ChainBreak(*where, "its stored content no longer matches its hash")
            if row["deleted_at"] is not None:
                deletions[row["message_id"]] = row["deleted_at"]
            if row["hash"] in published:
                found.add(row["hash"])
            head, version = row["hash"], row["chain_version"]
        stored_head = await self._scalar(
            "SELECT chain_head FROM channels WHERE id = ?", (channel_id,)
        )
        if stored_head != head:
            last = await self._scalar(
                "SELECT message_id FROM post_revisions WHERE channel_id = ? ORDER BY id DESC LIMIT 1",
                (channel_id,),
            )
            return ChainBreak(channel_id, label, last or 0, None, "revisions after it were removed")
        return (
            await self._post_mismatch(channel_id, label)
            or await self._deletion_mismatch(channel_id, label, deletions)
            or _missing_head(channel_id, label, set(published) - found - {""})
        )

    async def _post_mismatch(self, channel_id: int, label: str) -> ChainBreak | None:
        """The first post whose stored fields differ from its current revision's."""
        post_columns = ", ".join(f"p.{name}" for name in _V2_FIELDS)
        revision_columns = ", ".join(f"r.{name} AS r_{name}" for name in _V2_FIELDS)
        differs = " OR ".join(f"p.{name} IS NOT r.{name}" for name in _V1_FIELDS)
        differs_v2 = " OR ".join(f"p.{name} IS NOT r.{name}" for name in _V2_FIELDS)
        rows = await self._rows(
            f"SELECT p.message_id, {post_columns}, r.id AS r_id, r.chain_version, "
            f"{revision_columns} FROM posts p "
            f"LEFT JOIN post_revisions r ON r.id = ({_CURRENT_REVISION}) "
            f"WHERE p.channel_id = ? AND (r.id IS NULL OR {differs} "
            f"OR (r.chain_version > 1 AND ({differs_v2}))) "
            "ORDER BY p.message_id LIMIT 1",
            (channel_id,),
        )
        if not rows:
            return None
        row = rows[0]
        if row["r_id"] is None:
            return ChainBreak(
                channel_id, label, row["message_id"], None, "it has no hashed revision"
            )
        fields = _V1_FIELDS if row["chain_version"] == 1 else _V2_FIELDS
        name = next(name for name in fields if row[name] != row[f"r_{name}"])
        return ChainBreak(
            channel_id, label, row["message_id"], None,
            f"its current {name.replace('_', ' ')} differs from its latest hashed revision",
        )  # fmt: skip

    async def _deletion_mismatch(
        self, channel_id: int, label: str, deletions: dict[int, str]
    ) -> ChainBreak | None:
        """The first post whose deletion mark has no deletion revision, or the reverse."""
        rows = await self._db.execute_fetchall(
            "SELECT message_id, deleted_at FROM posts WHERE channel_id = ? AND deleted_at IS NOT NULL",
            (channel_id,),
        )
        marks: dict[int, str] = {row[0]: row[1] for row in rows}
        for message_id in sorted(deletions):
            if marks.get(message_id) != deletions[message_id]:
                reason = "its deletion mark was removed or changed after its deletion was hashed"
                return ChainBreak(channel_id, label, message_id, None, reason)
        unhashed = sorted(marks.keys() - deletions.keys())
        if unhashed and (forged := await self._forged_marks(channel_id, unhashed)):
            reason = "it is marked deleted, but no hashed deletion says so"
            return ChainBreak(channel_id, label, forged[0], None, reason)
        return None

    async def _forged_marks(self, channel_id: int, message_ids: Sequence[int]) -> list[int]:
        """Those of the posts that were stored under chain version 2 only: a deletion mark of
        theirs without its deletion revision was not made by this program."""
        forged: list[int] = []
        for part in chunks(message_ids):
            rows = await self._db.execute_fetchall(
                "SELECT p.message_id FROM posts p WHERE p.channel_id = ? "
                f"AND p.message_id IN ({placeholders(len(part))}) AND NOT EXISTS ("
                "SELECT 1 FROM post_revisions r WHERE r.channel_id = p.channel_id "
                "AND r.message_id = p.message_id AND r.chain_version = 1) ORDER BY p.message_id",
                (channel_id, *part),
            )
            forged += [row[0] for row in rows]
        return forged

    async def chain_heads(self, channel_ids: Sequence[int] | None = None) -> list[ChainHead]:
        """Each channel's head, its number of revisions, and when the latest was stored."""
        where = f"WHERE c.id IN ({placeholders(len(channel_ids))})" if channel_ids else ""
        rows = await self._rows(
            "SELECT c.id, c.username, c.title, c.chain_head, "
            "(SELECT count(*) FROM post_revisions r WHERE r.channel_id = c.id) AS revisions, "
            "(SELECT r.seen_at FROM post_revisions r WHERE r.channel_id = c.id "
            " ORDER BY r.id DESC LIMIT 1) AS at "
            f"FROM channels c {where} ORDER BY c.id",
            list(channel_ids or ()),
        )
        return [
            ChainHead(
                channel_id=row["id"],
                channel_label=f"@{row['username']}" if row["username"] else row["title"],
                head=row["chain_head"],
                revisions=row["revisions"],
                at=from_db(row["at"]),
            )
            for row in rows
        ]


def _missing_head(channel_id: int, label: str, missing: set[str]) -> ChainBreak | None:
    if not missing:
        return None
    head = min(missing)
    return ChainBreak(
        channel_id, label, None, None,
        f"the published head {head[:16]}... is no longer in its chain: its history was rewritten",
    )  # fmt: skip

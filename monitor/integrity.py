"""The evidence chain: every revision's SHA-256 covers its content and the hash before it.

Per channel, each revision's hash covers the hash of the revision before it ('' for the
first), so changing, removing or reordering any stored revision breaks every hash after it.
Two versions of the payload exist; each revision records the one it was hashed with.

Version 1 (archives before sources were recorded): the JSON array
[previous hash, channel id, message id, date, text, edit date ('' when none)].

Version 2: the JSON array
[previous hash, 2, channel id, message id, date, edit date, text, entities, media type,
media hash, forward source name, forward source id, author, reply to, deleted at, source,
source file, source file SHA-256], entities as their stored JSON text, absent values null.
A deletion is a revision of its own: the post as it was, with the time it was seen deleted.

Dates are as stored: 'YYYY-MM-DD HH:MM:SS' UTC.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import NamedTuple

CHAIN_VERSION = 2

# One encoder for every hash: json.dumps builds a new one per call when given options.
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Evidence(NamedTuple):
    """What a version-2 revision's hash covers besides its place in the chain."""

    date: str
    edit_date: str | None
    text: str
    entities: str  # the stored JSON text
    media_type: str | None
    forward_from: str | None
    forward_from_id: int | None
    post_author: str | None
    reply_to: int | None
    deleted_at: str | None
    source: str
    source_file: str | None
    source_sha256: str | None
    # The archive keeps no media files yet; the field is in the payload so that adding
    # them does not change the format.
    media_hash: str | None = None


def revision_hash_v1(
    prev_hash: str, channel_id: int, message_id: int, date: str, text: str, edit_date: str | None
) -> str:
    payload = _PAYLOAD([prev_hash, channel_id, message_id, date, text, edit_date or ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def revision_hash(prev_hash: str, channel_id: int, message_id: int, evidence: Evidence) -> str:
    e = evidence
    payload = _PAYLOAD(
        [prev_hash, CHAIN_VERSION, channel_id, message_id, e.date, e.edit_date, e.text,
         e.entities, e.media_type, e.media_hash, e.forward_from, e.forward_from_id,
         e.post_author, e.reply_to, e.deleted_at, e.source, e.source_file, e.source_sha256]
    )  # fmt: skip
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class PublishedHeadsError(ValueError):
    """A file of published heads cannot be used; the message says why in one sentence."""


_SHA256 = re.compile(r"[0-9a-f]{64}")


def published_heads(text: str) -> dict[int, list[str]]:
    """Channel id -> heads, from what `chain-head --json` printed (a JSON list of objects
    with `channel_id` and `head`; other keys are for people)."""
    try:
        entries = json.loads(text)
    except ValueError:
        raise PublishedHeadsError("it is not JSON; give what `chain-head --json` printed") from None
    if not isinstance(entries, list):
        raise PublishedHeadsError(
            "it should hold a JSON list of heads, as `chain-head --json` prints"
        )
    heads: dict[int, list[str]] = {}
    for number, entry in enumerate(entries, 1):
        channel_id = entry.get("channel_id") if isinstance(entry, dict) else None
        head = entry.get("head") if isinstance(entry, dict) else None
        if type(channel_id) is not int:
            raise PublishedHeadsError(f"entry {number} has no whole-number channel_id")
        if not isinstance(head, str) or not (head == "" or _SHA256.fullmatch(head)):
            raise PublishedHeadsError(
                f"entry {number} has no head of 64 hexadecimal digits (a SHA-256)"
            )
        heads.setdefault(channel_id, []).append(head)
    return heads

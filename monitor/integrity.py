"""The evidence chain: every revision's SHA-256 covers its content and the hash before it.

Per channel, revision n's hash is SHA-256 of the JSON array
[hash of revision n-1 ('' for the first), channel id, message id, date, text, edit date],
dates as stored ('YYYY-MM-DD HH:MM:SS' UTC, edit date '' when none). Changing, removing or
reordering any stored revision breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json

# One encoder for every hash: json.dumps builds a new one per call when given options.
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def revision_hash(
    prev_hash: str, channel_id: int, message_id: int, date: str, text: str, edit_date: str | None
) -> str:
    payload = _PAYLOAD([prev_hash, channel_id, message_id, date, text, edit_date or ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()

"""Reading Telegram Desktop exports (`result.json`), streamed so memory stays flat.

Two shapes exist: the export of one chat (`{name, type, id, messages: [...]}`) and the
export of a whole account (`{..., chats: {list: [{name, type, id, messages}]}, left_chats: ...}`).
Messages are built one at a time from ijson's event stream and converted to Post here;
nothing else in the project knows the export format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

import ijson

from monitor.models import Post

CHANNEL_TYPES = frozenset({"public_channel", "private_channel"})
_CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
_MESSAGE_PREFIXES = {f"{p}.messages.item".lstrip("."): p for p in _CHAT_PREFIXES}
_CHAT_FIELDS = {
    f"{p}.{key}".lstrip("."): (p, key) for p in _CHAT_PREFIXES for key in ("name", "type", "id")
}
_CHAT_STARTS = {p for p in _CHAT_PREFIXES if p}
# Exports nest about five levels deep (chats, list, a chat, messages, a message, its text).
MAX_NESTING = 64

# The export's own names for media, mapped to ours; the first key a message has wins.
_MEDIA_KEYS = (
    ("photo", "photo"),
    ("poll", "poll"),
    ("location_information", "location"),
    ("contact_information", "contact"),
    ("game_title", "game"),
    ("invoice_information", "invoice"),
)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ExportFormatError(ValueError):
    """The file cannot be read as an export from this point on."""


class MessageError(ValueError):
    """One message has a field this importer cannot use."""


@dataclass(frozen=True)
class ExportChat:
    id: int
    title: str
    type: str

    @property
    def is_channel(self) -> bool:
        return self.type in CHANNEL_TYPES


@dataclass
class _ChatDraft:
    name: str | None = None
    type: str | None = None
    id: int | None = None

    def chat(self) -> ExportChat:
        if self.id is None:
            raise ExportFormatError(
                "a chat's messages come before its id, so they cannot be placed"
            )
        return ExportChat(self.id, self.name or str(self.id), self.type or "unknown")


def read_export(stream: Readable) -> Iterator[tuple[ExportChat, Any]]:
    """Yield (chat, raw message) in file order. ExportFormatError when the file is no export
    or ends early; messages yielded before that stay valid."""
    drafts: dict[str, _ChatDraft] = {"": _ChatDraft()}
    builder: Any = None
    builder_prefix = ""
    depth = 0
    saw_messages = False
    # ijson.parse would give each event its full prefix, building a string as long as the
    # nesting is deep for every event: a file of 200 KB of brackets took gigabytes. Prefixes
    # are kept here instead, only outside messages, and nesting is capped.
    path: list[str] = []
    events = ijson.basic_parse(_WholeCharacters(stream), use_float=True)
    first = None
    try:
        first = next(events, None)
        if first is None or first[0] != "start_map":
            raise ExportFormatError(
                "it is not a Telegram Desktop export (no JSON object at the top)"
            )
        path.append("")
        for event, value in events:
            if builder is not None:
                builder.event(event, value)
                if event in ("start_map", "start_array"):
                    depth += 1
                    if depth > MAX_NESTING:
                        raise _too_deep()
                elif event in ("end_map", "end_array"):
                    depth -= 1
                    if depth == 0:
                        chat = drafts[builder_prefix].chat()
                        yield chat, builder.value
                        builder = None
                continue
            if event == "map_key":
                path[-1] = value
                continue
            if event in ("end_map", "end_array"):
                path.pop()
                continue
            prefix = ".".join(path)
            if event in ("start_map", "start_array"):
                if len(path) >= MAX_NESTING:
                    raise _too_deep()
                path.append("item" if event == "start_array" else "")
            if prefix in _MESSAGE_PREFIXES:
                # Every entry of a messages list is handed on, whatever it is: one that is
                # not an object (null, a number, a list) is then reported, not skipped.
                saw_messages = True
                if event not in ("start_map", "start_array"):
                    yield drafts[_MESSAGE_PREFIXES[prefix]].chat(), value
                    continue
                path.pop()  # the entry's own end goes to the builder
                builder_prefix = _MESSAGE_PREFIXES[prefix]
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
                depth = 1
            elif event == "start_map" and prefix in _CHAT_STARTS:
                drafts[prefix] = _ChatDraft()
            elif prefix in _CHAT_FIELDS and event in ("string", "number"):
                chat_prefix, key = _CHAT_FIELDS[prefix]
                _set_chat_field(drafts.setdefault(chat_prefix, _ChatDraft()), key, value)
    except ijson.JSONError as error:
        detail = _short(error)
        if "premature EOF" in detail:
            if not saw_messages and first is None:
                raise ExportFormatError("the file is empty") from None
            raise ExportFormatError(
                "the file ends in the middle of the JSON (truncated?)"
            ) from None
        if "overflow" in detail:  # the parser reads numbers as 64-bit integers or doubles
            raise ExportFormatError(
                "it holds a number too large for 64 bits, which no export does"
            ) from None
        raise ExportFormatError(f"it is not valid JSON ({detail})") from None
    except UnicodeDecodeError as error:
        raise ExportFormatError(
            f"it is not UTF-8 text (byte {error.start} of a chunk cannot be read)"
        ) from None
    if not saw_messages and not drafts[""].id and "chats.list.item" not in drafts:
        raise ExportFormatError("it is not a Telegram Desktop export (it has no 'messages' list)")


# Escaped halves of UTF-16 surrogate pairs, and escaped backslashes (after which a "u" is
# text, not an escape). The longest match is a pair: 12 bytes.
_SURROGATE_ESCAPES = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_LONGEST_ESCAPE = 12


def _whole(match: re.Match[bytes]) -> bytes:
    return match[0] if len(match[0]) != 6 else rb"\ufffd"


class _WholeCharacters:
    """The export's bytes with each escaped lone half of a surrogate pair written as U+FFFD.
    Such an escape is valid JSON (a cut emoji), but the C parser turns a lone low half into
    bytes no UTF-8 decoder takes, which stopped the import there."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._held = b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing first, to learn the type read() returns
            return b""
        while True:
            chunk = self._stream.read(size)
            data, self._held = self._held + chunk, b""
            if not chunk:  # the end: nothing more can complete a pair
                return _SURROGATE_ESCAPES.sub(_whole, data)
            # Hold back what a match may still grow into, so no escape is split.
            cut, done, out = max(len(data) - _LONGEST_ESCAPE, 0), 0, bytearray()
            for match in _SURROGATE_ESCAPES.finditer(data):
                if match.end() > cut:
                    cut = min(cut, match.start())
                    break
                out += data[done : match.start()] + _whole(match)
                done = match.end()
            out += data[done:cut]
            self._held = data[cut:]
            if out:
                return bytes(out)


def _too_deep() -> ExportFormatError:
    return ExportFormatError(
        f"it nests values more than {MAX_NESTING} levels deep, which no export does"
    )


def _set_chat_field(draft: _ChatDraft, key: str, value: Any) -> None:
    if key == "id":
        chat_id = _whole_number(value)
        if chat_id is None:
            raise ExportFormatError(f"the chat id {_preview(value)} is not a whole number")
        draft.id = chat_id
    elif key == "name":
        draft.name = str(value)
    else:
        draft.type = str(value)


def _short(error: Exception) -> str:
    """The first line of the parser's complaint (the C parser gives it as bytes)."""
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    text = str(detail).strip().splitlines()[0] if str(detail).strip() else type(error).__name__
    return text[:120]


# ---- one message -> Post -----------------------------------------------------------------


def _int(raw: dict[str, Any], key: str, required: bool = False) -> int | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise MessageError(f"'{key}' is missing")
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value)
    number = _whole_number(value)
    if number is None:
        raise MessageError(f"'{key}' should be a whole number, got {_preview(value)}")
    return number


_SQLITE_INTEGER = range(-(2**63), 2**63)
# A number written as text: ASCII digits only ("²" and "١" pass str.isdigit but not int()),
# and few enough that int() takes them (it refuses over 4,300).
_DIGITS = re.compile(r"-?[0-9]{1,20}")


def _whole_number(value: Any) -> int | None:
    """The value as an int SQLite can store, or None (bools, fractions, inf, NaN, huge)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():  # also inf and NaN
        return None
    number = int(value)
    return number if number in _SQLITE_INTEGER else None


def _preview(value: Any) -> str:
    """The value as the file writes it (null, true, "text"), shortened; a lone surrogate
    escaped, so the sentence can be printed."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def _timestamp(raw: dict[str, Any], key: str, required: bool = False) -> datetime | None:
    seconds = _int(raw, key, required)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MessageError(f"'{key}' is not a possible time: {seconds}") from None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text_and_entities(raw: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and its entities with Telegram's UTF-16 offsets."""
    parts = raw.get("text_entities")
    if parts is None:
        text = raw.get("text", "")
        if isinstance(text, str):
            return text, []
        parts = text
    if not isinstance(parts, list):
        raise MessageError(f"'text' should be a string or a list, got {_preview(parts)}")
    pieces: list[str] = []
    entities: list[dict[str, Any]] = []
    offset = 0
    for part in parts:
        if isinstance(part, str):
            piece, kind, extra = part, "plain", {}
        elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
            piece, kind = part.get("text", ""), str(part.get("type", "plain"))
            extra = {
                k: part[k] for k in ("href", "user_id", "document_id", "language") if k in part
            }
        else:
            raise MessageError(f"a text part should be a string or an object, got {_preview(part)}")
        length = _utf16_len(piece)
        if kind != "plain" and length:
            entities.append({"type": kind, "offset": offset, "length": length, **extra})
        pieces.append(piece)
        offset += length
    return "".join(pieces), entities


def _media_type(raw: dict[str, Any]) -> str | None:
    for key, name in _MEDIA_KEYS:
        if key in raw:
            return name
    if isinstance(raw.get("media_type"), str):
        return str(raw["media_type"])
    if "file" in raw:
        return "document"
    return None


# Telegram counts reactions in a 32-bit int (ReactionCount.count).
_REACTION_COUNT = range(-(2**31), 2**31)


def _reactions(raw: dict[str, Any]) -> dict[str, int] | None:
    items = raw.get("reactions")
    if items is None:
        return None
    if not isinstance(items, list):
        raise MessageError(f"'reactions' should be a list, got {_preview(items)}")
    totals: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            raise MessageError(f"a reaction should be an object, got {_preview(item)}")
        count = _int(item, "count", required=True) or 0
        if count not in _REACTION_COUNT:  # the counts are summed into one stored integer
            raise MessageError(f"a reaction count should fit in 32 bits, got {count}")
        kind = item.get("type")
        if kind == "emoji":
            key = str(item.get("emoji", "?"))
        elif kind == "custom_emoji":
            key = f"custom:{item.get('document_id', '?')}"
        else:
            key = str(kind or "other")
        totals[key] = totals.get(key, 0) + count
    return totals


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MessageError(f"'{key}' should be text, got {_preview(value)}")


def _peer_id(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if not isinstance(value, str):
        return None
    digits = value.lstrip("abcdefghijklmnopqrstuvwxyz")
    return _whole_number(int(digits)) if _DIGITS.fullmatch(digits) else None


def message_id_of(raw: Any) -> Any:
    """The message's id as a problem report names it: as written when it is a number, else
    quoted and shortened (it may be a page of junk)."""
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if value is None or type(value) is int else _preview(value)


def to_post(channel_id: int, raw: Any) -> Post | None:
    """The Post for one raw export message; None for service messages. MessageError when a
    field has a type the export format does not allow."""
    if not isinstance(raw, dict):
        raise MessageError(f"a message should be an object, got {_preview(raw)}")
    if raw.get("type", "message") == "service":
        return None
    message_id = _int(raw, "id", required=True)
    assert message_id is not None
    if message_id <= 0:
        raise MessageError(f"'id' should be positive, got {message_id}")
    date = _timestamp(raw, "date_unixtime")
    if date is None:
        raise MessageError("'date_unixtime' is missing (exports made before 2021 lack it)")
    text, entities = _text_and_entities(raw)
    return Post(
        channel_id=channel_id,
        message_id=message_id,
        date=date,
        text=text,
        entities=entities,
        edit_date=_timestamp(raw, "edited_unixtime"),
        media_type=_media_type(raw),
        forward_from=_optional_str(raw, "forwarded_from"),
        forward_from_id=_peer_id(raw, "forwarded_from_id"),
        reply_to=_int(raw, "reply_to_message_id"),
        post_author=_optional_str(raw, "author"),
        reactions=_reactions(raw),
    )


class CountingReader:
    """A binary file that counts what has been read, for a progress bar on huge exports."""

    def __init__(self, handle: IO[bytes], on_read: Callable[[int], None] | None = None) -> None:
        self._handle = handle
        self._on_read = on_read
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.position += len(data)
        if self._on_read is not None:
            self._on_read(self.position)
        return data

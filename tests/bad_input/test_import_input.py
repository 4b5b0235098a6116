"""Mutated Telegram Desktop exports: the import never raises, reports each problem in one
sentence naming the file, stores every message that was not itself damaged and lies before
the point where the file breaks, and importing the same file again changes nothing.

tests/test_importer.py mutates one export by a random seed and keeps a 400-byte margin; here
Hypothesis builds the export, knows each message's exact byte span, and mutates messages,
the chat header and the bytes in the ways real files go wrong."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from monitor.importers.service import ImportReport, import_exports
from monitor.store import Store
from monitor.text import TextPipeline
from tests.bad_input.conftest import (
    IMPORTED_AT,
    LARGE_REPORTS,
    Loop,
    archive_rows,
    broken_chains,
    examples,
)
from tests.bad_input.strategies import WORDS, assembled, characters, emoji_only, one_sentence
from tests.conftest import channel_export, export_message

pytestmark = LARGE_REPORTS

CHAT_ID = 1001


class Fate(Enum):
    """What the import owes a message that lies before any damage to the file."""

    EXACT = "stored with exactly its text"
    STORED = "stored, its text as the file's JSON decodes"
    ANY = "stored, or skipped with a sentence"


@dataclass
class Planned:
    message: Any
    fate: Fate
    message_id: int = 0  # as stored, whatever form the file writes it in
    text: str = ""  # the stored text owed, for EXACT
    encoded: bytes = b""
    stops_reading: bool = False  # the parser gives up here, as at damage to the bytes


@dataclass
class ExportFile:
    data: bytes
    planned: list[Planned]
    spans: list[tuple[int, int]]  # each message's bytes in `data`
    damage: int | None = None  # bytes from here on cannot be trusted
    broken: bool = False  # the damage leaves no valid JSON: the report must say so
    notes: list[str] = field(default_factory=list)

    def owed(self) -> list[Planned]:
        """The messages wholly before the damage: each is owed what its fate says."""
        end = len(self.data) if self.damage is None else self.damage
        return [p for p, (_, stop) in zip(self.planned, self.spans, strict=True) if stop <= end]

    def __repr__(self) -> str:  # a failing example shows what was done, not 100 KB of JSON
        return f"ExportFile({len(self.data):,} bytes, damage={self.damage}, {self.notes})"


# ---- valid messages ------------------------------------------------------------------------

TEXT = st.one_of(assembled(), characters(surrogates=False), emoji_only(), st.sampled_from(WORDS))
ENTITY_TYPES = ["bold", "italic", "text_link", "mention", "hashtag", "custom_emoji", "spoiler"]


@st.composite
def message_text(draw: st.DrawFn) -> tuple[Any, str]:
    """The export's `text` (a string, or a list of strings and entity objects) and the plain
    text it stands for."""
    if draw(st.booleans()):
        text = draw(TEXT)
        return text, text
    parts: list[Any] = []
    for piece in draw(st.lists(TEXT, min_size=1, max_size=4)):
        if draw(st.booleans()):
            parts.append(piece)
        else:
            part = {"type": draw(st.sampled_from(ENTITY_TYPES)), "text": piece}
            if part["type"] == "text_link":
                part["href"] = "https://t.me/" + draw(st.sampled_from(WORDS))
            parts.append(part)
    return parts, "".join(p if isinstance(p, str) else p["text"] for p in parts)


@st.composite
def valid_message(draw: st.DrawFn, message_id: int) -> Planned:
    text, plain = draw(message_text())
    extra: dict[str, Any] = {}
    if draw(st.booleans()):
        emoji = draw(st.lists(st.sampled_from(["👍", "🤡", "🔥", "❤"]), max_size=3, unique=True))
        extra["reactions"] = [
            {"type": "emoji", "count": n, "emoji": e} for n, e in enumerate(emoji)
        ]
    if draw(st.booleans()):
        extra["forwarded_from"] = draw(TEXT)
        extra["forwarded_from_id"] = f"channel{draw(st.integers(1, 2**40))}"
    if draw(st.booleans()):
        extra["edited_unixtime"] = str(1_730_000_000 + message_id)
    return Planned(export_message(message_id, text, **extra), Fate.EXACT, message_id, plain)


# ---- mutations of one message --------------------------------------------------------------


def nested(depth: int, leaf: Any = "x") -> Any:
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


JUNK = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 3.5, 1e300, "", [], {}, "²", "١٢", "--5", "1e3",
                     "9" * 5000, 2**63, 10**30, -(2**63) - 1, [1, {"a": 2}]]),
    st.integers(1, 40).map(nested),
    characters(surrogates=True),
)  # fmt: skip


def harmless(planned: Planned, draw: st.DrawFn) -> list[Planned]:
    """Changes an export may show that cost the message nothing."""
    message, kind = copy.deepcopy(planned.message), draw(st.integers(0, 4))
    if kind == 0:
        message[draw(st.sampled_from(["zzz", "ttl", "via_bot", "inline_bot_buttons"]))] = draw(JUNK)
    elif kind == 1:
        for key in draw(st.lists(st.sampled_from(["date", "from", "from_id", "type"]))):
            message.pop(key, None)
    elif kind == 2:
        message[draw(st.sampled_from(["from", "from_id", "forwarded_from_id"]))] = draw(
            st.sampled_from(["user²", "channel" + "9" * 30, "", "channel-5", "chat١٢"])
        )
    elif kind == 3:  # the id written as text or as a float, as other tools write it
        message_id = message["id"]
        message["id"] = draw(
            st.sampled_from([str(message_id), f" {message_id} ", float(message_id)])
        )
    twice = kind == 4  # the same message twice, as a merged export has it
    return [replace(planned, message=copy.deepcopy(message)) for _ in range(1 + twice)]


def harmful(planned: Planned, draw: st.DrawFn) -> list[Planned]:
    """Changes that may leave the message unusable: it must then be reported, not crash."""
    message, kind = copy.deepcopy(planned.message), draw(st.integers(0, 4))
    message_id = message["id"]
    if kind == 0:
        del message[draw(st.sampled_from(["id", "date_unixtime", "text"]))]
    elif kind == 1:  # ids that are junk, or that no other message of the file has
        message["id"] = draw(st.one_of(JUNK, st.sampled_from([-message_id, 2**63 - message_id])))
    elif kind == 2:
        key = draw(st.sampled_from(["date_unixtime", "text", "edited_unixtime", "author",
                                    "reactions", "reply_to_message_id", "text_entities"]))  # fmt: skip
        message[key] = draw(JUNK)
    elif kind == 3:
        message["text"] = [draw(JUNK), {"type": draw(JUNK), "text": draw(JUNK), "href": draw(JUNK)}]
        message["reactions"] = [{"type": draw(JUNK), "count": draw(JUNK), "emoji": draw(JUNK)}]
    else:
        return [Planned(draw(JUNK), Fate.ANY)]  # a message that is junk itself
    return [Planned(message, Fate.ANY)]


def lone_surrogate(planned: Planned, draw: st.DrawFn) -> list[Planned]:
    """Half an emoji, as a cut text leaves it: the JSON escape is valid, the text is not."""
    message = copy.deepcopy(planned.message)
    message["text"] = draw(st.sampled_from(["\ud83d", "конец \udc00", "\ud800\ud800 Трамп"]))
    return [replace(planned, message=message, fate=Fate.STORED)]


def beyond_the_parser(value: Any) -> bool:
    """A number the JSON parser cannot hold (64-bit integers, finite doubles): reading the
    file stops there with a sentence, as at any other damage."""
    if isinstance(value, list | dict):
        return any(map(beyond_the_parser, value.values() if isinstance(value, dict) else value))
    if isinstance(value, float):
        return not math.isfinite(value)
    return type(value) is int and not -(2**63) <= value < 2**63


def encode(message: Any, ascii_only: bool) -> bytes:
    try:
        return json.dumps(message, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only an escaped file can hold them
        return json.dumps(message, ensure_ascii=True).encode("utf-8")


# Bytes no JSON holds anywhere (not UTF-8, or NUL), then bytes that may still leave JSON.
BREAKING = [b"\xff", b"\xed\xa0\x80", b"\x00", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
BAD_BYTES = [*BREAKING, b"\xc3", b"\xef\xbb\xbf", b"}", b"]", b'"', b",,"]


def assembled_file(planned: list[Planned], name: str = "Канал", whole_account: bool = False,
                   notes: list[str] | None = None) -> ExportFile:  # fmt: skip
    """The export holding `planned` (encoded already, or encoded here), each message's span
    known; damage where a message stops the parser."""
    header = json.dumps({"name": name, "type": "public_channel", "id": CHAT_ID},
                        ensure_ascii=False).encode()  # fmt: skip
    data = (b'{"about": "x", "chats": {"list": [' if whole_account else b"") + header[:-1]
    data += b', "messages": ['
    spans = []
    for index, item in enumerate(planned):
        item.encoded = item.encoded or encode(item.message, False)
        data += b", " if index else b""
        spans.append((len(data), len(data) + len(item.encoded)))
        data += item.encoded
    data += b"]}" + (b"]}}" if whole_account else b"")
    stops = [start for item, (start, _) in zip(planned, spans, strict=True)
             if item.stops_reading or beyond_the_parser(item.message)]  # fmt: skip
    return ExportFile(data, planned, spans, min(stops, default=None), bool(stops), notes or [])


def owed(message_id: int, text: str, **extra: Any) -> Planned:
    return Planned(export_message(message_id, text, **extra), Fate.EXACT, message_id, text)


def refused(message: Any) -> Planned:
    return Planned(message, Fate.ANY)


def nesting_bomb() -> Planned:
    """Junk nested past any export's depth (200 KB took gigabytes to parse): reading stops."""
    return Planned(None, Fate.ANY, encoded=b'{"id": 1, "x": ' + b"[" * 100_000, stops_reading=True)


@st.composite
def export_file(draw: st.DrawFn) -> ExportFile:
    count = draw(st.integers(1, 10))
    ids = sorted(draw(st.sets(st.integers(1, 10_000), min_size=count, max_size=count)))
    planned: list[Planned] = []
    notes: list[str] = []
    for message_id in ids:
        item = draw(valid_message(message_id))
        mutation = draw(st.sampled_from([None, None, harmless, harmful, lone_surrogate]))
        if mutation is not None:
            notes.append(f"{message_id}: {mutation.__name__}")
        planned += [item] if mutation is None else mutation(item, draw)
    for item in planned:
        item.encoded = encode(item.message, draw(st.booleans()))
    bomb = draw(st.none() | st.integers(0, len(planned) - 1))
    if bomb is not None:
        notes.append(f"nesting bomb at message #{bomb}")
        planned[bomb] = nesting_bomb()
    export = assembled_file(planned, draw(TEXT), draw(st.booleans()), notes)
    if draw(st.booleans()):
        data = export.data
        where = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            export.data, kind = data[:where], "cut"
            export.broken = True
        else:
            bad = draw(st.sampled_from(BAD_BYTES))
            export.data, kind = data[:where] + bad + data[where:], f"{bad!r} inserted"
            export.broken = export.broken or bad in BREAKING
        notes.append(f"{kind} at byte {where}")
        export.damage = where if export.damage is None else min(export.damage, where)
    return export


# ---- the property --------------------------------------------------------------------------


def import_twice(loop: Loop, folder: Path, pipeline: TextPipeline, data: bytes
                 ) -> tuple[Store, ImportReport, ImportReport, Path]:  # fmt: skip
    """Import `data` as a result.json twice; the store (open) and both reports."""
    folder.mkdir(parents=True)
    path = folder / "result.json"
    path.write_bytes(data)
    store = loop(Store.open(folder / "archive.db"))

    async def imported() -> ImportReport:
        # A batch of three: damage then falls between batches as often as inside one.
        return await import_exports(store, pipeline, [path], clock=lambda: IMPORTED_AT,
                                    batch_size=3)  # fmt: skip

    try:
        first = loop(imported())
        before = loop(archive_rows(store))
        second = loop(imported())
        assert loop(archive_rows(store)) == before, "importing the file again changed the archive"
    except BaseException:
        loop(store.close())  # an open store's thread would keep the test process alive
        raise
    return store, first, second, path


def assert_sentences(report: ImportReport, path: Path) -> None:
    for problem in report.problems:
        text = str(problem)
        assert text.startswith(str(path)), text[:300]
        assert one_sentence(text, limit=len(str(path)) + 300), text[:400]


@examples(60)
@given(export=export_file())
# Each stopped the import with a traceback, or lost the messages after it, before the fix.
@example(export=assembled_file([owed(1, "до"), nesting_bomb(), owed(3, "после")]))
@example(export=assembled_file([refused({"id": "²"}), refused({"id": "--5"}), owed(3, "Трамп")]))
@example(export=assembled_file([refused({"id": "9" * 5000}), owed(2, "x")]))
@example(export=assembled_file([owed(1, "a", forwarded_from_id="channel" + "9" * 30),
                                owed(2, "b", forwarded_from_id="user²")]))  # fmt: skip
@example(export=assembled_file([refused(export_message(1, "", reactions=[
    {"type": "emoji", "emoji": "👍", "count": 2**62}, {"type": "emoji", "emoji": "🔥", "count": 2**62}
])), owed(2, "x")]))  # fmt: skip
@example(export=assembled_file([
    Planned(export_message(1, "конец \udc00"), Fate.STORED, 1), owed(2, "после")
]))  # fmt: skip
@example(export=assembled_file([owed(1, "до"), refused({"id": 2, "x": 2**64}), owed(3, "после")]))
@example(export=assembled_file([owed(1, "Трамп " * 20_000), owed(2, "\u202e\x00🔥" * 30_000)]))
def test_a_mutated_export_keeps_every_intact_message_before_the_damage(
    loop: Loop, tmp_path: Path, pipeline: TextPipeline, export: ExportFile
) -> None:
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    store, first, second, path = import_twice(loop, folder, pipeline, export.data)
    try:
        assert_sentences(first, path)
        stored = {row["message_id"]: row["text"] for row in loop(archive_rows(store))}
        for item in export.owed():
            if item.fate is Fate.EXACT:
                assert stored.get(item.message_id) == item.text, item.message_id
            elif item.fate is Fate.STORED:
                assert item.message_id in stored, item.message_id
        if export.broken:
            assert first.problems, "a broken file is reported"
        assert loop(broken_chains(store)) == []
        # One revision per post: a message met twice in one file is stored once.
        assert loop(store.revision_count()) == loop(store.post_count())
        assert (second.totals.new, second.totals.revised) == (0, 0)
        assert [str(p) for p in second.problems] == [str(p) for p in first.problems]
    finally:
        loop(store.close())


# ---- the chat around the messages ------------------------------------------------------------

HEADER_VALUES = st.one_of(
    JUNK,
    st.sampled_from(["1001", 1001.0, -1001, 0, 2**63, 10**30, None, "private_channel",
                     "personal_chat", "saved_messages", "private_supergroup", "bot_chat"]),
)  # fmt: skip


@examples(40)
@given(
    changes=st.dictionaries(st.sampled_from(["id", "name", "type"]), HEADER_VALUES),
    dropped=st.sets(st.sampled_from(["id", "name", "type"])),
    id_last=st.booleans(),
)
def test_a_mutated_chat_header_is_imported_or_reported_never_half_done(
    loop: Loop, tmp_path: Path, pipeline: TextPipeline, changes: dict[str, Any],
    dropped: set[str], id_last: bool,
) -> None:  # fmt: skip
    messages = [export_message(i, f"Пост {i} про Трампа") for i in range(1, 8)]
    chat = channel_export(messages, CHAT_ID)
    chat.update(changes)
    for key in dropped:
        chat.pop(key, None)
    if id_last and "id" in chat:  # the id after the messages: they cannot be placed
        chat["id"] = chat.pop("id")
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    store, first, _, path = import_twice(loop, folder, pipeline, encode(chat, False))
    try:
        assert_sentences(first, path)
        stored = {row["message_id"] for row in loop(archive_rows(store))}
        chat_id = chat.get("id")
        usable = (
            type(chat_id) in (int, float) and float(chat_id).is_integer()
            and -(2**63) <= chat_id < 2**63 and not id_last and not beyond_the_parser(chat)
        )  # fmt: skip
        if usable and chat.get("type") in ("public_channel", "private_channel"):
            assert stored == set(range(1, 8)) and not first.problems
        else:
            assert stored == set() and (first.problems or first.skipped_chats), first
    finally:
        loop(store.close())


def test_a_file_holding_two_versions_of_a_message_imports_idempotently(
    loop: Loop, tmp_path: Path, pipeline: TextPipeline
) -> None:
    """Two exports merged by hand carry one message twice, edited in between without a new
    edit date (and the first version once more): each version is kept once, the last one read
    is current, and a second import adds nothing."""
    messages = [
        export_message(1, "первая версия"),
        export_message(1, "вторая версия"),
        export_message(1, "первая версия"),
    ]
    store, first, second, _ = import_twice(
        loop, tmp_path / "twice", pipeline, encode(channel_export(messages), False)
    )
    try:
        (row,) = loop(archive_rows(store))
        assert row["text"] == "вторая версия"
        assert [r["text"] for r in row["revisions"]] == ["первая версия", "вторая версия"]
        assert (first.totals.new, first.totals.revised) == (1, 1)
        assert (second.totals.new, second.totals.revised) == (0, 0)
    finally:
        loop(store.close())

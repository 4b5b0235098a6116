"""`python -m bench.channels_dev OUT [--data PATH]`: the real channel archive in
../shared/data/channels-dev (one CSV per channel, text in Telethon's markdown) as Telegram
Desktop exports, one `OUT/<username>/result.json` per channel.

Real exports carry plain text split into typed parts, never markdown, so the markdown is
parsed back into text and entities first: an archive built from these files holds what an
archive of real exports of these channels would hold.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "channels-dev"

# Telethon's markdown (the CSVs were written by `message.text`, which is Telethon's unparse):
# the longest delimiter first, so ``` is a code block and not three inline code marks.
_DELIMITERS = {
    "```": "pre",
    "**": "bold",
    "__": "italic",
    "~~": "strikethrough",
    "`": "code",
}
_DELIMITER = re.compile("|".join(re.escape(d) for d in _DELIMITERS))
_LINK = re.compile(r"\[([^]]*?)\]\(([\s\S]*?)\)")  # Telethon's DEFAULT_URL_RE
_LITERAL = frozenset({"pre", "code"})  # no formatting is read inside code


@dataclass(frozen=True)
class Entity:
    type: str  # the export's name: bold, italic, strikethrough, code, pre, text_link
    offset: int  # UTF-16 code units, as Telegram counts them
    length: int
    href: str | None = None


@dataclass
class _Span:
    type: str
    start: int  # code points in the text being built
    end: int
    href: str | None = None


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, spans: list[_Span], start: int, stop: int) -> str:
    """`text` without text[start:stop], every span moved over the cut."""
    width = stop - start

    def moved(position: int) -> int:
        if position <= start:
            return position
        return start if position < stop else position - width

    for span in spans:
        span.start, span.end = moved(span.start), moved(span.end)
    return text[:start] + text[stop:]


def parse_markdown(markdown: str) -> tuple[str, list[Entity]]:
    """The plain text and its entities, read as Telethon reads its markdown: a delimiter
    opens an entity only when the same delimiter closes it later (a lone `**` stays text),
    and the text is stripped as Telegram strips a message.

    Two departures from Telethon's parser, both because its unparse writes what its parse
    cannot read back: formatting inside link text is read (Telegram splits a bold line
    around a link, which unparse writes `**a **[**b**](url)** c**`; Telethon would leave
    `**b**` in the text), and spans are moved exactly when delimiters are cut, so nested
    and overlapping entities keep their true extent."""
    text = markdown
    spans: list[_Span] = []
    label: _Span | None = None  # the link whose text is being read: no link inside it
    i = 0
    while i < len(text):
        delimiter = _DELIMITER.match(text, i)
        if delimiter:
            mark = delimiter.group()
            # Searched from one past the mark, as Telethon does, so "****" is no empty entity.
            end = text.find(mark, i + len(mark) + 1)
            if end != -1:
                text = _cut(text, spans, end, end + len(mark))
                text = _cut(text, spans, i, i + len(mark))
                kind = _DELIMITERS[mark]
                spans.append(_Span(kind, i, end - len(mark)))
                if kind in _LITERAL:
                    i = end - len(mark)
                continue
        elif label is None or i >= label.end:
            link = _LINK.match(text, i)
            if link:
                words = link.group(1)
                text = _cut(text, spans, i + 1 + len(words), link.end())
                text = _cut(text, spans, i, i + 1)
                label = _Span("text_link", i, i + len(words), link.group(2))
                spans.append(label)
                continue
        i += 1
    # Telegram strips a message; its entities shrink with it.
    stripped = text.rstrip()
    text = _cut(text, spans, len(stripped), len(text))
    lead = len(text) - len(text.lstrip())
    plain = _cut(text, spans, 0, lead)
    entities = [
        Entity(
            span.type,
            _utf16(plain[: span.start]),
            _utf16(plain[span.start : span.end]),
            span.href,
        )
        for span in sorted(spans, key=lambda s: (s.start, -s.end))
        if span.end > span.start
    ]
    return plain, entities


def export_parts(text: str, entities: list[Entity]) -> list[dict[str, str]]:
    """The text as Telegram Desktop's `text_entities`: consecutive parts, each of one type.
    An export has no nesting, so where entities overlap a part takes the link (its target
    is what a reader follows) or else the innermost entity."""
    if not text:
        return []
    units = text.encode("utf-16-le")
    bounds = {0, _utf16(text)}
    for entity in entities:
        bounds.update((entity.offset, entity.offset + entity.length))
    cuts = sorted(bounds)
    parts: list[dict[str, str]] = []
    for start, stop in itertools.pairwise(cuts):
        piece = units[2 * start : 2 * stop].decode("utf-16-le")
        covering = [e for e in entities if e.offset <= start and stop <= e.offset + e.length]
        links = [e for e in covering if e.type == "text_link"]
        chosen = (links or sorted(covering, key=lambda e: e.length))[:1]
        part = {"type": chosen[0].type if chosen else "plain", "text": piece}
        if chosen and chosen[0].href is not None:
            part["href"] = chosen[0].href
        if parts and _same_kind(parts[-1], part):
            parts[-1]["text"] += piece
        else:
            parts.append(part)
    return parts


def _same_kind(a: dict[str, str], b: dict[str, str]) -> bool:
    return a["type"] == b["type"] and a.get("href") == b.get("href")


def channel_id(username: str) -> int:
    """A stable id in the range real channel ids take, the same on every run and machine."""
    return 1_000_000_000 + zlib.crc32(username.lower().encode()) % 1_000_000_000


@dataclass(frozen=True)
class Row:
    message_id: int
    date: datetime
    markdown: str
    views: int | None
    forwards: int | None


def _count(value: str) -> int | None:
    # The CSVs write counts as floats ("7.0") where a column had gaps.
    return int(float(value)) if value.strip() else None


def read_channel(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield Row(
                int(row["id"]),
                datetime.fromisoformat(row["date"]),
                row["text"],
                _count(row["views"]),
                _count(row["forwards"]),
            )


def export_message(row: Row, username: str, title: str) -> dict[str, Any]:
    text, entities = parse_markdown(row.markdown)
    parts = export_parts(text, entities)
    message: dict[str, Any] = {
        "id": row.message_id,
        "type": "message",
        # Telegram Desktop writes the exporting machine's local time; UTC is ours.
        "date": row.date.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(row.date.timestamp())),
        "from": title,
        "from_id": f"channel{channel_id(username)}",
        # As the export writes it: a plain string when there are no entities.
        "text": [p["text"] if p["type"] == "plain" else p for p in parts] if entities else text,
        "text_entities": parts,
    }
    # Real exports carry no counters; they are kept here for readers of the files (the
    # importer ignores them).
    if row.views is not None:
        message["views"] = row.views
    if row.forwards is not None:
        message["forwards"] = row.forwards
    return message


def channel_export(csv_path: Path) -> dict[str, Any]:
    username = csv_path.stem
    rows = sorted(read_channel(csv_path), key=lambda r: r.message_id)  # exports: oldest first
    return {
        "name": username,
        "type": "public_channel",
        "id": channel_id(username),
        "messages": [export_message(row, username, username) for row in rows],
    }


def channel_files(data: Path) -> list[Path]:
    return sorted(data.glob("*.csv"), key=lambda p: p.stem.lower())


def write_exports(data: Path, out: Path) -> dict[str, Path]:
    """One `out/<username>/result.json` per CSV in `data`; returns username -> file."""
    written: dict[str, Path] = {}
    for csv_path in channel_files(data):
        folder = out / csv_path.stem
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "result.json"
        target.write_text(
            json.dumps(channel_export(csv_path), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        written[csv_path.stem] = target
    return written


def find_data(given: Path | None) -> Path | None:
    """The data folder, or None (with the reason printed) when it is absent."""
    data = given or DEFAULT_DATA
    if not data.is_dir() or not channel_files(data):
        print(
            f"The channel archive is not at {data}: pass --data PATH to a folder of "
            "channel CSVs (see ../shared/data/channels-dev/README.md).",
            file=sys.stderr,
        )
        return None
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="folder for the exports")
    parser.add_argument(
        "--data", type=Path, help=f"folder of channel CSVs (default {DEFAULT_DATA})"
    )
    args = parser.parse_args(argv)
    data = find_data(args.data)
    if data is None:
        return 2
    for username, path in write_exports(data, args.out).items():
        print(f"{username}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

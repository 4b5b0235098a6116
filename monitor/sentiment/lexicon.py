"""The sentiment lexicon: TSV files of `lemma, polarity (-1..1), language, tags`.

Entries are written as ordinary words and keyed through the same text pipeline as posts, so
a Russian entry meets every form of its word, a Ukrainian one its stem, an English one its
Snowball stem. A user's own CSV or TSV (`SENTIMENT_LEXICON`) is merged over the built-in one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from monitor.text import TextPipeline


class LexiconError(ValueError):
    """A lexicon file has a line this program cannot use; the message names file and line."""


@dataclass(frozen=True)
class Entry:
    word: str
    polarity: float
    language: str
    tags: tuple[str, ...] = ()


def _rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, list[str]]]:
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        delimiter = "\t" if "\t" in line else ","
        row = next(csv.reader([line.rstrip("\n")], delimiter=delimiter))
        if first:
            first = False
            if row and row[0].strip().lower() in ("lemma", "word", "term"):
                continue
        yield number, row


def parse_entries(lines: Iterable[str], source: str, language: str = "ru") -> list[Entry]:
    entries = []
    for number, row in _rows(lines, source):
        if len(row) < 2:
            raise LexiconError(f"{source}, line {number}: expected a word and a score")
        word = row[0].strip()
        try:
            polarity = float(row[1])
        except ValueError:
            raise LexiconError(
                f"{source}, line {number}: the score {row[1]!r} is not a number"
            ) from None
        if not -1.0 <= polarity <= 1.0 or not word:
            raise LexiconError(f"{source}, line {number}: scores go from -1 to 1, got {polarity}")
        lang = row[2].strip() if len(row) > 2 and row[2].strip() else language
        tags = tuple(t for t in (row[3].split(";") if len(row) > 3 else []) if t)
        entries.append(Entry(word, polarity, lang, tags))
    return entries


def builtin_entries() -> list[Entry]:
    entries: list[Entry] = []
    folder = resources.files("monitor.sentiment").joinpath("data")
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".tsv"):
            entries.extend(parse_entries(item.read_text("utf-8").splitlines(), item.name))
    return entries


def user_entries(path: Path) -> list[Entry]:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LexiconError(f"{path} cannot be read as UTF-8 text: {error}") from None
    return parse_entries(text.splitlines(), str(path))


def build_lexicon(pipeline: TextPipeline, entries: Iterable[Entry]) -> dict[str, float]:
    """Lemma -> polarity, later entries winning. Multi-word entries are left out: the scorer
    works word by word."""
    lexicon: dict[str, float] = {}
    for entry in entries:
        lemmas = pipeline.lemmas(entry.word, "uk" if entry.language == "uk" else None)
        if len(lemmas) == 1:
            lexicon[lemmas[0]] = entry.polarity
    return lexicon

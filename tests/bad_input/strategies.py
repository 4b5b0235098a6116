"""Hostile text shared by the bad-input suite: what people paste, what files and settings
hold, and what a client other than the official one can send."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import strategies as st

# Characters that hide, reorder or join what is shown: a word with them looks like another.
INVISIBLE = ["\u200f", "\u202e", "\u200d", "\u200b", "\u2066", "\ufeff", "\u00ad", "\u0301"]
CONTROL = ["\x00", "\x07", "\x1b", "\r", "\n", "\t", "\x7f", "\x85"]
WORDS = [
    "Трамп", "Трампа", "санкции", "Бахмут", "Артёмовск", "мирные", "переговоры", "ёлка",
    "Київ", "ґрунт", "переговори", "їжак", "Trump", "sanctions", "F-16", "Tрамп",  # Latin T
    "и", "в", "не", "x", "ы",
]  # fmt: skip
EMOJI = ["🔥", "👍🏽", "🇺🇦", "👨\u200d👩\u200d👧", "❤️", "🤡", "\U0001fae0"]
SYNTAX = [
    '"', "«", "»", "„", "“", "(", ")", "*", "^", ":", "-", "+", "|", "OR", "AND", "NOT",
    "NEAR(", "NEAR/2", "lemmas:", "text:", "{", "}", "[", "]", "'", "\\", "#", "@", "/", ";",
    "--", "%", "_", "$", "`", "<b>", "</a>", "&amp;", "<script>", "?", "!", "~", ",", "..",
    "channel:", "since:", "until:", "channel:@", "since:9999-12-31", "until:9999-12-31",
    "since:0001-01-01", "until:0001-01-01", "since:2024-02-30", "channel:@rybar",
    "channel:99999999999999999999", "channel:t.me/c/123456789012345678901234", "channel:-100",
    "channel:0", "channel:١٢٣", "²", "١٢", "-1", "0", "9" * 25, "1e308", "NaN", "${HOME}", "%s",
]  # fmt: skip
PIECES = INVISIBLE + CONTROL + WORDS + EMOJI + SYNTAX
SEPARATORS = ["", " ", "  ", "\u00a0", "\u3000"]
LONG = 100_000


def _joined(pieces: list[str], separators: list[str]) -> str:
    return "".join(piece + separators[i % len(separators)] for i, piece in enumerate(pieces))


def _repeated(piece: str) -> str:
    return (piece * (LONG // max(len(piece), 1) + 1))[:LONG]


def assembled(max_pieces: int = 20) -> st.SearchStrategy[str]:
    """Words, syntax and invisible characters run together or apart."""
    return st.builds(
        _joined,
        st.lists(st.sampled_from(PIECES), max_size=max_pieces),
        st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4),
    )


def huge() -> st.SearchStrategy[str]:
    """100,000 characters of one piece: a word, an emoji, a mark or syntax."""
    return st.sampled_from([*PIECES, "Трамп ", "🔥", "a"]).map(_repeated)


def emoji_only() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(EMOJI + INVISIBLE[:4]), min_size=1, max_size=30).map("".join)


def characters(surrogates: bool) -> st.SearchStrategy[str]:
    """Any code point; lone surrogates only where the input can carry them (a command line
    decodes undecodable bytes to U+DC80..U+DCFF; a JSON file can escape them)."""
    excluded = () if surrogates else ("Cs",)
    return st.text(st.characters(exclude_categories=excluded), max_size=200)


def hostile_text(surrogates: bool = False, max_pieces: int = 20) -> st.SearchStrategy[str]:
    return st.one_of(
        assembled(max_pieces), characters(surrogates), emoji_only(), huge(), st.sampled_from(PIECES)
    )


def around(words: list[str]) -> st.SearchStrategy[str]:
    """A word that can match, with hostile text before and after it."""
    return st.tuples(assembled(5), st.sampled_from(words), assembled(5)).map(" ".join)


def dates() -> st.SearchStrategy[date]:
    """Any date, with the two ends of the calendar (where day arithmetic overflows) favoured."""
    return st.one_of(st.sampled_from([date.min, date.max, date(2024, 11, 3)]), st.dates())


def date_words() -> st.SearchStrategy[str]:
    """What people type for a date: ISO dates, near misses and junk."""
    return st.one_of(dates().map(date.isoformat), hostile_text(max_pieces=3))


_INTERNALS = re.compile(r'Traceback|File "|sqlite3|\b[A-Z]\w*(?:Error|Exception)\b')


def shows_internals(text: str) -> bool:
    """A traceback, or an exception's name: what the program should have said in words."""
    return _INTERNALS.search(text) is not None


def one_sentence(message: str, limit: int = 300) -> bool:
    """An error a person can read in one look: a single short line, no internals."""
    return (
        bool(message.strip())
        and "\n" not in message
        and len(message) <= limit
        and not shows_internals(message)
    )

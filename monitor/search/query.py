"""The query language, parsed by our own code into safe FTS5 syntax.

    Трамп санкции          both words, any form of each (Трампа, санкциями)
    "мирные переговоры"    the lemma sequence, in order ("мирных переговоров")
    Трамп OR Байден        either
    Трамп -Байден          the first without the second (also NOT Байден)
    channel:@rybar since:2024-11-01 until:2024-11-30

Every term reaches FTS5 as a double-quoted string of index terms, so no input can inject
FTS5 operators, column filters or NEAR groups; whatever cannot be searched becomes one
QueryError sentence.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from monitor.quoting import quoted
from monitor.text import TextPipeline
from monitor.text.stopwords import is_stopword

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 24
MAX_PHRASE_VARIANTS = 16

_QUOTES = str.maketrans({c: '"' for c in "«»“”„‟″"})
_PIECE = re.compile(r'(?P<neg>-)?"(?P<phrase>[^"]*)(?:"|$)|(?P<word>\S+)')
_FILTER = re.compile(r"(?P<key>channel|since|until):(?P<value>\S*)", re.IGNORECASE)


class QueryError(ValueError):
    """The query cannot be searched; the message says why in one sentence."""


@dataclass(frozen=True)
class Clause:
    """A word (one position) or a phrase (several, in order); each position lists the index
    terms it may match."""

    positions: tuple[tuple[str, ...], ...]

    def fts(self) -> str:
        variants = list(itertools.islice(itertools.product(*self.positions), MAX_PHRASE_VARIANTS))
        quoted = [_quote(" ".join(variant)) for variant in variants]
        return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(term for position in self.positions for term in position)


@dataclass(frozen=True)
class ParsedQuery:
    required: tuple[tuple[Clause, ...], ...]  # all groups must match; one clause of each group
    excluded: tuple[Clause, ...] = ()
    channels: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    dropped: tuple[str, ...] = field(default=(), compare=False)

    def fts(self) -> str:
        groups = [
            group[0].fts() if len(group) == 1 else "(" + " OR ".join(c.fts() for c in group) + ")"
            for group in self.required
        ]
        expression = " AND ".join(groups)
        if self.excluded:
            expression += " NOT (" + " OR ".join(c.fts() for c in self.excluded) + ")"
        return expression

    @property
    def highlight_terms(self) -> frozenset[str]:
        return frozenset().union(*(c.terms for group in self.required for c in group))


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _without_controls(text: str) -> str:
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def parse_date(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{key}: needs a date as YYYY-MM-DD, got {quoted(value)}") from None


def parse_query(text: str, pipeline: TextPipeline) -> ParsedQuery:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"The query is {len(text):,} characters long; keep it under {MAX_QUERY_CHARS:,}."
        )
    text = _without_controls(text).translate(_QUOTES)
    groups: list[list[Clause]] = []
    excluded: list[Clause] = []
    channels: list[str] = []
    dates: dict[str, date] = {}
    dropped: list[str] = []
    join_next = negate_next = False

    for match in _PIECE.finditer(text):
        word = match["word"]
        negated = bool(match["neg"]) or negate_next
        negate_next = False
        if word is not None:
            if word in ("OR", "|"):
                join_next = bool(groups)
                continue
            if word == "AND":
                continue
            if word == "NOT":
                negate_next = True
                continue
            if filter_match := _FILTER.fullmatch(word):
                key, value = filter_match["key"].lower(), filter_match["value"]
                if not value:
                    raise QueryError(f"{key}: needs a value, for example {key}:{_EXAMPLES[key]}")
                if key == "channel":
                    channels.append(value)
                else:
                    dates[key] = parse_date(key, value)
                continue
            if word.startswith("-") and len(word) > 1:
                negated, word = True, word[1:]
        source = match["phrase"] if match["phrase"] is not None else word
        positions = tuple(pipeline.query_terms(source))
        if not positions:
            continue  # emoji, punctuation: nothing the index holds
        clause = Clause(positions)
        if len(positions) == 1 and all(is_stopword(term) for term in positions[0]):
            dropped.append(source)
            join_next = False
            continue
        if negated:
            excluded.append(clause)
        elif join_next:
            groups[-1].append(clause)
        else:
            groups.append([clause])
        join_next = False

    if sum(len(g) for g in groups) + len(excluded) > MAX_CLAUSES:
        raise QueryError(f"The query has too many words; use at most {MAX_CLAUSES}.")
    if not groups:
        if dropped:
            raise QueryError(
                "The query has only very common words (" + ", ".join(dropped[:5]) + "); "
                'add a more specific word or quote a phrase such as "в том числе".'
            )
        if excluded:
            raise QueryError("Add a word to search for: -word only excludes posts.")
        raise QueryError("The query has no words to search for.")
    since, until = dates.get("since"), dates.get("until")
    if since and until and until < since:
        raise QueryError(f"until:{until} is before since:{since}.")
    return ParsedQuery(
        required=tuple(tuple(group) for group in groups),
        excluded=tuple(excluded),
        channels=tuple(channels),
        since=since,
        until=until,
        dropped=tuple(dropped),
    )


_EXAMPLES = {"channel": "@rybar", "since": "2024-11-01", "until": "2024-11-30"}

"""Text -> the lemma sequence the index, search, watchlists and analysis all share.

Tokens are found on the original text, so their offsets can highlight a snippet; each raw
token is cleaned, homoglyph-folded and lemmatised once and cached, because a corpus repeats a
small vocabulary (per-token work is then one dictionary look-up).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import chain

from monitor.text.lemmas import Lemmatizer
from monitor.text.normalise import APOSTROPHES, COMBINING, INVISIBLE, clean, fold_homoglyphs

_WORD_CHAR = f"[\\w{INVISIBLE}{COMBINING}]"
# Only the link prefixes ignore case: the flag on the whole pattern slows every word class.
_TOKEN = re.compile(
    rf"(?P<url>(?i:https?://|www\.|t\.me/)\S+)"
    rf"|(?P<tag>[#@]{_WORD_CHAR}+)"
    rf"|(?P<word>{_WORD_CHAR}+(?:[{APOSTROPHES}]{_WORD_CHAR}+)*)"
)
# The same tokens without groups, for the fast path: findall then returns plain strings.
_TOKEN_TEXT = re.compile(
    rf"(?i:https?://|www\.|t\.me/)\S+|[#@]{_WORD_CHAR}+|{_WORD_CHAR}+(?:[{APOSTROPHES}]{_WORD_CHAR}+)*"
)
_LINK = re.compile(r"(?:https?://|www\.|t\.me/)", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")
_STRIP_APOSTROPHES = str.maketrans(dict.fromkeys(APOSTROPHES))


_UKRAINIAN_ONLY = re.compile("[іїєґІЇЄҐ]")
_RUSSIAN_ONLY = re.compile("[ыэъЫЭЪ]")


def is_ukrainian(text: str) -> bool:
    """Ukrainian letters and none of Russian's own: the whole text is read as Ukrainian."""
    return _UKRAINIAN_ONLY.search(text) is not None and _RUSSIAN_ONLY.search(text) is None


class _TermCache(dict[str, tuple[str, ...]]):
    """Raw token -> index terms, computed on a miss and emptied when full. A plain dict
    whose look-ups `map` can run without a Python-level call on a hit."""

    def __init__(self, compute: Callable[[str], tuple[str, ...]], limit: int) -> None:
        super().__init__()
        self._compute = compute
        self._limit = limit

    def __missing__(self, raw: str) -> tuple[str, ...]:
        found = self._compute(raw)
        if len(self) >= self._limit:
            self.clear()
        self[raw] = found
        return found


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the original text: where it stands and the index terms it yields."""

    start: int
    end: int
    terms: tuple[str, ...]


class TextPipeline:
    def __init__(self, lemmatizer: Lemmatizer | None = None, cache_size: int = 300_000) -> None:
        self.lemmatizer = lemmatizer or Lemmatizer()
        self._terms = lru_cache(maxsize=cache_size)(self._terms_of)
        # The hot path keeps plain dicts (one per reading): cheaper per look-up than an LRU.
        self._fast = {
            ukrainian: _TermCache(partial(self._raw_terms, ukrainian=ukrainian), cache_size)
            for ukrainian in (False, True)
        }

    def _word(self, raw: str) -> str | None:
        word = fold_homoglyphs(clean(raw).translate(_STRIP_APOSTROPHES))
        if not _NOT_WORD.sub("", word):
            return None
        return word

    def _lemma(self, word: str, ukrainian: bool) -> str:
        return self.lemmatizer.ukrainian(word) if ukrainian else self.lemmatizer.lemma(word)

    def _terms_of(self, raw: str, ukrainian: bool = False) -> tuple[str, ...]:
        if raw[0] in "#@":
            body = self._word(raw[1:])
            if body is None:
                return ()
            if raw[0] == "@":
                return ("@" + body,)
            # A hashtag is indexed as itself and as its word, so #Бахмут is found by Бахмут.
            return ("#" + body, self._lemma(body, ukrainian))
        word = self._word(raw)
        return () if word is None else (self._lemma(word, ukrainian),)

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        for match in _TOKEN.finditer(text):
            if match.lastgroup != "url":
                yield match

    def lemmas(self, text: str, language: str | None = None) -> list[str]:
        """The index terms of `text` in order (links left out). `language` "uk" reads every
        Cyrillic word as Ukrainian; by default a text is Ukrainian when it has Ukrainian
        letters and no Russian-only ones."""
        ukrainian = is_ukrainian(text) if language is None else language == "uk"
        found = map(self._fast[ukrainian].__getitem__, _TOKEN_TEXT.findall(text))
        return list(chain.from_iterable(found))

    def _raw_terms(self, raw: str, ukrainian: bool) -> tuple[str, ...]:
        return () if _LINK.match(raw) else self._terms_of(raw, ukrainian)

    def index_text(self, text: str) -> str:
        return " ".join(self.lemmas(text))

    def tokens(self, text: str, language: str | None = None) -> list[Token]:
        """Tokens with their offsets in `text`, for highlighting and context windows;
        `language` as for `lemmas`."""
        found = []
        ukrainian = is_ukrainian(text) if language is None else language == "uk"
        for match in self._matches(text):
            terms = self._terms(match.group(), ukrainian)
            if terms:
                found.append(Token(match.start(), match.end(), terms))
        return found

    def query_terms(self, text: str) -> list[tuple[str, ...]]:
        """The words of a query, each with every lemma it may stand for (indexed one first)."""
        result: list[tuple[str, ...]] = []
        ukrainian = is_ukrainian(text)
        for match in self._matches(text):
            raw = match.group()
            if raw[0] in "#@":
                result.extend((term,) for term in self._terms(raw, ukrainian)[:1])
                continue
            word = self._word(raw)
            if word is not None:
                options = (
                    (self._lemma(word, True),) if ukrainian else self.lemmatizer.lemma_options(word)
                )
                result.append(options)
        return result

"""Word -> lemma for Russian (pymorphy3), Ukrainian (a light suffix stemmer) and English
(Snowball). Words arrive already cleaned and homoglyph-folded."""

from __future__ import annotations

from functools import lru_cache

import pymorphy3
import snowballstemmer

from monitor.text.normalise import is_cyrillic, is_latin

UKRAINIAN_LETTERS = frozenset("іїєґ")

# Longest first, so "ами" is tried before "и". Enough to join the common noun, adjective
# and verb forms of a Ukrainian word; pymorphy3's Ukrainian dictionary would do better and
# is left for later because the Russian one is what nearly all posts need.
_UKRAINIAN_ENDINGS = tuple(
    sorted(
        set(
            """
        ання ення іння ються ється ували ував ують ають ють ять уть ати ити іти ути ала ило ули ила ена ений ені ено
        ами ями ові еві ого ому ими іми ій ої ою ею єю ів їв их іх ім ах ях ам ям ом ем
        ий а я у ю і ї е є о и ь й
        """.split()
        ),
        key=len,
        reverse=True,
    )
)
_MIN_UKRAINIAN_STEM = 3
# pymorphy3's grammemes of names, surnames, patronymics, places and organisations.
NAMED = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn"})


def ukrainian_stem(word: str) -> str:
    for ending in _UKRAINIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_UKRAINIAN_STEM:
            return word[: -len(ending)]
    return word


class Lemmatizer:
    """Lemmas with a bounded cache: a corpus repeats a small vocabulary many times."""

    def __init__(self, cache_size: int = 300_000) -> None:
        self._morph = pymorphy3.MorphAnalyzer(lang="ru")
        self._english = snowballstemmer.stemmer("english")
        self.lemma = lru_cache(maxsize=cache_size)(self._lemma)

    def _lemma(self, word: str) -> str:
        if any(is_cyrillic(c) for c in word):
            if UKRAINIAN_LETTERS.intersection(word):
                return ukrainian_stem(word)
            return self._russian(word)
        if any(is_latin(c) for c in word):
            return str(self._english.stemWord(word))
        return word

    def ukrainian(self, word: str) -> str:
        """A word of a Ukrainian text: Cyrillic words are stemmed as Ukrainian."""
        if any(is_cyrillic(c) for c in word):
            return ukrainian_stem(word)
        return self.lemma(word)

    def _russian(self, word: str) -> str:
        return str(self._morph.parse(word)[0].normal_form).replace("ё", "е")

    def is_named(self, lemma: str) -> bool:
        """Whether a Russian lemma can be read as a person's name, a place or an
        organisation (Путин, Киев, НАТО), by a parse of which it is the dictionary form."""
        if not any(is_cyrillic(c) for c in lemma):
            return False
        return any(
            not NAMED.isdisjoint(parse.tag.grammemes)
            for parse in self._morph.parse(lemma)
            if str(parse.normal_form).replace("ё", "е") == lemma
        )

    def lemma_options(self, word: str) -> tuple[str, ...]:
        """Every lemma a Russian word form could have (стали: стать, сталь), the indexed one
        first; other words have just one. Queries use these so an ambiguous form still finds
        the posts whose own form was read the other way."""
        first = self.lemma(word)
        if not any(is_cyrillic(c) for c in word) or UKRAINIAN_LETTERS.intersection(word):
            return (first,)
        options = [first]
        for parse in self._morph.parse(word):
            # Guesses for words the dictionary lacks (Байден -> байти) would only add noise.
            lemma = str(parse.normal_form).replace("ё", "е")
            if parse.is_known and lemma not in options:
                options.append(lemma)
        return tuple(options)

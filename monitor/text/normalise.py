"""Character-level normalisation: invisible characters, stress marks, case, ё, homoglyphs."""

from __future__ import annotations

import unicodedata

# Characters that change nothing a reader sees but split or disguise words:
# soft hyphen, zero-width space/joiners, word joiner and invisible operators,
# directional marks and embeddings, byte-order mark.
INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
# Combining accents left after NFC are stress marks (Тра́мп); letters such as й and ё
# are precomposed by NFC and so untouched by removing these.
COMBINING = "".join(chr(code) for code in range(0x0300, 0x0370))
APOSTROPHES = "'’ʼ`"

_CLEAN = str.maketrans({**dict.fromkeys(INVISIBLE + COMBINING), "ё": "е", "Ё": "Е"})

_LATIN_TO_CYRILLIC = str.maketrans("abcehikmoptxy", "авсенікмортху")
_CYRILLIC_TO_LATIN = str.maketrans("авсенікмортху", "abcehikmoptxy")
_LATIN_LOOKALIKES = frozenset("abcehikmoptxy")
_CYRILLIC_LOOKALIKES = frozenset("авсенікмортху")


def clean(text: str) -> str:
    """NFC, invisible characters and stress marks removed, lower case, ё as е."""
    return unicodedata.normalize("NFC", text).translate(_CLEAN).lower()


def is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def is_latin(char: str) -> bool:
    return "a" <= char <= "z"


def fold_homoglyphs(token: str) -> str:
    """Fold look-alike letters of the other script inside a mixed-script lower-case word.

    A word with any Cyrillic letter that has no Latin twin is Cyrillic (`tрамп` -> `трамп`);
    one with a Latin letter that has no Cyrillic twin is Latin (`trumр` -> `trump`);
    a word made only of twins follows its majority, Cyrillic on a tie.
    """
    cyrillic = [c for c in token if is_cyrillic(c)]
    latin = [c for c in token if is_latin(c)]
    if not cyrillic or not latin:
        return token
    if any(c not in _CYRILLIC_LOOKALIKES for c in cyrillic):
        return token.translate(_LATIN_TO_CYRILLIC)
    if any(c not in _LATIN_LOOKALIKES for c in latin):
        return token.translate(_CYRILLIC_TO_LATIN)
    if len(latin) > len(cyrillic):
        return token.translate(_CYRILLIC_TO_LATIN)
    return token.translate(_LATIN_TO_CYRILLIC)

"""Emerging terms: lemmas and two-word phrases used in unusually many posts of the period
compared with the baseline, across all channels.

Each term is counted once per post (a post repeating a word ten times is one voice), and
ranked by Dunning's log-likelihood G2, which stays sensible for rare terms where a plain
ratio explodes. Stopwords, numbers, mentions and hashtag duplicates are left out (links are
never indexed).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.text.stopwords import is_stopword

MIN_POSTS = 5
MIN_LENGTH = 3


@dataclass(frozen=True)
class EmergingTerm:
    term: str
    posts: int  # posts of the period using it
    baseline_posts: int
    ratio: float  # its share of period posts over its share of baseline posts
    score: float  # log-likelihood G2


def _usable(lemma: str) -> bool:
    return (
        len(lemma) >= MIN_LENGTH
        and lemma[0] not in "#@"
        and not lemma.isdigit()
        and not is_stopword(lemma)
    )


class _UsableWords(dict[str, str | None]):
    """Each lemma, or None when it is noise; judged once (a dict lookup costs less than a
    cached call, and a digest looks up a million)."""

    def __missing__(self, lemma: str) -> str | None:
        if len(self) >= _MAX_JUDGED:
            self.clear()
        word = self[lemma] = lemma if _usable(lemma) else None
        return word


_MAX_JUDGED = 500_000
_usable_words = _UsableWords()


def post_terms(lemmas: Sequence[str]) -> set[str]:
    """The lemmas and two-word phrases one post contributes."""
    words = list(map(_usable_words.__getitem__, lemmas))
    terms: set[str | None] = set(words)
    terms.update(f"{a} {b}" for a, b in itertools.pairwise(words) if a and b and a != b)
    terms.discard(None)
    return terms  # type: ignore[return-value]  # None is gone


def document_frequencies(posts: Iterable[Sequence[str]]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for lemmas in posts:
        counts.update(post_terms(lemmas))
        total += 1
    return counts, total


def log_likelihood(a: int, b: int, n1: int, n2: int) -> float:
    """Dunning's G2 for a term in `a` of `n1` period posts and `b` of `n2` baseline posts."""
    expected_a = n1 * (a + b) / (n1 + n2)
    expected_b = n2 * (a + b) / (n1 + n2)
    total = 0.0
    if a:
        total += a * math.log(a / expected_a)
    if b:
        total += b * math.log(b / expected_b)
    return 2 * total


def emerging_terms(
    period: Counter[str],
    period_posts: int,
    baseline: Counter[str],
    baseline_posts: int,
    top: int = 10,
    min_posts: int = MIN_POSTS,
) -> list[EmergingTerm]:
    if not period_posts or not baseline_posts:
        return []
    found = []
    for term, a in period.items():
        if a < min_posts:
            continue
        b = baseline.get(term, 0)
        period_share, baseline_share = a / period_posts, (b + 0.5) / baseline_posts
        if period_share <= baseline_share:
            continue
        score = log_likelihood(a, b, period_posts, baseline_posts)
        found.append(
            EmergingTerm(term, a, b, round(period_share / baseline_share, 2), round(score, 2))
        )
    found.sort(key=lambda t: (-t.score, -t.term.count(" "), t.term))  # phrases first on a tie
    # A phrase and its own words say the same thing: keep the phrase when it ranks above them.
    shown: list[EmergingTerm] = []
    for candidate in found:
        if any(candidate.term in other.term.split() for other in shown if " " in other.term):
            continue
        shown.append(candidate)
        if len(shown) == top:
            break
    return shown

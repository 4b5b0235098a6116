"""Sentiment shifts: did the tone of a channel (or of what it says about a term) change in
the period against its trailing baseline?

Mann-Whitney's U compares the two sets of post scores without assuming a distribution
(sentiment scores pile up at 0 and at the extremes); its p-value comes from the normal
approximation with the tie correction, sound with the minimum of posts required on both
sides. A shift is flagged when it is significant and the means differ by a minimum amount,
so a large channel's tiny but "significant" drift stays quiet.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

MIN_POSTS = 10
ALPHA = 0.01
MIN_DIFFERENCE = 0.15


@dataclass(frozen=True)
class ShiftTest:
    n_before: int
    n_after: int
    before: float  # mean score in the baseline
    after: float  # mean score in the period
    difference: float  # after - before
    effect: (
        float  # rank-biserial correlation, -1..1: how often a period post outranks a baseline post
    )
    p_value: float
    flagged: bool


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) and the tie correction term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        size = j - i + 1
        ties += size**3 - size
        i = j + 1
    return ranks, ties


def mann_whitney(before: Sequence[float], after: Sequence[float]) -> tuple[float, float]:
    """(U of `after`, two-sided p-value) by the normal approximation with tie correction."""
    n1, n2 = len(before), len(after)
    ranks, ties = _ranks([*before, *after])
    u_after = sum(ranks[n1:]) - n2 * (n2 + 1) / 2
    mean_u = n1 * n2 / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return u_after, 1.0
    z = (abs(u_after - mean_u) - 0.5) / math.sqrt(variance)  # continuity correction
    return u_after, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def judge_shift(
    before: Sequence[float],
    after: Sequence[float],
    min_posts: int = MIN_POSTS,
    alpha: float = ALPHA,
    min_difference: float = MIN_DIFFERENCE,
) -> ShiftTest:
    n1, n2 = len(before), len(after)
    mean_before = sum(before) / n1 if n1 else 0.0
    mean_after = sum(after) / n2 if n2 else 0.0
    difference = mean_after - mean_before
    if n1 < min_posts or n2 < min_posts:
        return ShiftTest(n1, n2, mean_before, mean_after, difference, 0.0, 1.0, False)
    u_after, p_value = mann_whitney(before, after)
    effect = 2 * u_after / (n1 * n2) - 1
    flagged = p_value <= alpha and abs(difference) >= min_difference
    return ShiftTest(
        n1, n2, round(mean_before, 4), round(mean_after, 4), round(difference, 4),
        round(effect, 4), p_value, flagged,
    )  # fmt: skip


# ---- evidence: what an analyst reads to check a shift ------------------------------------------

EVIDENCE_POSTS = 3
MOVED_WORDS = 5


@dataclass(frozen=True)
class MovedWord:
    word: str
    value: float  # mean contribution of one hit to a post's score: its sign is its tone
    before: int  # posts of the baseline side where it counted
    after: int  # posts of the period side where it counted


def moved_words(
    before: Sequence[Sequence[tuple[str, float]]],
    after: Sequence[Sequence[tuple[str, float]]],
    direction: float,
    limit: int = MOVED_WORDS,
) -> list[MovedWord]:
    """From the lexicon hits (word, contribution) of each post on both sides, the words that
    moved the mean score most toward `direction` (the sign of the shift): a word's weight on
    a side is its summed contribution per post there, its move the change of that weight."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    hits: Counter[str] = Counter()
    posts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    for side, side_posts in enumerate((before, after)):
        for post in side_posts:
            for word, value in post:
                totals[word][side] += value
                hits[word] += 1
            posts[side].update({word for word, _ in post})
    moves = {
        word: after_sum / max(len(after), 1) - before_sum / max(len(before), 1)
        for word, (before_sum, after_sum) in totals.items()
    }
    ranked = sorted((w for w, move in moves.items() if move * direction > 0),
                    key=lambda w: (-abs(moves[w]), w))  # fmt: skip
    return [
        MovedWord(word, round(sum(totals[word]) / hits[word], 3), posts[0][word], posts[1][word])
        for word in ranked[:limit]
    ]


def telling(scores: Sequence[float], direction: float, limit: int = EVIDENCE_POSTS) -> list[int]:
    """Indices of up to `limit` scores furthest toward `direction` (its sign), none neutral or
    against it: the posts that show a side's tone best."""
    toward = [i for i, score in enumerate(scores) if score * direction > 0]
    return sorted(toward, key=lambda i: -scores[i] * direction)[:limit]

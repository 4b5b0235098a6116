"""The sentiment-shift test with planted shifts, and its false-alarm rate on stationary noise."""

from __future__ import annotations

import random

import pytest

from monitor.analysis.shifts import MovedWord, judge_shift, mann_whitney, moved_words, telling


def scores(mean: float, count: int, seed: int, spread: float = 0.35) -> list[float]:
    """Post scores as a lexicon gives them: many zeros, the rest around `mean`, clipped."""
    rng = random.Random(seed)
    return [
        0.0 if rng.random() < 0.4 else max(-1.0, min(1.0, rng.gauss(mean, spread)))
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        (scores(0.3, 60, 1), scores(-0.3, 40, 2), True),  # praise turned to scorn
        (scores(-0.2, 200, 3), scores(0.25, 30, 4), True),
        (scores(0.1, 80, 5), scores(0.1, 80, 6), False),  # nothing changed
        (scores(0.3, 60, 7), scores(-0.3, 8, 8), False),  # too few posts in the period
        (scores(0.0, 5000, 9), scores(0.05, 5000, 10), False),  # significant but tiny
    ],
)
def test_planted_shifts(before: list[float], after: list[float], flagged: bool) -> None:
    result = judge_shift(before, after)
    assert result.flagged is flagged
    assert (result.n_before, result.n_after) == (len(before), len(after))


def test_a_shift_carries_its_figures() -> None:
    result = judge_shift(scores(0.3, 60, 1), scores(-0.3, 40, 2))
    assert result.before > 0 > result.after
    assert result.difference == pytest.approx(result.after - result.before, abs=1e-3)
    assert -1 <= result.effect < -0.3  # period posts rank below baseline posts
    assert result.p_value < 1e-4


def test_mann_whitney_on_a_known_case() -> None:
    # All of `after` above all of `before`: U is n1 * n2, and the difference is significant.
    u, p = mann_whitney(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]
    )
    assert u == 64
    assert p < 0.001
    u, p = mann_whitney([0.0] * 10, [0.0] * 10)  # all tied: nothing to see
    assert p == 1.0


def test_false_alarm_rate_on_stationary_noise() -> None:
    """Stated level: under 1% of comparisons flagged when the tone did not change."""
    flagged = sum(
        judge_shift(scores(0.05, 120, seed), scores(0.05, 25, seed + 50_000)).flagged
        for seed in range(1000)
    )
    assert flagged / 1000 < 0.01


def test_the_words_that_moved_a_turn_for_the_worse() -> None:
    before = [[("мудрый", 0.7), ("успех", 0.5)], [("мудрый", 0.7)], [], [("плохой", -0.4)]]
    after = [[("лжец", -0.6), ("лжец", -0.6)], [("лжец", -0.6), ("успех", 0.5)], [("плохой", -0.4)]]
    words = moved_words(before, after, direction=-1.0)
    # лжец: 0 -> -0.6 a post; мудрый: +0.35 -> 0; плохой: -0.1 -> -0.13; успех rose: left out.
    assert words == [
        MovedWord("лжец", -0.6, 0, 2),
        MovedWord("мудрый", 0.7, 2, 0),
        MovedWord("плохой", -0.4, 1, 1),
    ]
    assert moved_words(before, after, direction=-1.0, limit=1) == words[:1]
    assert moved_words([[], []], [[]], direction=1.0) == []


@pytest.mark.parametrize(
    ("scores", "direction", "expected"),
    [
        ([0.2, -0.5, 0.9, 0.0, 0.4, 0.1], 1.0, [2, 4, 0]),
        ([0.2, -0.5, 0.9, 0.0, -0.7], -1.0, [4, 1]),  # fewer than three against: only those
        ([0.0, 0.0], 1.0, []),  # a neutral post shows no tone
    ],
)
def test_the_telling_posts_of_a_side(
    scores: list[float], direction: float, expected: list[int]
) -> None:
    assert telling(scores, direction) == expected

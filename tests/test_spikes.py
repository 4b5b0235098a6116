"""The spike detector, table by table, and its false-alarm rate on stationary noise."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from monitor.analysis.spikes import judge_day as judge
from monitor.analysis.spikes import poisson_tail

DAY = date(2024, 11, 6)


def history(daily: float, days: int = 28, seed: int = 1) -> dict[date, int]:
    """Poisson counts with mean `daily` for the `days` before DAY."""
    rng = random.Random(seed)

    def poisson(mean: float) -> int:
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k

    return {DAY - timedelta(days=i): poisson(daily) for i in range(1, days + 1)}


@pytest.mark.parametrize(
    ("baseline_per_day", "count", "flagged"),
    [
        (0.0, 1, False),  # one mention after none: below the minimum count
        (0.0, 4, False),
        (0.0, 6, True),
        (0.5, 38, True),  # the example
        (0.5, 3, False),
        (5.0, 9, False),  # above the mean, not improbable
        (5.0, 14, False),  # improbable but under three times the baseline
        (5.0, 25, True),
        (40.0, 70, False),  # a busy channel's noisy day
        (40.0, 130, True),
    ],
)
def test_judgement(baseline_per_day: float, count: int, flagged: bool) -> None:
    counts = {DAY - timedelta(days=i): 0 for i in range(1, 29)}
    total = round(baseline_per_day * 28)
    for i in range(total):  # spread evenly
        counts[DAY - timedelta(days=1 + i % 28)] += 1
    counts[DAY] = count
    result = judge(counts, DAY)
    assert result.flagged is flagged
    assert result.baseline == pytest.approx(baseline_per_day, abs=0.02)


def test_the_flag_carries_its_figures() -> None:
    counts = {**history(0.5), DAY: 38}
    result = judge(counts, DAY)
    assert result.flagged and result.count == 38
    assert result.ratio == pytest.approx(38 / max(result.baseline, 0.1), rel=0.01)
    assert result.p_value < 1e-20


@pytest.mark.parametrize(
    ("count", "mean", "expected"),
    [(0, 3.0, 1.0), (1, 2.0, 1 - math.exp(-2)), (3, 1.0, 1 - math.exp(-1) * 2.5)],
)
def test_poisson_tail(count: int, mean: float, expected: float) -> None:
    assert poisson_tail(count, mean) == pytest.approx(expected, rel=1e-9)


def test_false_alarm_rate_on_stationary_noise() -> None:
    """Stated level: under 0.1% of term-channel-days flagged when nothing happens."""
    flagged = tested = 0
    for seed in range(300):
        rate = [0.2, 1, 3, 10, 30][seed % 5]
        series = history(rate, days=60, seed=seed)
        series[DAY] = history(rate, days=1, seed=seed + 10_000)[DAY - timedelta(days=1)]
        for offset in range(0, 30):
            day = DAY - timedelta(days=offset)
            flagged += judge(series, day).flagged
            tested += 1
    assert flagged / tested < 0.001

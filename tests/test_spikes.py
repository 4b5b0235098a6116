"""The spike detector, table by table, and its false-alarm rate on stationary noise."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.analysis.spikes import covered_days, judge_sum, poisson_tail
from monitor.analysis.spikes import judge_day as judge

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


def at(days_before: float) -> datetime:
    """The moment `days_before` days before DAY begins (UTC)."""
    return datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) - timedelta(days=days_before)


@pytest.mark.parametrize(
    ("start", "covered"),
    [
        (None, 28.0),
        (at(40), 28.0),
        (at(28), 28.0),
        (at(27.75), 27.75),  # the first day counts from 06:00 on
        (at(10), 10.0),
        (at(0.5), 0.5),  # began at noon the day before
        (at(-0.5), 0.0),  # began on the day itself
        (at(-3), 0.0),
    ],
)
def test_the_baseline_covers_only_archived_days(start: datetime | None, covered: float) -> None:
    assert covered_days(start, DAY) == pytest.approx(covered)


@pytest.mark.parametrize(
    ("days_archived", "daily", "count", "flagged"),
    [
        (3, 1, 30, False),  # under 7 archived days: no baseline yet, whatever the day holds
        (6.9, 1, 30, False),
        (7, 1, 30, True),
        (10, 2, 6, False),  # its usual 2 a day over 10 days, not 10/28 of it
        (10, 2, 20, True),
    ],
)
def test_a_channel_is_judged_on_its_archived_days(
    days_archived: float, daily: int, count: int, flagged: bool
) -> None:
    start = at(days_archived)
    counts = {DAY - timedelta(days=i): daily for i in range(1, math.ceil(days_archived) + 1)}
    result = judge({**counts, DAY: count}, DAY, start)
    assert result.flagged is flagged
    if days_archived >= 7:
        assert result.baseline == pytest.approx(daily * math.ceil(days_archived) / days_archived)


def test_channels_joining_the_archive_never_make_a_spike_together() -> None:
    """Three channels 8 days old, 4 a day each as usual, and an old one at 0.5: summed over
    28 days the newcomers would look like 12 against 3.4 a day."""
    old = {**history(0.5), DAY: 0}
    newcomers = [({DAY - timedelta(days=i): 4 for i in range(0, 9)}, at(8)) for _ in range(3)]
    result = judge_sum([(old, None), *newcomers], DAY)
    assert result.count == 12 and not result.flagged
    assert result.baseline == pytest.approx(12 + sum(old.values()) / 28, abs=0.01)
    # A real rise still shows through, and a channel in its first days counts on neither side.
    rising = [({**counts, DAY: 15}, start) for counts, start in newcomers]
    brand_new = ({DAY: 50}, at(2))
    result = judge_sum([(old, None), *rising, brand_new], DAY)
    assert result.count == 45 and result.flagged

"""Keyword spikes: a day whose count of posts mentioning a term is improbably high against
the same channel's own trailing baseline.

The baseline is the mean daily count over the `window` days before the day. Under a Poisson
model with that mean, the tail probability P(X >= count) says how surprising the day is. A
day is flagged only when that probability is below `alpha` and the count also clears a
minimum and a minimum ratio to the baseline, so one mention after none stays quiet while 38
after about 0.5 a day fires.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW_DAYS = 28
MIN_COUNT = 5
MIN_RATIO = 3.0
ALPHA = 1e-3
# A floor under the baseline: a channel that never named the term still mentions it now
# and then, and a zero mean would make any single mention infinitely surprising.
BASELINE_FLOOR = 0.1


@dataclass(frozen=True)
class SpikeTest:
    day: date
    count: int
    baseline: float
    ratio: float
    p_value: float
    flagged: bool


def poisson_tail(count: int, mean: float) -> float:
    """P(X >= count) for X ~ Poisson(mean), summed in log space so large counts stay exact."""
    if count <= 0:
        return 1.0
    log_mean = math.log(mean)
    # P(X >= k) = 1 - P(X <= k-1); for a far tail sum the terms from k upward instead.
    if count > mean:
        total = 0.0
        term = math.exp(-mean + count * log_mean - math.lgamma(count + 1))
        k = count
        while term > 1e-300 and (total == 0 or term / total > 1e-16):
            total += term
            k += 1
            term *= mean / k
        return min(1.0, total)
    below = sum(math.exp(-mean + i * log_mean - math.lgamma(i + 1)) for i in range(count))
    return max(0.0, 1.0 - below)


def judge_day(
    counts: Mapping[date, int],
    day: date,
    window: int = WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
    alpha: float = ALPHA,
) -> SpikeTest:
    """Judge `day` against the `window` days before it (days absent from `counts` are 0)."""
    count = counts.get(day, 0)
    history = sum(counts.get(day - timedelta(days=offset), 0) for offset in range(1, window + 1))
    baseline = history / window
    mean = max(baseline, BASELINE_FLOOR)
    ratio = count / mean
    p_value = poisson_tail(count, mean)
    flagged = count >= min_count and ratio >= min_ratio and p_value <= alpha
    return SpikeTest(day, count, round(baseline, 3), round(ratio, 2), p_value, flagged)

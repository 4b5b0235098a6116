"""Keyword spikes: a day whose count of posts mentioning a term is improbably high against
the same channel's own trailing baseline.

The baseline is the mean daily count over the days of the `window` before the day that the
archive covers: from the channel's archive start on, its first day counted only from that
moment. Under a Poisson model with that mean, the tail probability P(X >= count) says how
surprising the day is. A day is flagged only when that probability is below `alpha` and the
count also clears a minimum and a minimum ratio to the baseline, so one mention after none
stays quiet while 38 after about 0.5 a day fires. A channel with under MIN_HISTORY_DAYS
covered days has no baseline yet and is not judged.

Several channels together (a term across all channels) are judged as the sum of their
counts against the sum of their own baselines, so a channel joining the archive adds to both
sides alike and never makes a spike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WINDOW_DAYS = 28
# Archived days a channel needs before its counts and its tone are judged at all.
MIN_HISTORY_DAYS = 7
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


def covered_days(start: datetime | None, day: date, window: int = WINDOW_DAYS) -> float:
    """How many of the `window` UTC days before `day` the archive covers when it begins at
    `start` (None: all of them); the day it begins counts only from that moment."""
    if start is None or start.date() < day - timedelta(days=window):
        return float(window)
    if start.date() >= day:
        return 0.0
    seconds = start.hour * 3600 + start.minute * 60 + start.second
    return (day - start.date()).days - seconds / 86400


# A channel's daily counts and its archive start (None: it covers the whole window).
Series = tuple[Mapping[date, int], datetime | None]


def judge_day(
    counts: Mapping[date, int],
    day: date,
    start: datetime | None = None,
    window: int = WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
    alpha: float = ALPHA,
) -> SpikeTest:
    """Judge `day` of one channel whose archive begins at `start` (days absent from
    `counts` are 0)."""
    return judge_sum([(counts, start)], day, window, min_count, min_ratio, alpha)


def judge_sum(
    series: Iterable[Series],
    day: date,
    window: int = WINDOW_DAYS,
    min_count: int = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
    alpha: float = ALPHA,
) -> SpikeTest:
    """Judge the total of `day` over channels against the sum of their baselines, each the
    channel's mean over the days its archive covers; a channel with too short a history is
    left out of both sides."""
    count = 0
    baseline = 0.0
    for counts, start in series:
        covered = covered_days(start, day, window)
        if covered < MIN_HISTORY_DAYS:
            continue
        history = sum(
            counts.get(day - timedelta(days=offset), 0) for offset in range(1, window + 1)
        )
        baseline += history / covered
        count += counts.get(day, 0)
    mean = max(baseline, BASELINE_FLOOR)
    ratio = count / mean
    p_value = poisson_tail(count, mean)
    flagged = count >= min_count and ratio >= min_ratio and p_value <= alpha
    return SpikeTest(day, count, round(baseline, 3), round(ratio, 2), p_value, flagged)

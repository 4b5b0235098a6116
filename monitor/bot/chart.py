"""The /trend chart: daily mentions of a term in its top channels, with the mean sentiment of
those posts on a second axis. Drawn with matplotlib's Agg backend into PNG bytes (no
display, no files)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP_CHANNELS = 5
# A term (or a channel in the legend) is shown cut past this: a chart's caption holds 1,024
# characters, /trend takes a thousand, and a title 128.
TERM_CHARS = 60


@dataclass(frozen=True)
class TrendDay:
    channel: str
    day: date
    posts: int
    sentiment: float | None  # mean score of those posts


@dataclass(frozen=True)
class Trend:
    term: str
    days: list[date]  # every day of the window, in order
    by_channel: dict[str, list[int]]  # top channels: posts per day, aligned with `days`
    others: list[int]  # the remaining channels together
    sentiment: list[float | None]  # mean over all channels per day

    @property
    def total(self) -> int:
        return sum(map(sum, self.by_channel.values())) + sum(self.others)


def build_trend(term: str, days: list[date], rows: list[TrendDay]) -> Trend:
    """Group the daily rows: the channels with most posts first, the rest as one line."""
    index = {day: i for i, day in enumerate(days)}
    counts: dict[str, list[int]] = {}
    weighted = [0.0] * len(days)
    scored = [0] * len(days)
    for row in rows:
        i = index.get(row.day)
        if i is None:
            continue
        counts.setdefault(row.channel, [0] * len(days))[i] += row.posts
        if row.sentiment is not None:
            weighted[i] += row.sentiment * row.posts
            scored[i] += row.posts
    ranked = sorted(counts, key=lambda channel: (-sum(counts[channel]), channel))
    others = [0] * len(days)
    for channel in ranked[TOP_CHANNELS:]:
        others = [a + b for a, b in zip(others, counts[channel], strict=True)]
    sentiment = [w / n if n else None for w, n in zip(weighted, scored, strict=True)]
    return Trend(term, days, {c: counts[c] for c in ranked[:TOP_CHANNELS]}, others, sentiment)


def shown_term(term: str) -> str:
    return term if len(term) <= TERM_CHARS else term[: TERM_CHARS - 1] + "…"


def summary(trend: Trend) -> str:
    """One line: how many posts, the busiest day, and where the tone went."""
    term = shown_term(trend.term)
    if not trend.total:
        return f"No posts mention {term} in these {len(trend.days)} days."
    daily = [
        sum(series[i] for series in trend.by_channel.values()) + trend.others[i]
        for i in range(len(trend.days))
    ]
    peak = max(range(len(daily)), key=daily.__getitem__)
    scores = [s for s in trend.sentiment if s is not None]
    half = len(scores) // 2
    tone = ""
    if half:
        before, after = sum(scores[:half]) / half, sum(scores[half:]) / (len(scores) - half)
        tone = f"; tone {before:+.2f} → {after:+.2f} (first half → second half)"
    return (
        f"{term}: {trend.total:,} posts in {len(trend.days)} days, "
        f"most on {trend.days[peak].isoformat()} ({daily[peak]:,}){tone}."
    )


def render_png(trend: Trend) -> bytes:
    # A Figure made without pyplot needs no display and no global state; savefig draws it
    # with Agg.
    buffer = io.BytesIO()
    draw_trend(trend).savefig(buffer, format="png")
    return buffer.getvalue()


def draw_trend(trend: Trend) -> Figure:
    # Imported here: matplotlib is a large share of every command's start-up, and only /trend
    # draws.
    from matplotlib import dates, rc_context
    from matplotlib.figure import Figure

    # Titles and terms come from outside: with math parsing on, "$...$" in a channel title
    # is read as TeX (a bad one raises, nested "x^{" recurses without end). Each text keeps
    # the setting it was made with.
    with rc_context({"text.parse_math": False, "text.usetex": False}):
        figure = Figure(figsize=(9, 4.5), dpi=110)
        posts_axis = figure.subplots()
        x = dates.date2num(trend.days)  # type: ignore[no-untyped-call]
        # The legend is given its lines and labels: left to itself it skips every label that
        # starts with "_", and a channel may be titled so.
        lines, labels = [], []
        for channel, series in trend.by_channel.items():
            lines += posts_axis.plot(x, series, marker="o", markersize=3)
            labels.append(shown_term(channel))
        if any(trend.others):
            lines += posts_axis.plot(x, trend.others, color="grey", linestyle=":")
            labels.append("others")
        posts_axis.xaxis_date()
        posts_axis.set_ylabel("posts a day")
        posts_axis.set_title(f"{shown_term(trend.term)}: mentions and tone")
        tone_axis = posts_axis.twinx()
        # Marked, as days without a mention leave gaps: a day between two such has no line.
        lines += tone_axis.plot(
            x,
            [s if s is not None else float("nan") for s in trend.sentiment],
            color="black", linewidth=2, alpha=0.5, marker="s", markersize=4,
        )  # fmt: skip
        labels.append("mean sentiment")
        tone_axis.set_ylim(-1, 1)
        tone_axis.set_ylabel("mean sentiment (-1 … 1)")
        posts_axis.legend(lines, labels, loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        figure.tight_layout()
    return figure

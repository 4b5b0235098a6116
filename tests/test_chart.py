"""The /trend chart: grouping into top channels, the summary line, a real PNG."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from matplotlib.text import Text

from monitor.bot.chart import (
    TOP_CHANNELS,
    TrendDay,
    build_trend,
    draw_trend,
    render_png,
    shown_term,
    summary,
)

DAYS = [date(2024, 11, 1) + timedelta(days=i) for i in range(10)]


def test_top_channels_and_the_rest() -> None:
    rows = [TrendDay(f"@c{n}", DAYS[0], n + 1, 0.5) for n in range(TOP_CHANNELS + 2)]
    rows.append(TrendDay("@c0", DAYS[3], 10, -0.5))
    rows.append(TrendDay("@c0", date(2020, 1, 1), 99, None))  # outside the window: ignored
    trend = build_trend("Трамп", DAYS, rows)
    assert next(iter(trend.by_channel)) == "@c0"  # 11 posts, the most
    assert len(trend.by_channel) == TOP_CHANNELS and "@c1" not in trend.by_channel
    assert trend.others[0] == 2 + 3  # the two smallest channels (@c1 and @c2)
    assert trend.total == sum(n + 1 for n in range(TOP_CHANNELS + 2)) + 10
    assert trend.sentiment[3] == -0.5 and trend.sentiment[1] is None
    assert trend.sentiment[0] == 0.5


def test_summary() -> None:
    quiet = build_trend("Бахмут", DAYS, [])
    assert summary(quiet) == "No posts mention Бахмут in these 10 days."
    rows = [TrendDay("@a", DAYS[i], 1 + (i == 7) * 20, 0.6 if i < 5 else -0.4) for i in range(10)]
    line = summary(build_trend("Трамп", DAYS, rows))
    assert "30 posts in 10 days" in line and "2024-11-08 (21)" in line and "+0.60 → -0.40" in line


def test_render_png_makes_a_png() -> None:
    rows = [TrendDay("@a", day, i, 0.1 * i - 0.4) for i, day in enumerate(DAYS)]
    png = render_png(build_trend("Трамп", DAYS, rows))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


HOSTILE_TITLES = [
    "$\\frac$",  # bad TeX: matplotlib's math parser raises
    "$" + "x^{" * 200 + "}" * 200 + "$",  # nested TeX: the parser recurses without end
    "$5 and $10",
    "_underscored",  # a label matplotlib's legend would skip
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_outside_text_is_drawn_as_plain_text(title: str) -> None:
    rows = [TrendDay(title, day, i + 1, 0.1) for i, day in enumerate(DAYS)]
    figure = draw_trend(build_trend(title, DAYS, rows))
    texts = figure.findobj(Text)
    shown = [text.get_text() for text in texts]
    assert shown_term(title) in shown  # the legend names the channel, "_" or not
    assert f"{shown_term(title)}: mentions and tone" in shown
    assert all(not text.get_parse_math() for text in texts)
    assert render_png(build_trend(title, DAYS, rows)).startswith(b"\x89PNG")

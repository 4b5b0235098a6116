"""Telegram HTML out of digests, search hits and channel lists: parts under the limit, tags
never cut, hostile text escaped, times in the reader's zone."""

from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.bot.render import (
    TELEGRAM_LIMIT,
    Block,
    ChannelLine,
    escape,
    render_alert,
    render_channels,
    render_digest,
    render_help,
    render_search_page,
    split_message,
    utf16_len,
)
from monitor.models import SearchHit, StoredPost

UTC_ZONE = ZoneInfo("UTC")
MOSCOW = ZoneInfo("Europe/Moscow")
HOSTILE_TITLE = 'Z<script>alert("x")</script>&amp;\u202eevil\u2066'
HOSTILE_TEXT = '<b>bold?</b> & "quoted" \u202bсемья 👨\u200d👩\u200d👧 <a href="x">'
HOSTILE_URL = 'https://t.me/x/1"><script>'
# Every tag the renderer writes; anything else in angle brackets would be a leak or a cut.
_OUR_TAGS = re.compile(r'</?(?:b|i|u|code)>|<a href="[^"<>]*">|</a>')


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.mismatched.append(tag)


def assert_well_formed(part: str) -> None:
    """Every tag opened is closed, in order, and no bracket is left over from a cut tag."""
    parser = _TagBalance()
    parser.feed(part)
    parser.close()
    assert parser.open == [] and parser.mismatched == [], part
    outside_tags = _OUR_TAGS.sub("", part)
    assert "<" not in outside_tags and ">" not in outside_tags, part


def _post(
    message_id: int, text: str, hour: int, channel: str = "@milblog_a", views: int | None = None
) -> dict[str, Any]:
    """A post as the digest quotes it, `hour` hours into 6 Nov (UTC)."""
    username = channel.removeprefix("@") if channel.startswith("@") else "c/3"
    return {
        "channel": channel,
        "channel_id": 1,
        "message_id": message_id,
        "date": (datetime(2024, 11, 6, tzinfo=UTC) + timedelta(hours=hour)).isoformat(),
        "url": f"https://t.me/{username}/{message_id}",
        "text": text,
        "views": views,
        "forwards": None,
        "reactions": None,
        "sentiment": -0.6,
    }


def make_digest() -> dict[str, Any]:
    """A digest as `build_digest` returns it: the planted month of tests/test_digest.py."""
    return {
        "period": {
            "since": "2024-11-06T00:00:00+00:00",
            "until": "2024-11-07T00:00:00+00:00",
            "baseline_days": 28,
        },
        "totals": {
            "posts": 14,
            "channels": 3,
            "deleted": 1,
            "edited": 1,
            "baseline_posts_per_day": 9.5,
        },
        "channels": [
            {
                "channel": "@milblog_a",
                "channel_id": 1,
                "posts": 12,
                "baseline": 3.5,
                "ranked_by": "views",
                "top_posts": [
                    {
                        "channel": "@milblog_a",
                        "channel_id": 1,
                        "message_id": 99,
                        "date": "2024-11-06T01:00:00+00:00",
                        "url": "https://t.me/milblog_a/99",
                        "text": "Трамп — лжец и предатель, позор. Выпуск 0.",
                        "views": 12_345,
                        "forwards": 40,
                        "reactions": 7,
                        "sentiment": -0.6,
                        "archive_forwards": 0,
                        "archive_replies": 0,
                    },
                ],
            },
        ],
        "spikes": [
            {
                "term": "Трамп",
                "channel": "@milblog_a",
                "day": "2024-11-06",
                "count": 12,
                "baseline": 0.5,
                "ratio": 24.0,
                "p_value": 1.2e-7,
                "first_post": _post(99, "Трамп — лжец и предатель, позор. Выпуск 0.", 1, views=100),
                "top_post": _post(106, "Трамп — лжец и предатель, позор. " * 8, 8, views=12_345),
            },
            {
                "term": "Трамп",
                "channel": None,
                "day": "2024-11-06",
                "count": 12,
                "baseline": 0.5,
                "ratio": 24.0,
                "p_value": 1.2e-7,
                "first_post": None,
                "top_post": None,
            },
        ],
        "sentiment_shifts": [
            {
                "channel": "@milblog_a",
                "term": "Трамп",
                "before": 0.42,
                "after": -0.61,
                "difference": -1.03,
                "effect": -0.95,
                "n_before": 14,
                "n_after": 12,
                "p_value": 3e-6,
                "posts_before": [
                    {**_post(4, "Трамп — мудрый и сильный лидер.", -22), "score": 0.62},
                ],
                "posts_after": [
                    {**_post(99, "Трамп — лжец и предатель, позор. Выпуск 0.", 1), "score": -0.53},
                    {**_post(100, HOSTILE_TEXT, 2, channel=HOSTILE_TITLE), "score": -0.4},
                ],
                "words": [
                    {"word": "мудрый", "value": 0.62, "before": 14, "after": 0},
                    {"word": "лжец", "value": -0.53, "before": 0, "after": 12},
                ],
            },
        ],
        "new_channels": [
            {
                "channel": "@newcomer",
                "channel_id": 7,
                "archived_since": "2024-11-03T01:00:00+00:00",
                "judged_from": "2024-11-10T01:00:00+00:00",
                "posts": 12,
                "top_posts": [_post(100, "Трамп", 2), _post(101, "Трамп", 3)],
            },
        ],
        "emerging_terms": [
            {"term": "лжец", "posts": 12, "baseline_posts": 0, "ratio": 50.3, "score": 40.1}
        ],
        "campaigns": [
            {
                "channels": ["@milblog_b", HOSTILE_TITLE],
                "networks": 2,
                "views": 12_345,
                "echo": None,
                "first": "2024-11-06T03:00:00+00:00",
                "last": "2024-11-06T04:00:00+00:00",
                "similarity": 0.93,
                "posts": [
                    {
                        "channel": "@milblog_b",
                        "date": "2024-11-06T03:00:00+00:00",
                        "url": "https://t.me/milblog_b/85",
                    },
                    {
                        "channel": HOSTILE_TITLE,
                        "date": "2024-11-06T04:00:00+00:00",
                        "url": "https://t.me/c/3/85",
                    },
                ],
                "text": "Срочно: Киев готовит провокацию на Запорожской АЭС. Распространите!",
            }
        ],
        "campaigns_more": 0,
        "network_reposts": [],
        "deletions": [
            {
                "channel": HOSTILE_TITLE,
                "channel_id": 3,
                "message_id": 84,
                "date": "2024-11-05T20:00:00+00:00",
                "url": HOSTILE_URL,
                "text": HOSTILE_TEXT,
                "views": None,
                "forwards": None,
                "reactions": None,
                "sentiment": None,
            },
        ],
        "edits": [
            {
                "channel": "@milblog_b",
                "url": "https://t.me/milblog_b/84",
                "date": "2024-11-05T19:00:00+00:00",
                "edit_date": "2024-11-06T05:00:00+00:00",
                "old_text": "Обзор карты боевых действий.",
                "new_text": "Исправлено: сводка уточнена.",
                "source": "live",
                "source_file": None,
            },
        ],
        "health": [
            {
                "channel": "@milblog_a",
                "channel_id": 1,
                "state": "ok",
                "last_post": "2024-11-06T12:00:00+00:00",
                "posts_per_day": 3.5,
                "last_error": None,
                "last_read_at": "2024-11-06T23:00:00+00:00",
            },
            {
                "channel": HOSTILE_TITLE,
                "channel_id": 3,
                "state": "inaccessible",
                "last_post": "2024-11-05T20:00:00+00:00",
                "posts_per_day": 3.0,
                "last_error": "ChannelPrivateError: <private>",
                "last_read_at": None,
            },
        ],
    }


def rendered(digest: dict[str, Any], zone: ZoneInfo = MOSCOW) -> str:
    parts = render_digest(digest, zone)
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        assert_well_formed(part)
    return "\n".join(parts)


# ---- escaping and counting --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>", "&lt;b&gt;"),
        ("a & b", "a &amp; b"),
        ('"quoted"', "&quot;quoted&quot;"),
        ("&amp;", "&amp;amp;"),
        ("it's", "it's"),
        ("Привет 🔥", "Привет 🔥"),
        ("", ""),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("abc", 3),
        ("Привет", 6),
        ("ёЁ", 2),
        ("🔥", 2),
        ("⚡️", 2),  # a BMP sign and a variation selector
        ("👨\u200d👩\u200d👧", 8),  # three emoji held together by two joiners
        ("e\u0301", 2),
        ("\ud83d", 1),  # a lone surrogate from a damaged export
    ],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


# ---- splitting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "parts"),
    [
        (["a" * 4096], 1),
        (["a" * 4097], 2),
        (["a" * 2048, "a" * 2047], 1),  # 2048 + line break + 2047 = 4096 exactly
        (["a" * 2048, "a" * 2048], 2),
        (["🔥" * 1024, "я" * 2047], 1),  # an emoji counts two, a Cyrillic letter one
        (["🔥" * 1024, "я" * 2048], 2),
        (["🔥" * 2048], 1),
        (["🔥" * 2048 + "a"], 2),
        ([], 0),
    ],
)
def test_split_at_the_limit(blocks: list[str], parts: int) -> None:
    split = split_message([Block(b) for b in blocks])
    assert len(split) == parts
    assert all(utf16_len(part) <= TELEGRAM_LIMIT for part in split)


def test_a_heading_goes_with_its_first_item() -> None:
    heading = Block("<b>Edited posts</b>", heading=True)
    parts = split_message([Block("x" * 4000), heading, Block("<i>" + "y" * 200 + "</i>")])
    # The heading alone would still fit in the first part; its item would not.
    assert parts == ["x" * 4000, "<b>Edited posts</b>\n<i>" + "y" * 200 + "</i>"]


def test_a_heading_too_big_to_join_its_item_still_goes_out() -> None:
    parts = split_message([Block("<b>H</b>", heading=True), Block("y" * 4096)])
    assert parts == ["<b>H</b>", "y" * 4096]


def test_an_oversized_block_becomes_plain_text_pieces() -> None:
    plain = "Трамп & <co> «цитата» 🔥 " * 400
    oversized = Block(f'<a href="https://t.me/x/1"><b>{escape(plain)}</b></a>')
    parts = split_message([Block("<b>before</b>"), oversized, Block("<i>after</i>")])
    joined = "\n".join(parts)
    assert joined.startswith("<b>before</b>\n") and joined.endswith("\n<i>after</i>")
    pieces = joined.removeprefix("<b>before</b>\n").removesuffix("\n<i>after</i>")
    assert html.unescape(pieces.replace("\n", "")) == plain  # the text has no line breaks
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        assert_well_formed(part)


def test_a_limit_too_small_for_one_escaped_character_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        split_message([Block("x")], limit=5)


_fragment_text = st.text(max_size=40)
_items = st.one_of(
    _fragment_text.map(lambda t: Block(f"<b>{escape(t)}</b> {escape(t)}")),
    st.tuples(_fragment_text, _fragment_text).map(
        lambda pair: Block(f'<a href="https://t.me/{escape(pair[0])}">{escape(pair[1])}</a>')
    ),
)
_headings = st.integers(0, 10**6).map(lambda n: Block(f"<i>H{n}</i>", heading=True))


@given(st.lists(st.one_of(_items, _headings), max_size=60), st.integers(6, 600))
def test_parts_are_under_the_limit_and_cut_only_between_blocks(
    blocks: list[Block], limit: int
) -> None:
    parts = split_message(blocks, limit)
    for part in parts:
        assert utf16_len(part) <= limit
        assert_well_formed(part)
    if all(utf16_len(block.html) <= limit for block in blocks):
        # Each part is a run of whole consecutive blocks, and together they are all of them.
        fragments = [block.html for block in blocks]
        start = 0
        for part in parts:
            end = start + 1
            while "\n".join(fragments[start:end]) != part:
                end += 1
                assert end <= len(fragments), part
            start = end
        assert start == len(fragments)


_sections = st.lists(
    st.tuples(
        _headings,
        st.lists(
            st.text(max_size=20).map(lambda t: Block(f"<b>{escape(t)}</b>")), min_size=1, max_size=8
        ),
    ),
    max_size=40,
)


@given(_sections, st.integers(300, 1000))
def test_no_part_but_the_last_ends_on_a_heading(
    sections: list[tuple[Block, list[Block]]], limit: int
) -> None:
    # Sections as a digest has them; a heading and its first item (at most about 140 units)
    # always fit in a part together.
    blocks = [block for heading, items in sections for block in (heading, *items)]
    for part in split_message(blocks, limit)[:-1]:
        assert not part.endswith("</i>"), part


# ---- the digest -------------------------------------------------------------------------------


def test_sections_come_in_order() -> None:
    text = rendered(make_digest())
    headings = [
        "Digest",
        "Keyword spikes",
        "Sentiment shifts",
        "New channels",
        "Emerging terms",
        "Copy-paste campaigns",
        "Top posts",
        "Deleted posts",
        "Edited posts",
        "Collection health",
    ]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)


def test_the_digest_reads_as_promised() -> None:
    text = rendered(make_digest(), UTC_ZONE)
    assert "14 posts in 3 channels (usual 9.5 a day) · 1 deleted · 1 edited" in text
    assert (
        "🔺 «Трамп» in @milblog_a on 6 Nov: 12 posts vs 0.5/day usual (×24, p=1e-7)\n"
        'first: <a href="https://t.me/milblog_a/99">@milblog_a 6 Nov 01:00</a> — '
        "Трамп — лжец и предатель, позор. Выпуск 0.\n"
        'widest reach: <a href="https://t.me/milblog_a/106">@milblog_a 6 Nov 08:00</a> 👁 12.3k — '
        "Трамп — лжец и предатель, позор. Трамп"
    ) in text
    assert "позор. Трамп — лжец и преда…\n" in text  # quoted in short
    assert (
        "🔺 «Трамп» in all channels on 6 Nov: 12 posts vs 0.5/day usual (×24, p=1e-7)\n\n" in text
    )
    assert (
        "↘ @milblog_a on «Трамп»: tone +0.42 → -0.61 (14 vs 12 posts, effect -0.95, p=3e-6)\n"
        "words: «мудрый» + 14 → 0 posts, «лжец» − 0 → 12 posts\n"
        'before +0.62: <a href="https://t.me/milblog_a/4">@milblog_a 5 Nov 02:00</a> — '
        "Трамп — мудрый и сильный лидер.\n"
        'after -0.53: <a href="https://t.me/milblog_a/99">@milblog_a 6 Nov 01:00</a> — '
    ) in text
    assert (
        "🆕 @newcomer: archived since 3 Nov 01:00, 12 posts; no spikes or shifts until "
        '10 Nov 01:00 · <a href="https://t.me/milblog_a/100">#1</a>'
    ) in text
    assert "🌱 «лжец»: 12 posts vs 0 in the 28-day baseline (×50.3)" in text
    assert (
        "2 posts in 2 channels (2 independent, 👁 12.3k), 6 Nov 03:00 – 6 Nov 04:00, "
        "similarity 0.93, credits no source: «Срочно:"
    ) in text
    assert "<b>@milblog_a</b>: 12 posts (usual 3.5)" in text
    assert '<a href="https://t.me/milblog_a/99">6 Nov 01:00</a> 👁 12.3k ↗ 40 ❤ 7 — Трамп' in text
    assert "<i>was:</i> Обзор карты боевых действий." in text
    assert "<i>now:</i> Исправлено: сводка уточнена." in text
    assert "edited 6 Nov 05:00" in text


def test_top_posts_without_view_counts_say_so() -> None:
    digest = make_digest()
    viewed = digest["channels"][0]
    bare = {
        **viewed,
        "channel": "@imported",
        "channel_id": 2,
        "ranked_by": "forwards and replies in the archive",
    }
    bare["top_posts"] = [{**viewed["top_posts"][0], "channel": "@imported", "url": "https://t.me/imported/5",
                          "views": None, "forwards": None, "reactions": None,
                          "archive_forwards": 2, "archive_replies": 1}]  # fmt: skip
    digest["channels"].append(bare)
    text = rendered(digest, UTC_ZONE)
    assert (
        "<b>🔝 Top posts</b>\nℹ️ No view counts in an imported archive: top posts of @imported are "
        "ranked by forwards (🔁) and replies (💬) within the archive, then by time.\n<b>@milblog_a"
    ) in text
    assert '<a href="https://t.me/imported/5">6 Nov 01:00</a> 🔁 2 💬 1 — Трамп' in text
    digest["channels"] = [bare]
    assert "No view counts in an imported archive: top posts are ranked" in rendered(digest)
    digest["channels"] = [viewed]
    assert "No view counts" not in rendered(digest)


def test_every_post_is_a_link() -> None:
    digest = make_digest()
    text = rendered(digest)
    urls = [
        *(p["url"] for c in digest["channels"] for p in c["top_posts"]),
        *(s[key]["url"] for s in digest["spikes"] for key in ("first_post", "top_post") if s[key]),
        *(
            p["url"]
            for s in digest["sentiment_shifts"]
            for p in s["posts_before"] + s["posts_after"]
        ),
        *(p["url"] for c in digest["new_channels"] for p in c["top_posts"]),
        *(p["url"] for c in digest["campaigns"] for p in c["posts"]),
        *(p["url"] for p in digest["deletions"]),
        *(e["url"] for e in digest["edits"]),
    ]
    for url in urls:
        assert f'<a href="{escape(url)}">' in text


def test_hostile_titles_and_texts_are_escaped() -> None:
    text = rendered(make_digest())
    assert "<script>" not in text and 'href="x"' not in text
    assert "Z&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;evil" in text
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; &quot;quoted&quot; семья 👨\u200d👩\u200d👧" in text
    assert '<a href="https://t.me/x/1&quot;&gt;&lt;script&gt;">' in text
    assert "ChannelPrivateError: &lt;private&gt;" in text
    # Direction overrides would reverse the rest of our line; the joiners of emoji stay.
    assert not {"\u202e", "\u2066", "\u202b"} & set(text)


@pytest.mark.parametrize(
    ("zone", "period", "top_post", "day"),
    [
        ("UTC", "6 Nov 2024 00:00 – 7 Nov 2024 00:00</b> (UTC)", "6 Nov 01:00", "6 Nov:"),
        (
            "Europe/Moscow",
            "6 Nov 2024 03:00 – 7 Nov 2024 03:00</b> (Europe/Moscow)",
            "6 Nov 04:00",
            "6 Nov (UTC day):",
        ),
        (
            "America/New_York",
            "5 Nov 2024 19:00 – 6 Nov 2024 19:00</b> (America/New_York)",
            "5 Nov 20:00",
            "6 Nov (UTC day):",
        ),
        (
            "Europe/London",
            "6 Nov 2024 00:00 – 7 Nov 2024 00:00</b> (Europe/London)",
            "6 Nov 01:00",
            "6 Nov:",
        ),  # on GMT in November: the UTC day is the local day
    ],
)
def test_times_are_shown_in_the_readers_zone(
    zone: str, period: str, top_post: str, day: str
) -> None:
    text = rendered(make_digest(), ZoneInfo(zone))
    assert period in text
    assert f'<a href="https://t.me/milblog_a/99">{top_post}</a>' in text
    assert f"in @milblog_a on {day}" in text


@pytest.mark.parametrize(
    ("key", "heading"),
    [
        ("spikes", "Keyword spikes"),
        ("sentiment_shifts", "Sentiment shifts"),
        ("new_channels", "New channels"),
        ("emerging_terms", "Emerging terms"),
        ("campaigns", "Copy-paste campaigns"),
        ("channels", "Top posts"),
        ("deletions", "Deleted posts"),
        ("edits", "Edited posts"),
        ("health", "Collection health"),
    ],
)
def test_an_empty_section_is_left_out(key: str, heading: str) -> None:
    digest = make_digest()
    digest[key] = []
    text = rendered(digest)
    assert heading not in text
    assert text.startswith("<b>📋 Digest") and text.count("\n\n<b>") == 8


def test_an_empty_digest_is_its_headline() -> None:
    digest = make_digest()
    for key in (
        "channels",
        "spikes",
        "sentiment_shifts",
        "new_channels",
        "emerging_terms",
        "campaigns",
        "deletions",
        "edits",
        "health",
    ):
        digest[key] = []
    digest["totals"] = {
        "posts": 0,
        "channels": 0,
        "deleted": 0,
        "edited": 0,
        "baseline_posts_per_day": 0.0,
    }
    [part] = render_digest(digest, UTC_ZONE)
    assert part == (
        "<b>📋 Digest 6 Nov 2024 00:00 – 7 Nov 2024 00:00</b> (UTC)\n"
        "0 posts in 0 channels (usual 0 a day) · 0 deleted · 0 edited"
    )


def test_healthy_channels_are_summed_up_in_one_line() -> None:
    digest = make_digest()
    for channel in digest["health"]:
        channel["state"] = "ok"
    text = rendered(digest)
    assert "✅ All 2 channels are collecting normally." in text and "inaccessible" not in text


def test_only_troubled_channels_are_listed() -> None:
    text = rendered(make_digest(), UTC_ZONE)
    health = text[text.index("Collection health") :]
    assert "@milblog_a" not in health
    assert (
        "⛔ Z&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;evil: inaccessible "
        "(usually 3/day; last post 5 Nov 20:00; error: ChannelPrivateError: &lt;private&gt;)"
    ) in health


def test_an_imported_channel_that_ended_says_so() -> None:
    digest = make_digest()
    digest["health"][0] |= {"state": "imported, not followed", "posts_per_day": 24.5}
    text = rendered(digest, UTC_ZONE)
    assert "📦 @milblog_a: imported, not followed (usually 24.5/day; last post 6 Nov 12:00)" in text


def test_campaigns_show_echoes_the_rest_and_each_network_s_own_reposts() -> None:
    digest = make_digest()
    digest["campaigns"][0] |= {"echo": "Дмитрий <Песков>", "views": None}
    digest["campaigns_more"] = 14
    digest["network_reposts"] = [
        {"network": "Топор", "channels": ["@topor", "@topor_live", HOSTILE_TITLE], "posts": 41}
    ]
    text = rendered(digest, UTC_ZONE)
    assert "(2 independent), 6 Nov 03:00 – 6 Nov 04:00, similarity 0.93, " in text
    assert "echo of Дмитрий &lt;Песков&gt;: «Срочно:" in text
    assert "… and 14 more\n🔁 network Топор (3 channels: @topor, @topor_live, " in text
    assert text.endswith("): 41 shared posts") or "): 41 shared posts\n" in text


def test_a_long_campaign_links_its_first_posts_and_counts_the_rest() -> None:
    digest = make_digest()
    [campaign] = digest["campaigns"]
    campaign["posts"] = [
        {"channel": f"@ch{n}", "date": "2024-11-06T03:00:00+00:00", "url": f"https://t.me/ch{n}/1"}
        for n in range(250)
    ]
    text = rendered(digest)
    assert "250 posts in 2 channels" in text and "+240 more" in text
    assert "https://t.me/ch9/1" in text and "https://t.me/ch10/1" not in text


def test_ten_thousand_items_split_into_many_parts_under_the_limit() -> None:
    digest = make_digest()
    post = digest["deletions"][0]
    text = ("Трамп 🔥 " + HOSTILE_TEXT) * 8
    digest["deletions"] = [
        {**post, "url": f"https://t.me/milblog_c/{n}", "text": text} for n in range(10_000)
    ]
    parts = render_digest(digest, MOSCOW)
    assert len(parts) > 100
    for part in parts:
        assert utf16_len(part) <= TELEGRAM_LIMIT
        assert_well_formed(part)
    linked = re.findall(r'href="https://t\.me/milblog_c/(\d+)"', "\n".join(parts))
    assert sorted(map(int, linked)) == list(range(10_000))  # each once, none lost
    deleted_heading = next(i for i, part in enumerate(parts) if "Deleted posts" in part)
    assert not parts[deleted_heading].endswith("Deleted posts</b>")


# ---- alerts -----------------------------------------------------------------------------------


def test_alerts_reuse_the_digest_lines() -> None:
    digest = make_digest()
    spike = {"kind": "spike", "key": "spike|Трамп|@milblog_a", **digest["spikes"][0]}
    shift = {"kind": "shift", "key": "shift|Трамп|@milblog_a", **digest["sentiment_shifts"][0]}
    assert render_alert(spike, MOSCOW).startswith(
        "🚨 <b>Alert</b>\n🔺 «Трамп» in @milblog_a on 6 Nov (UTC day): 12 posts"
    )
    assert render_alert(shift, MOSCOW).startswith("🚨 <b>Alert</b>\n↘ @milblog_a on «Трамп»")
    hostile = copy.deepcopy(spike) | {"term": HOSTILE_TITLE}
    assert_well_formed(render_alert(hostile, MOSCOW))
    with pytest.raises(ValueError, match="kind 'emerging'"):
        render_alert({"kind": "emerging"}, MOSCOW)


# ---- search pages -----------------------------------------------------------------------------


def make_hit(message_id: int, title: str, username: str | None, **changes: Any) -> SearchHit:
    post = StoredPost(
        id=message_id,
        channel_id=3,
        channel_username=username,
        channel_title=title,
        message_id=message_id,
        date=datetime(2024, 11, 6, 1, 0, tzinfo=UTC),
        text="",
        edit_date=None,
        deleted_at=None,
    )
    snippet = (("…встреча с ", False), ("Трампом", True), (' <назначена> & "скоро"…', False))
    return SearchHit(StoredPost(**{**post.__dict__, **changes}), snippet)


def test_a_search_page() -> None:
    hits = [
        make_hit(7, "ignored", "milblog_a"),
        make_hit(8, HOSTILE_TITLE, None, deleted_at=datetime(2024, 11, 7, tzinfo=UTC)),
    ]
    page = render_search_page(hits, 1, 5, True, MOSCOW)
    assert_well_formed(page)
    assert page.startswith("<b>🔎 Results 6–7</b>, more on the next page\n")
    assert (
        '6. @milblog_a · <a href="https://t.me/milblog_a/7">6 Nov 2024 04:00</a>\n'
        "…встреча с <b>Трампом</b> &lt;назначена&gt; &amp; &quot;скоро&quot;…"
    ) in page
    assert (
        "7. Z&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;evil · "
        '<a href="https://t.me/c/3/8">6 Nov 2024 04:00</a> <i>(deleted)</i>'
    ) in page
    assert "\u202e" not in page


@pytest.mark.parametrize(("page", "expected"), [(0, "Nothing found."), (3, "No more results.")])
def test_an_empty_search_page(page: int, expected: str) -> None:
    assert render_search_page([], page, 5, False, UTC_ZONE) == expected


# ---- channels and help ------------------------------------------------------------------------


def test_channels() -> None:
    rows = [
        ChannelLine("@rybar", 12.5, "ok", datetime(2024, 11, 6, 21, 30, tzinfo=UTC)),
        ChannelLine(HOSTILE_TITLE, None, "silent", None),
        ChannelLine("@new_one", 0.0, "gone", datetime(2024, 1, 2, 3, 4)),  # naive: read as UTC
    ]
    [part] = render_channels(rows, MOSCOW)
    assert_well_formed(part)
    assert part.splitlines() == [
        "<b>📡 Followed channels: 3</b>",
        "✅ @rybar: 12.5/day, last post 7 Nov 00:30",
        "💤 Z&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;evil: rate unknown, "
        "last post none yet · <b>silent</b>",
        "❌ @new_one: 0/day, last post 2 Jan 06:04 · <b>gone</b>",
    ]


def test_channels_only_archived_are_listed_apart() -> None:
    ended = datetime(2024, 10, 1, 9, tzinfo=UTC)
    rows = [
        ChannelLine("@export", 24.5, "imported, not followed", ended, followed=False),
        ChannelLine("@rybar", 12.5, "ok", ended),
        ChannelLine("@dropped", 3.0, "not followed", None, followed=False),
    ]
    [part] = render_channels(rows, UTC_ZONE)
    assert part.splitlines() == [
        "<b>📡 Followed channels: 1</b>",
        "✅ @rybar: 12.5/day, last post 1 Oct 09:00",
        "<b>📦 Archived, not followed: 2</b>",
        "📦 @export: 24.5/day, last post 1 Oct 09:00 · <b>imported, not followed</b>",
        "⏸ @dropped: 3/day, last post none yet · <b>not followed</b>",
    ]
    [part] = render_channels(rows[:1], UTC_ZONE)
    assert part.splitlines() == [
        "No channels are followed yet; an administrator can add one with /add.",
        "<b>📦 Archived, not followed: 1</b>",
        "📦 @export: 24.5/day, last post 1 Oct 09:00 · <b>imported, not followed</b>",
    ]


def test_many_channels_split_with_the_heading_first() -> None:
    rows = [ChannelLine(f"@channel_{n}_{'я' * 40}", 1.5, "ok", None) for n in range(1_000)]
    parts = render_channels(rows, UTC_ZONE)
    assert len(parts) > 1 and parts[0].startswith("<b>📡 Followed channels: 1,000</b>")
    assert all(utf16_len(part) <= TELEGRAM_LIMIT for part in parts)
    assert sum(part.count("\n") + 1 for part in parts) == 1_001


def test_no_channels() -> None:
    assert render_channels([], UTC_ZONE) == [
        "No channels are followed yet; an administrator can add one with /add."
    ]


@dataclass(frozen=True)
class _Help:
    usage: str
    example: str
    summary: str


def test_help_escapes_and_skips_examples_equal_to_the_usage() -> None:
    text = render_help(
        [
            _Help("/help", "/help", "this list"),
            _Help("/search QUERY", "/search <Трамп>", 'words & "phrases"'),
        ]
    )
    assert_well_formed(text)
    assert text.splitlines() == [
        "<b>What I can do</b>",
        "/help — this list",
        "/search QUERY — words &amp; &quot;phrases&quot; <i>e.g.</i> <code>/search &lt;Трамп&gt;</code>",
    ]

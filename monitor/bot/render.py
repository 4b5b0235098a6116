"""Telegram HTML for the bot: digests, search pages, the channel list, alerts and help.

Pure: data in, message text out, no Telethon. Everything from outside (channel titles, post
texts, error messages) is hostile and is escaped; the only tags in the output are our own.
Times are stored in UTC and shown in the reader's zone.

A message that may be long is built as a list of `Block`s, each a complete HTML fragment
(a section heading or one item), and `split_message` packs them into parts under Telegram's
limit, cutting only between blocks so no tag is ever cut.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from monitor.digest import UNVIEWED
from monitor.models import SearchHit

if TYPE_CHECKING:
    from monitor.store import Subscription
from monitor.search.snippet import render_segments

# Telegram counts the parsed text; counting the HTML source instead is stricter, so safe.
TELEGRAM_LIMIT = 4096  # UTF-16 code units per message
CAMPAIGN_LINKS = 10  # posts linked per campaign; the rest are only counted
EVIDENCE_TEXT = 120  # characters of a post quoted as evidence under a spike or a shift
# Explicit direction embeddings, overrides and isolates: in a channel title they would
# reverse the rest of our line. Marks (LRM, RLM) only nudge neutral characters and stay, as do
# zero-width joiners, which hold emoji sequences together.
_DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")
_LONGEST_ESCAPE = len("&quot;")  # a smaller limit could not hold one escaped character
_STATE_ICONS = {
    "ok": "✅", "silent": "💤", "renamed": "✏️", "inaccessible": "⛔", "gone": "❌",
    "imported, not followed": "📦", "not followed": "⏸",
}  # fmt: skip


def escape(text: str) -> str:
    """Text safe inside Telegram HTML, in element content and in quoted attributes."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits (emoji beyond the BMP are 2)."""
    # surrogatepass: a lone surrogate from a damaged export counts 1 instead of raising.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---- splitting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A complete HTML fragment, never cut: a section heading or one item. A heading is kept
    in the same part as the block after it whenever the two fit together."""

    html: str
    heading: bool = False


def split_message(blocks: Sequence[Block], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The blocks joined by line breaks into parts of at most `limit` UTF-16 units, cut only
    between blocks. A block longer than the limit on its own is sent as plain text in pieces."""
    if limit < _LONGEST_ESCAPE:
        raise ValueError(f"a part must hold at least {_LONGEST_ESCAPE} UTF-16 units")
    parts: list[str] = []
    current: list[str] = []
    size = 0  # utf16_len of "\n".join(current)
    for unit in _units(_fitting(blocks, limit)):
        joined = "\n".join(unit)
        for piece in [joined] if utf16_len(joined) <= limit else unit:
            width = utf16_len(piece)
            if current and size + 1 + width > limit:
                parts.append("\n".join(current))
                current, size = [], 0
            size += width + (1 if current else 0)
            current.append(piece)
    if current:
        parts.append("\n".join(current))
    return parts


def _fitting(blocks: Iterable[Block], limit: int) -> Iterator[Block]:
    """The blocks, with any longer than the limit replaced by pieces of its plain text."""
    for block in blocks:
        if utf16_len(block.html) <= limit:
            yield block
        else:
            yield from (Block(piece, block.heading) for piece in _plain_pieces(block.html, limit))


def _plain_pieces(fragment: str, limit: int) -> list[str]:
    """The fragment's text without tags, escaped again and cut into pieces under the limit:
    cutting the text rather than the HTML is what keeps a tag or an entity whole."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in html.unescape(_TAG.sub("", fragment)):
        escaped = escape(char)
        width = utf16_len(escaped)
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += width
    if current:
        pieces.append("".join(current))
    return pieces


def _units(blocks: Iterable[Block]) -> Iterator[list[str]]:
    """Runs of headings together with the item that follows them: what should share a part."""
    pending: list[str] = []
    for block in blocks:
        pending.append(block.html)
        if not block.heading:
            yield pending
            pending = []
    if pending:
        yield pending


# ---- pieces of text -------------------------------------------------------------------------


def _outside(text: str | None) -> str:
    """Hostile text on one line, without direction overrides, escaped."""
    return escape(" ".join(_DIRECTION_CONTROLS.sub("", text or "").split()))


def _link(url: str, text_html: str) -> str:
    return f'<a href="{escape(url)}">{text_html}</a>'


def _local_time(moment: datetime | str, zone: ZoneInfo, *, year: bool = False) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    # Stored times are UTC; a naive one would otherwise be read as the server's local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M}" if year else f"{local.day} {local:%b %H:%M}"


def _utc_day(day_text: str, zone: ZoneInfo) -> str:
    """A day the detectors counted (a UTC day), flagged as such for readers elsewhere."""
    day = date.fromisoformat(day_text)
    noon = datetime.combine(day, time(12), tzinfo=UTC)
    shown = f"{day.day} {day:%b}"
    return shown if noon.astimezone(zone).utcoffset() == timedelta(0) else f"{shown} (UTC day)"


def _figure(value: float) -> str:
    """A rate or ratio as a reader wants it: 24, 3.6, 0.5, 0.033."""
    return f"{value:.1f}".removesuffix(".0") if value >= 1 else f"{value:.2g}"


def _p_value(p: float) -> str:
    if p == 0:
        return "p≈0"
    if p < 0.001:
        mantissa, exponent = f"{p:.0e}".split("e")
        return f"p={mantissa}e{int(exponent)}"
    return f"p={p:.2g}"


def _count(number: int) -> str:
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if number >= 1_000:
        return f"{number / 1_000:.1f}k"
    return str(number)


def _post_text(text: str | None) -> str:
    return _outside(text) or "<i>(no text)</i>"


_REACH_FIGURES = (("👁", "views"), ("↗", "forwards"), ("❤", "reactions"))


def _reach(post: Mapping[str, Any], figures: tuple[tuple[str, str], ...] = _REACH_FIGURES) -> str:
    """The post's figures that are known (views, forwards and reactions unless told), each
    followed by a space."""
    return "".join(f"{icon} {_count(post[key])} " for icon, key in figures if post[key])


def _evidence_post(post: Mapping[str, Any], zone: ZoneInfo, figures: str = "") -> str:
    """A post quoted as evidence: channel and time as its link, then the start of its text."""
    flat = " ".join((post["text"] or "").split())
    if len(flat) > EVIDENCE_TEXT:
        flat = flat[: EVIDENCE_TEXT - 1].rstrip() + "…"
    where = f"{_outside(post['channel'])} {_local_time(post['date'], zone)}"
    return f"{_link(post['url'], where)} {figures}— {_post_text(flat)}"


# ---- the digest ------------------------------------------------------------------------------


def render_digest(digest: Mapping[str, Any], zone: ZoneInfo) -> list[str]:
    """The digest from `monitor.digest.build_digest` as message parts: the headline, then
    spikes, sentiment shifts, new channels, emerging terms, campaigns, top posts, deletions, edits and
    collection health, each section left out when it has nothing to say."""
    baseline_days = digest["period"]["baseline_days"]
    sections = (
        ("🔺 Keyword spikes", [_spike_line(s, zone) for s in digest["spikes"]]),
        ("🌡 Sentiment shifts", [_shift_item(s, zone) for s in digest["sentiment_shifts"]]),
        ("🆕 New channels", [_new_channel_line(c, zone) for c in digest["new_channels"]]),
        ("🌱 Emerging terms", [_emerging_line(t, baseline_days) for t in digest["emerging_terms"]]),
        (
            "📣 Copy-paste campaigns",
            [_campaign_item(c, zone) for c in digest["campaigns"]] + _campaign_tail(digest),
        ),
        ("🔝 Top posts", _top_posts_items(digest["channels"], zone)),
        ("🗑 Deleted posts", [_deletion_line(p, zone) for p in digest["deletions"]]),
        ("✏️ Edited posts", [_edit_item(e, zone) for e in digest["edits"]]),
        ("🩺 Collection health", _health_lines(digest["health"], zone)),
    )
    blocks = [Block(_headline(digest, zone))]
    for title, items in sections:
        if items:
            # The leading line break leaves a blank line between sections (Telegram trims it
            # when the heading opens a part).
            blocks.append(Block(f"\n<b>{title}</b>", heading=True))
            blocks.extend(Block(item) for item in items)
    return split_message(blocks)


def _headline(digest: Mapping[str, Any], zone: ZoneInfo) -> str:
    period, totals = digest["period"], digest["totals"]
    since = _local_time(period["since"], zone, year=True)
    until = _local_time(period["until"], zone, year=True)
    return (
        f"<b>📋 Digest {since} – {until}</b> ({escape(str(zone))})\n"
        f"{totals['posts']:,} posts in {totals['channels']:,} channels "
        f"(usual {_figure(totals['baseline_posts_per_day'])} a day) · "
        f"{totals['deleted']:,} deleted · {totals['edited']:,} edited"
    )


def _spike_line(spike: Mapping[str, Any], zone: ZoneInfo) -> str:
    where = _outside(spike["channel"]) if spike["channel"] is not None else "all channels"
    lines = [
        f"🔺 «{_outside(spike['term'])}» in {where} on {_utc_day(spike['day'], zone)}: "
        f"{spike['count']:,} posts vs {_figure(spike['baseline'])}/day usual "
        f"(×{_figure(spike['ratio'])}, {_p_value(spike['p_value'])})"
    ]
    first, top = spike["first_post"], spike["top_post"]
    if first is not None:
        lines.append(f"first: {_evidence_post(first, zone)}")
    if top is not None and (first is None or top["url"] != first["url"]):
        lines.append(f"widest reach: {_evidence_post(top, zone, _reach(top))}")
    return "\n".join(lines)


def _shift_item(shift: Mapping[str, Any], zone: ZoneInfo) -> str:
    """The turn, the words that moved it and the posts that show each side's tone."""
    where = _outside(shift["channel"]) if shift["channel"] is not None else "all channels"
    about = f" on «{_outside(shift['term'])}»" if shift["term"] is not None else " overall"
    arrow = "↗" if shift["difference"] > 0 else "↘"
    lines = [
        f"{arrow} {where}{about}: tone {shift['before']:+.2f} → {shift['after']:+.2f} "
        f"({shift['n_before']:,} vs {shift['n_after']:,} posts, effect {shift['effect']:+.2f}, "
        f"{_p_value(shift['p_value'])})"
    ]
    if shift["words"]:
        lines.append(
            "words: "
            + ", ".join(
                f"«{_outside(w['word'])}» {'+' if w['value'] > 0 else '−'} "
                f"{w['before']:,} → {w['after']:,} posts"
                for w in shift["words"]
            )
        )
    for side, posts in (("before", shift["posts_before"]), ("after", shift["posts_after"])):
        lines += [f"{side} {p['score']:+.2f}: {_evidence_post(p, zone)}" for p in posts]
    return "\n".join(lines)


def _new_channel_line(channel: Mapping[str, Any], zone: ZoneInfo) -> str:
    links = ", ".join(_link(p["url"], f"#{n}") for n, p in enumerate(channel["top_posts"], 1))
    return (
        f"🆕 {_outside(channel['channel'])}: archived since "
        f"{_local_time(channel['archived_since'], zone)}, {channel['posts']:,} posts; "
        f"no spikes or shifts until {_local_time(channel['judged_from'], zone)}"
        + (f" · {links}" if links else "")
    )


def _emerging_line(term: Mapping[str, Any], baseline_days: int) -> str:
    return (
        f"🌱 «{_outside(term['term'])}»: {term['posts']:,} posts vs "
        f"{term['baseline_posts']:,} in the {baseline_days}-day baseline (×{_figure(term['ratio'])})"
    )


def _campaign_item(campaign: Mapping[str, Any], zone: ZoneInfo) -> str:
    posts = campaign["posts"]
    links = [
        _link(p["url"], f"{_outside(p['channel'])} {_local_time(p['date'], zone)}")
        for p in posts[:CAMPAIGN_LINKS]
    ]
    if len(posts) > CAMPAIGN_LINKS:
        links.append(f"+{len(posts) - CAMPAIGN_LINKS:,} more")
    views = f", 👁 {_count(campaign['views'])}" if campaign["views"] else ""
    source = f"echo of {_outside(campaign['echo'])}" if campaign["echo"] else "credits no source"
    return (
        f"📣 {len(posts):,} posts in {len(campaign['channels']):,} channels "
        f"({campaign['networks']:,} independent{views}), "
        f"{_local_time(campaign['first'], zone)} – {_local_time(campaign['last'], zone)}, "
        f"similarity {campaign['similarity']:.2f}, {source}: «{_post_text(campaign['text'])}»\n"
        + " · ".join(links)
    )


def _campaign_tail(digest: Mapping[str, Any]) -> list[str]:
    """How many campaigns were left out, and one line per network for its own reposts."""
    more = [f"… and {digest['campaigns_more']:,} more"] if digest["campaigns_more"] else []
    return more + [
        f"🔁 network {_outside(n['network'])} ({len(n['channels']):,} channels: "
        f"{', '.join(_outside(c) for c in n['channels'])}): {n['posts']:,} shared posts"
        for n in digest["network_reposts"]
    ]


# A top post also shows how often the archive's own channels forwarded it and replied to it.
_POST_FIGURES = (*_REACH_FIGURES, ("🔁", "archive_forwards"), ("💬", "archive_replies"))


def _top_posts_items(channels: Sequence[Mapping[str, Any]], zone: ZoneInfo) -> list[str]:
    """The channels' top posts, after one line naming those ranked without view counts."""
    items = [_channel_item(c, zone) for c in channels]
    unviewed = [c["channel"] for c in channels if c["ranked_by"] == UNVIEWED]
    if unviewed:
        whose = (
            "" if len(unviewed) == len(channels) else f" of {', '.join(map(_outside, unviewed))}"
        )
        items.insert(
            0,
            f"ℹ️ No view counts in an imported archive: top posts{whose} are ranked by "
            "forwards (🔁) and replies (💬) within the archive, then by time.",
        )
    return items


def _channel_item(channel: Mapping[str, Any], zone: ZoneInfo) -> str:
    lines = [
        f"<b>{_outside(channel['channel'])}</b>: {channel['posts']:,} posts "
        f"(usual {_figure(channel['baseline'])})"
    ]
    for post in channel["top_posts"]:
        lines.append(
            f"• {_link(post['url'], _local_time(post['date'], zone))} "
            f"{_reach(post, _POST_FIGURES)}— {_post_text(post['text'])}"
        )
    return "\n".join(lines)


def _deletion_line(post: Mapping[str, Any], zone: ZoneInfo) -> str:
    where = f"{_outside(post['channel'])}, {_local_time(post['date'], zone)}"
    return f"🗑 {_link(post['url'], where)}: {_post_text(post['text'])}"


def _edit_item(edit: Mapping[str, Any], zone: ZoneInfo) -> str:
    where = f"{_outside(edit['channel'])}, {_local_time(edit['date'], zone)}"
    when = f", edited {_local_time(edit['edit_date'], zone)}" if edit["edit_date"] else ""
    # An import's version may be forged: it is never shown as what Telegram showed.
    now = (
        "now, per an imported export (not read from Telegram)"
        if edit["source"] == "import"
        else "now"
    )
    return (
        f"✏️ {_link(edit['url'], where)}{when}\n"
        f"<i>was:</i> {_post_text(edit['old_text'])}\n"
        f"<i>{now}:</i> {_post_text(edit['new_text'])}"
    )


def _health_lines(health: Sequence[Mapping[str, Any]], zone: ZoneInfo) -> list[str]:
    """Only the channels in trouble, or one line saying there are none."""
    troubled = [h for h in health if h["state"] != "ok"]
    if health and not troubled:
        return [f"✅ All {len(health):,} channels are collecting normally."]
    lines = []
    for channel in troubled:
        facts = [f"usually {_figure(channel['posts_per_day'])}/day"]
        if channel["last_post"]:
            facts.append(f"last post {_local_time(channel['last_post'], zone)}")
        if channel["last_error"]:
            facts.append(f"error: {_outside(channel['last_error'])}")
        lines.append(
            f"{_STATE_ICONS.get(channel['state'], '⚠️')} {_outside(channel['channel'])}: "
            f"{_outside(channel['state'])} ({'; '.join(facts)})"
        )
    return lines


# ---- alerts, search, channels, help ----------------------------------------------------------


def render_alert(finding: Mapping[str, Any], zone: ZoneInfo) -> str:
    """One finding of `monitor.digest.alert_findings` (a spike or a shift) as a message."""
    if finding["kind"] == "spike":
        return f"🚨 <b>Alert</b>\n{_spike_line(finding, zone)}"
    if finding["kind"] == "shift":
        return f"🚨 <b>Alert</b>\n{_shift_item(finding, zone)}"
    raise ValueError(f"no alert text for findings of kind {finding['kind']!r}")


def render_search_page(
    hits: Sequence[SearchHit], page: int, per_page: int, has_more: bool, zone: ZoneInfo
) -> str:
    """One page of search hits (page 0 first): channel, local time as the link to the post,
    and the snippet with the matched words in bold. A page of a few hits with snippets of
    about 200 characters stays far under Telegram's limit."""
    if not hits:
        return "Nothing found." if page == 0 else "No more results."
    first = page * per_page + 1
    heading = f"<b>🔎 Results {first}–{first + len(hits) - 1}</b>"
    lines = [heading + (", more on the next page" if has_more else "")]
    for number, hit in enumerate(hits, first):
        post = hit.post
        snippet = render_segments(
            list(hit.snippet),
            mark=lambda piece: f"<b>{_snippet_piece(piece)}</b>",
            plain=_snippet_piece,
        )
        deleted = " <i>(deleted)</i>" if post.deleted_at else ""
        lines.append(
            f"\n{number}. {_outside(post.channel_label)} · "
            f"{_link(post.url, _local_time(post.date, zone, year=True))}{deleted}\n"
            f"{snippet or '<i>(no text)</i>'}"
        )
    return "\n".join(lines)


def _snippet_piece(piece: str) -> str:
    # Not `_outside`: flattening would drop the spaces at the edges of a highlighted word.
    return escape(_DIRECTION_CONTROLS.sub("", piece))


@dataclass(frozen=True)
class ChannelLine:
    """One archived channel as /channels shows it."""

    label: str
    posts_per_day: float | None  # over the health window; None when not known
    state: str  # as monitor.health judges it
    last_post: datetime | None
    followed: bool = True


def render_channels(rows: Sequence[ChannelLine], zone: ZoneInfo) -> list[str]:
    """The followed channels, then those only archived (imported, or no longer followed)."""
    followed = [row for row in rows if row.followed]
    archived = [row for row in rows if not row.followed]
    blocks = []
    if not followed:
        blocks.append(
            Block("No channels are followed yet; an administrator can add one with /add.")
        )
    for title, group in (
        (f"📡 Followed channels: {len(followed):,}", followed),
        (f"📦 Archived, not followed: {len(archived):,}", archived),
    ):
        if group:
            blocks.append(Block(f"<b>{title}</b>", heading=True))
            blocks.extend(Block(_channel_line(row, zone)) for row in group)
    return split_message(blocks)


def _channel_line(row: ChannelLine, zone: ZoneInfo) -> str:
    rate = "rate unknown" if row.posts_per_day is None else f"{_figure(row.posts_per_day)}/day"
    last = _local_time(row.last_post, zone) if row.last_post else "none yet"
    state = "" if row.state == "ok" else f" · <b>{_outside(row.state)}</b>"
    icon = _STATE_ICONS.get(row.state, "⚠️")
    return f"{icon} {_outside(row.label)}: {rate}, last post {last}{state}"


def render_subscriptions(chats: Sequence[Subscription], zone: ZoneInfo) -> list[str]:
    """/subscriptions: each chat with what it gets, who subscribed it and when, its last
    delivery and error; stopped ones with the reason."""
    if not chats:
        return ["No chat is subscribed; a chat starts with /subscribe or /alerts on."]
    blocks = [Block(f"<b>📬 Subscribed chats: {len(chats):,}</b>", heading=True)]
    for chat in chats:
        gets = (
            [f"digest {chat.digest_time:%H:%M} {escape(chat.timezone)}"] if chat.digest_time else []
        )
        gets += ["alerts"] if chat.alerts else []
        lines = [
            f"{'✅' if chat.active else '⛔'} <code>{chat.chat_id}</code>: {', '.join(gets)}",
            f"subscribed by <code>{chat.subscribed_by}</code> on "
            f"{_local_time(chat.subscribed_at, zone, year=True)}",
            "last delivery "
            + (_local_time(chat.last_delivery_at, zone) if chat.last_delivery_at else "none yet"),
        ]
        if chat.last_error and chat.last_error_at:
            lines.append(
                f"last error {_outside(chat.last_error)} at {_local_time(chat.last_error_at, zone)}"
                + (f" ({chat.failures} in a row)" if chat.failures else "")
            )
        if chat.active and chat.retry_at:
            lines.append(f"next try {_local_time(chat.retry_at, zone)}")
        if not chat.active:
            lines.append(f"<b>stopped</b>: {_outside(chat.inactive_reason)}")
        blocks.append(Block(" · ".join(lines)))
    return split_message(blocks)


class CommandHelp(Protocol):
    """What /help needs of a command (the bot service's CommandInfo has it)."""

    @property
    def usage(self) -> str: ...

    @property
    def example(self) -> str: ...

    @property
    def summary(self) -> str: ...


def render_help(commands: Sequence[CommandHelp]) -> str:
    lines = ["<b>What I can do</b>"]
    for command in commands:
        example = f" <i>e.g.</i> <code>{escape(command.example)}</code>"
        lines.append(
            f"{escape(command.usage)} — {escape(command.summary)}"
            + (example if command.example != command.usage else "")
        )
    return "\n".join(lines)

"""`python -m bench.digest_quality [--data PATH] [--json] [--markdown]`: how much of the
digest is noise on a real archive.

The channel CSVs (bench.channels_dev) become Telegram Desktop exports, imported through the
real importer into a temporary archive; WATCHED is added through monitor.watch; then the real
digest (monitor.digest.build_digest, as `bot.py digest --date` builds it) is built for every
UTC day of the data's span and for its last week and last month, and its items are counted
and judged:

- spikes and shifts that come from a channel's first 7 archived days (NEW_DAYS), where its
  28-day baseline is mostly days before it was archived;
- campaigns within one network (a pair of channels that share near-duplicates far more often
  than chance, measured over the whole archive), campaigns whose every post is attributed to
  a news agency or a spokesman (AGENCY), and campaigns of exactly two channels;
- emerging terms carried by boilerplate (lines that end more than BOILERPLATE_SHARE of one
  channel's posts: sign-offs) or holding a link or markup fragment or a channel's username.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.channels_dev import find_data, write_exports
from monitor.analysis.campaigns import CampaignPost, find_campaigns
from monitor.analysis.emerging import post_terms
from monitor.analysis.spikes import judge_day
from monitor.config import Settings
from monitor.digest import build_digest
from monitor.importers.service import import_exports
from monitor.search.service import day_end, day_start
from monitor.sentiment.service import load_scorer
from monitor.store import PeriodPost, Store
from monitor.text import TextPipeline
from monitor.watch import add_term

# What analysts of Russian news channels typically watch: leaders, sides, institutions and
# the recurring economic words, each with the spelling the channels also use.
WATCHED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Трамп", ("Trump",)),
    ("Путин", ()),
    ("Зеленский", ()),
    ("Украина", ()),
    ("ЕС", ("Евросоюз",)),
    ("НАТО", ()),
    ("санкции", ()),
    ("переговоры", ()),
    ("Белый дом", ()),
    ("Киев", ()),
    ("Китай", ()),
    ("Израиль", ()),
    ("нефть", ()),
    ("ключевая ставка", ()),
)
NEW_DAYS = 7
BOILERPLATE_SHARE = 0.2
# A pair is one network when it shares campaigns this many times more often than its
# channels' own campaign counts predict, and at least NETWORK_MIN_SHARED times.
NETWORK_LIFT = 3.0
NETWORK_MIN_SHARED = 3
# Attributions that every outlet carries: agencies and the Kremlin's spokesman.
AGENCY = re.compile(
    r"РИА Новост|\bТАСС\b|Интерфакс|Reuters|Рейтер|Bloomberg|Блумберг|\bПесков",
    re.IGNORECASE,
)
FRAGMENT_MARKS = ("_", "http", "www", "t.me", ".ru", ".com")
TARGET_ITEMS = 10


@dataclass(frozen=True)
class Archive:
    """What the judgements need from the whole archive, read once."""

    first_day: dict[int, date]  # each channel's first archived day
    ids: dict[str, int]  # channel label as the digest prints it -> id
    usernames: frozenset[str]
    clean_terms: dict[tuple[int, int], frozenset[str]]  # terms of the text minus boilerplate
    full_terms: dict[tuple[int, int], frozenset[str]]
    dates: dict[tuple[int, int], datetime]
    attributed: frozenset[tuple[int, int]]  # posts naming an agency outside boilerplate
    network: frozenset[frozenset[int]]  # channel pairs that are one network
    pair_figures: list[dict[str, Any]]
    boilerplate: dict[str, list[str]]  # username -> its boilerplate lines
    mentions: dict[str, dict[tuple[int, date], int]]  # watched term -> (channel, day) -> posts


@dataclass
class Row:
    period: str
    since: str
    until: str
    posts: int = 0
    spikes: int = 0
    spikes_new: int = 0
    shifts: int = 0
    shifts_new: int = 0
    campaigns: int = 0
    campaigns_network: int = 0
    campaigns_agency: int = 0
    campaigns_pair: int = 0
    emerging: int = 0
    emerging_boilerplate: int = 0
    emerging_fragment: int = 0
    seconds: float = 0.0
    noisy_terms: list[str] = field(default_factory=list)
    campaign_channels: list[str] = field(default_factory=list)

    def targets(self) -> dict[str, bool]:
        return {
            "campaigns <= 10": self.campaigns <= TARGET_ITEMS,
            "emerging <= 10": self.emerging <= TARGET_ITEMS,
            "no network campaign": self.campaigns_network == 0,
            "no agency campaign": self.campaigns_agency == 0,
            "no boilerplate or fragment term": self.emerging_boilerplate + self.emerging_fragment
            == 0,
            "no spike or shift from a new channel": self.spikes_new + self.shifts_new == 0,
        }


def boilerplate_lines(texts: Iterable[str]) -> list[str]:
    """Lines that end more than BOILERPLATE_SHARE of the texts (sign-offs, channel links)."""
    endings: Counter[str] = Counter()
    total = 0
    for text in texts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            endings[lines[-1]] += 1
            total += 1
    return sorted(line for line, n in endings.items() if total and n / total > BOILERPLATE_SHARE)


def network_pairs(
    campaign_channels: list[frozenset[int]],
) -> tuple[frozenset[frozenset[int]], list[dict[str, Any]]]:
    """Pairs whose shared campaigns exceed NETWORK_LIFT times what independence predicts
    (campaigns of A x campaigns of B / all campaigns), with every pair's figures."""
    total = len(campaign_channels)
    alone: Counter[int] = Counter(c for channels in campaign_channels for c in channels)
    shared: Counter[frozenset[int]] = Counter(
        frozenset(pair)
        for channels in campaign_channels
        for pair in itertools.combinations(sorted(channels), 2)
    )
    figures: list[dict[str, Any]] = []
    network = set()
    for pair, observed in shared.items():
        a, b = sorted(pair)
        expected = alone[a] * alone[b] / total
        lift = observed / expected
        figures.append({"pair": [a, b], "shared": observed, "expected": expected, "lift": lift})
        if lift >= NETWORK_LIFT and observed >= NETWORK_MIN_SHARED:
            network.add(pair)
    figures.sort(key=lambda f: -f["lift"])
    return frozenset(network), figures


def is_fragment(term: str, usernames: frozenset[str]) -> bool:
    for word in term.split():
        if any(mark in word for mark in FRAGMENT_MARKS) or not any(c.isalnum() for c in word):
            return True
        if any(name in word for name in usernames):
            return True
    return False


def _in_first_days(archive: Archive, channel_id: int, day: date) -> bool:
    first = archive.first_day.get(channel_id)
    return first is not None and first <= day < first + timedelta(days=NEW_DAYS)


def spike_is_new(archive: Archive, spike: dict[str, Any]) -> bool:
    """A channel's spike on one of its first days; an all-channel spike that is no spike once
    the counts of channels in their first days are left out."""
    day = date.fromisoformat(spike["day"])
    if spike["channel"] is not None:
        return _in_first_days(archive, archive.ids[spike["channel"]], day)
    daily: dict[date, int] = defaultdict(int)
    for (channel_id, counted_day), count in archive.mentions[spike["term"]].items():
        if not _in_first_days(archive, channel_id, counted_day):
            daily[counted_day] += count
    return not judge_day(daily, day).flagged


def shift_is_new(archive: Archive, shift: dict[str, Any], since: date, until: date) -> bool:
    """A channel's shift in a period overlapping its first days; a term's all-channel shift
    when a channel in its first days mentioned the term in the period."""
    days = [since + timedelta(days=n) for n in range((until - since).days)]
    if shift["channel"] is not None:
        channel_id = archive.ids[shift["channel"]]
        return any(_in_first_days(archive, channel_id, day) for day in days)
    counts = archive.mentions[shift["term"]]
    return any(
        _in_first_days(archive, channel_id, day)
        for (channel_id, day) in counts
        if since <= day < until
    )


def judge(archive: Archive, digest: dict[str, Any], row: Row, since: date, until: date) -> None:
    row.posts = digest["totals"]["posts"]
    row.spikes = len(digest["spikes"])
    row.spikes_new = sum(spike_is_new(archive, s) for s in digest["spikes"])
    row.shifts = len(digest["sentiment_shifts"])
    row.shifts_new = sum(shift_is_new(archive, s, since, until) for s in digest["sentiment_shifts"])
    row.campaigns = len(digest["campaigns"])
    for campaign in digest["campaigns"]:
        channels = sorted(archive.ids[label] for label in campaign["channels"])
        pairs = [frozenset(p) for p in itertools.combinations(channels, 2)]
        row.campaigns_network += bool(pairs) and all(p in archive.network for p in pairs)
        row.campaigns_pair += len(channels) == 2
        row.campaign_channels.append(" + ".join(campaign["channels"]))
        keys = [_post_key(archive, post) for post in campaign["posts"]]
        row.campaigns_agency += all(key in archive.attributed for key in keys)
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(until, datetime.min.time(), tzinfo=UTC)
    period = [key for key, moment in archive.dates.items() if start <= moment < end]
    row.emerging = len(digest["emerging_terms"])
    for item in digest["emerging_terms"]:
        term = item["term"]
        full = sum(term in archive.full_terms[key] for key in period)
        clean = sum(term in archive.clean_terms[key] for key in period)
        # Carried by boilerplate: most of the posts that count it name it only in a sign-off.
        if full and clean <= full / 2:
            row.emerging_boilerplate += 1
            row.noisy_terms.append(f"{term} (boilerplate)")
        elif is_fragment(term, archive.usernames):
            row.emerging_fragment += 1
            row.noisy_terms.append(f"{term} (fragment)")


def _post_key(archive: Archive, post: dict[str, Any]) -> tuple[int, int]:
    return archive.ids[post["channel"]], int(post["url"].rsplit("/", 1)[1])


async def read_archive(store: Store, pipeline: TextPipeline) -> Archive:
    channels = await store.channels()
    ids = {c.label: c.id for c in channels}
    names = {c.id: c.username or c.title for c in channels}
    posts: list[PeriodPost] = [
        p async for p in store.period_posts(datetime.min.replace(tzinfo=UTC), datetime.now(UTC))
    ]
    first_day: dict[int, date] = {}
    by_channel: dict[int, list[PeriodPost]] = defaultdict(list)
    for post in posts:
        first_day.setdefault(post.channel_id, post.date.date())
        by_channel[post.channel_id].append(post)
    boilerplate = {
        channel_id: boilerplate_lines(p.text for p in items if p.text.strip())
        for channel_id, items in by_channel.items()
    }
    clean_terms, full_terms, dates = {}, {}, {}
    attributed = set()
    for post in posts:
        key = (post.channel_id, post.message_id)
        dropped = set(boilerplate[post.channel_id])
        clean = "\n".join(line for line in post.text.splitlines() if line.strip() not in dropped)
        full_terms[key] = frozenset(post_terms(pipeline.lemmas(post.text)))
        clean_terms[key] = frozenset(post_terms(pipeline.lemmas(clean)))
        dates[key] = post.date
        if AGENCY.search(clean):
            attributed.add(key)
    rows = [(p.channel_id, p.message_id, p.date, p.lemmas.split(), p.forwarded) for p in posts]
    campaigns = find_campaigns([CampaignPost(*row) for row in rows])
    network, figures = network_pairs([c.channels for c in campaigns])
    for figure in figures:
        figure["pair"] = [names[c] for c in figure["pair"]]
    mentions: dict[str, dict[tuple[int, date], int]] = {}
    for term in await store.watch_terms():
        counts = await store.watch_counts(term.id)
        mentions[term.term] = {(c, date.fromisoformat(d)): n for (c, d), n in counts.items()}
    return Archive(
        first_day=first_day,
        ids=ids,
        # Shorter names (none here) would match inside ordinary words.
        usernames=frozenset(
            c.username.lower() for c in channels if c.username and len(c.username) >= 4
        ),
        clean_terms=clean_terms,
        full_terms=full_terms,
        dates=dates,
        attributed=frozenset(attributed),
        network=network,
        pair_figures=figures,
        boilerplate={names[c]: lines for c, lines in boilerplate.items()},
        mentions=mentions,
    )


async def measure(data: Path, every: int, log: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    pipeline = TextPipeline()
    scorer = load_scorer(pipeline, Settings())
    with tempfile.TemporaryDirectory(prefix="digest-quality-") as folder:
        exports = write_exports(data, Path(folder) / "exports")
        async with await Store.open(Path(folder) / "archive.db") as store:
            fixed_now = datetime(2026, 1, 1, tzinfo=UTC)  # after the data; only `added_at`
            for username, path in exports.items():
                report = await import_exports(
                    store, pipeline, [path], clock=lambda: fixed_now,
                    username=username, scorer=scorer,
                )  # fmt: skip
                if report.problems:
                    raise RuntimeError("; ".join(map(str, report.problems)))
            for term, aliases in WATCHED:
                await add_term(store, pipeline, term, aliases, None, "bench", fixed_now)
            log(f"imported and watched in {time.perf_counter() - started:.0f} s")
            archive = await read_archive(store, pipeline)
            log(f"archive read in {time.perf_counter() - started:.0f} s")
            first = min(moment.date() for moment in archive.dates.values())
            last = max(moment.date() for moment in archive.dates.values())
            span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            periods = [(day.isoformat(), day, day) for day in span[::every]]
            periods += [
                ("last week", last - timedelta(days=6), last),
                ("last month", last - timedelta(days=29), last),
            ]
            rows = []
            for label, since_day, until_day in periods:
                since, until = day_start(since_day), day_end(until_day)
                clock = time.perf_counter()
                digest = await build_digest(store, scorer, since, until, fixed_now)
                row = Row(label, since_day.isoformat(), until_day.isoformat())
                judge(archive, digest, row, since_day, until_day + timedelta(days=1))
                row.seconds = round(time.perf_counter() - clock, 2)
                rows.append(row)
                log(f"{label}: {row.seconds} s")
    return summary(rows, archive, data, every, time.perf_counter() - started)


def summary(
    rows: list[Row], archive: Archive, data: Path, every: int, seconds: float
) -> dict[str, Any]:
    days = [r for r in rows if r.period[0].isdigit()]
    counts = [name for name in Row.__dataclass_fields__ if name not in ("period", "since",
              "until", "seconds", "noisy_terms", "campaign_channels")]  # fmt: skip
    ranges = {
        name: {
            "min": min(getattr(r, name) for r in days),
            "median": statistics.median(getattr(r, name) for r in days),
            "max": max(getattr(r, name) for r in days),
            "total": sum(getattr(r, name) for r in days),
        }
        for name in counts
    }
    targets = {
        name: round(sum(r.targets()[name] for r in days) / len(days), 3)
        for name in days[0].targets()
    }
    noisy = Counter(term for r in rows for term in r.noisy_terms)
    return {
        "data": str(data),
        "days_measured": len(days),
        "every_nth_day": every,
        "seconds": round(seconds),
        "watched": [term for term, _ in WATCHED],
        "first_day": {
            label: archive.first_day[channel_id].isoformat()
            for label, channel_id in sorted(archive.ids.items())
        },
        "boilerplate": archive.boilerplate,
        "network_pairs": [f for f in archive.pair_figures if f["lift"] >= NETWORK_LIFT],
        "top_pairs": archive.pair_figures[:10],
        "day_ranges": ranges,
        "targets_met_share_of_days": targets,
        "noisy_terms": noisy.most_common(30),
        "campaign_channels": Counter(
            names for r in days for names in r.campaign_channels
        ).most_common(),
        "rows": [asdict(r) for r in rows],
    }


_COLUMNS = (
    ("period", "period"), ("posts", "posts"), ("spikes", "spk"), ("spikes_new", "spk new"),
    ("shifts", "shf"), ("shifts_new", "shf new"), ("campaigns", "cmp"),
    ("campaigns_network", "cmp net"), ("campaigns_agency", "cmp agency"),
    ("campaigns_pair", "cmp pair"), ("emerging", "emg"),
    ("emerging_boilerplate", "emg boiler"), ("emerging_fragment", "emg frag"),
)  # fmt: skip


def table(result: dict[str, Any], markdown: bool) -> str:
    header = [title for _, title in _COLUMNS]
    body = [[str(row[key]) for key, _ in _COLUMNS] for row in result["rows"]]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
    else:
        widths = [max(len(c) for c in column) for column in zip(header, *body, strict=True)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
                 for cells in (header, *body)]  # fmt: skip
    lines.append("")
    lines.append(f"Per day over {result['days_measured']} days (min / median / max / total):")
    for name, figures in result["day_ranges"].items():
        lines.append(
            f"{'- ' if markdown else '  '}{name}: {figures['min']} / {figures['median']} / "
            f"{figures['max']} / {figures['total']}"
        )
    lines.append("")
    lines.append("Share of days meeting each target:")
    for name, share in result["targets_met_share_of_days"].items():
        lines.append(f"{'- ' if markdown else '  '}{name}: {share:.0%}")
    lines.append("")
    lines.append("Emerging terms judged noise, days shown (the week and month included):")
    lines += [f"{'- ' if markdown else '  '}{term}: {n}" for term, n in result["noisy_terms"]]
    lines.append("")
    lines.append("Campaigns by channels, on the days measured:")
    lines += [
        f"{'- ' if markdown else '  '}{names}: {n}" for names, n in result["campaign_channels"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="folder of channel CSVs")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--every", type=int, default=1, help="measure every Nth day of the span (default 1)"
    )
    args = parser.parse_args(argv)
    data = find_data(args.data)
    if data is None:
        return 2

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = asyncio.run(measure(data, max(args.every, 1), log))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(table(result, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

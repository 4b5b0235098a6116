"""The digest of a period: what the channels said, what suddenly got talked about, where the
tone turned, who pushed the same text, what was deleted or edited, and how collection went.

`build_digest` reads the period and its trailing baseline from the store once and hands them
to the pure detectors; the result is plain JSON-ready data (rendering is another module).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from monitor.analysis.attribution import echo_of
from monitor.analysis.boilerplate import mask
from monitor.analysis.campaigns import Campaign
from monitor.analysis.emerging import document_frequencies, emerging_terms, shown_terms
from monitor.analysis.networks import Network, split_by_network
from monitor.analysis.period import PeriodTexts, read_networks, read_texts
from monitor.analysis.shifts import judge_shift, moved_words, telling
from monitor.analysis.spikes import MIN_HISTORY_DAYS, WINDOW_DAYS, judge_sum
from monitor.boilerplate import refresh_boilerplate
from monitor.health import NOT_FOLLOWED, Health, health_by_channel, health_json
from monitor.models import Channel, post_url
from monitor.networks import name_networks, network_sample
from monitor.sentiment.scorer import Scorer, Sentiment
from monitor.store import PeriodPost, Store, WatchTerm
from monitor.text import TextPipeline

TOP_POSTS = 3
EMERGING_SHOWN = 10
# Ranked emerging terms grown and merged into the shown ones: enough that ten remain.
EMERGING_CANDIDATES = 40
# Baseline posts read for emerging terms, and scores per side for sentiment shifts: enough
# for stable figures, few enough that a digest over millions of posts takes a second.
BASELINE_SAMPLE = 10_000
SHIFT_SAMPLE = 500
# Posts per term read for an alert's last 24 hours.
ALERT_PERIOD_SAMPLE = 2_000
# From this many posts in the period, the text detectors run in a second process.
PARALLEL_FROM = 3_000
EXAMPLES = 3
CAMPAIGN_ITEMS = 10
SNIPPET = 280
# A channel's `ranked_by` when its posts carry no counters at all, as an imported export's.
UNVIEWED = "forwards and replies in the archive"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1].rstrip() + "…"


class _Echoes:
    """What a period's own posts say of each other's reach, for posts without Telegram's
    counters (an imported export has none): forwards of a post by archived channels, matched
    by channel and text as a forward keeps both (an export names no forwarded message), and
    replies to it in its channel."""

    def __init__(self, period: list[PeriodPost]) -> None:
        self.forwards = Counter(
            (p.forward_from_id, p.text) for p in period if p.forward_from_id and p.text
        )
        self.replies = Counter((p.channel_id, p.reply_to) for p in period if p.reply_to)

    def of(self, post: PeriodPost) -> dict[str, int]:
        return {
            "archive_forwards": self.forwards[(post.channel_id, post.text)] if post.text else 0,
            "archive_replies": self.replies[(post.channel_id, post.message_id)],
        }


def _engagement(post: PeriodPost, echoes: dict[str, int]) -> tuple[bool, int, int, int]:
    """Views when known, else forwards and reactions, else forwards and replies within the
    archive; posts with views first, as the two kinds of figure do not compare."""
    counted = (post.views or 0) + 10 * (post.forwards or 0) + 5 * (post.reactions or 0)
    return post.views is not None, counted, echoes["archive_forwards"], echoes["archive_replies"]


def _ranked_by(posts: list[PeriodPost]) -> str:
    """What a channel's top posts are ranked by, named for the reader."""
    if any(p.views is not None for p in posts):
        return "views"
    if any(p.forwards is not None or p.reactions is not None for p in posts):
        return "forwards and reactions"
    return UNVIEWED


def _top_posts(reader: _Reader, posts: list[PeriodPost], echoes: _Echoes) -> list[dict[str, Any]]:
    # Sorted from the period's order, by time: equals stay in it, which the note says.
    ranked = sorted(
        ((p, echoes.of(p)) for p in posts), key=lambda pe: _engagement(*pe), reverse=True
    )
    return [reader.post_json(p) | counts for p, counts in ranked[:TOP_POSTS]]


class _Reader:
    """Everything the detectors need from one pass over the period and the baseline."""

    def __init__(self, channels: dict[int, Channel]) -> None:
        self.channels = channels

    def url(self, channel_id: int, message_id: int) -> str:
        channel = self.channels.get(channel_id)
        return post_url(channel_id, channel.username if channel else None, message_id)

    def label(self, channel_id: int | None) -> str | None:
        if channel_id is None:
            return None
        channel = self.channels.get(channel_id)
        return channel.label if channel else str(channel_id)

    def post_json(self, post: PeriodPost) -> dict[str, Any]:
        return {
            "channel": self.label(post.channel_id),
            "channel_id": post.channel_id,
            "message_id": post.message_id,
            "date": post.date.isoformat(),
            "url": self.url(post.channel_id, post.message_id),
            "text": _snippet(post.text),
            "views": post.views,
            "forwards": post.forwards,
            "reactions": post.reactions,
            "sentiment": post.sentiment,
        }


async def build_digest(
    store: Store,
    scorer: Scorer,
    since: datetime,
    until: datetime,
    now: datetime,
    baseline_days: int = WINDOW_DAYS,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    masks = await _boilerplate(store, scorer.pipeline, now)
    with contextlib.ExitStack() as stack:
        pool = None
        if sum((await store.posts_per_channel(since, until)).values()) >= PARALLEL_FROM:
            # A busy period: the campaign search, the costliest detector, runs on another
            # core while this one runs the others. The worker starts now and imports the
            # detectors (an empty period's texts) while we read.
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(ProcessPoolExecutor(1, mp_context=context))
            pool.submit(read_texts, [])
        period = [_masked(post, masks) async for post in store.period_posts(since, until)]
        rows = [(p.channel_id, p.message_id, p.date, p.lemmas, p.forwarded) for p in period]
        sample = await network_sample(store, since - timedelta(days=baseline_days), since)
        if pool is None:
            texts = loop.create_future()
            texts.set_result(read_texts(rows))
            networks = loop.create_future()
            networks.set_result(read_networks(sample))
        else:
            texts = loop.run_in_executor(pool, read_texts, rows)
            networks = loop.run_in_executor(pool, read_networks, sample)
        return await _assemble(
            store, scorer, since, until, now, baseline_days, period, texts, masks, networks
        )


async def _boilerplate(store: Store, pipeline: TextPipeline, now: datetime) -> dict[int, list[str]]:
    """Each channel's boilerplate lemmas, longest first, learned first where it is due."""
    channel_ids = [channel.id for channel in await store.channels()]
    await refresh_boilerplate(store, pipeline, channel_ids, now)
    return {
        channel_id: sorted((b.lemmas for b in found), key=len, reverse=True)
        for channel_id, found in (await store.boilerplate(channel_ids)).items()
    }


def _masked(post: PeriodPost, masks: dict[int, list[str]]) -> PeriodPost:
    """The post with its channel's boilerplate out of its lemmas (its text stays whole)."""
    phrases = masks.get(post.channel_id)
    return dataclasses.replace(post, lemmas=mask(post.lemmas, phrases)) if phrases else post


async def _assemble(
    store: Store, scorer: Scorer, since: datetime, until: datetime, now: datetime,
    baseline_days: int, period: list[PeriodPost], period_texts: asyncio.Future[PeriodTexts],
    masks: dict[int, list[str]],
    networks: asyncio.Future[list[Network]],
) -> dict[str, Any]:  # fmt: skip
    """Everything but the period's text detectors and the networks, which may be running in
    a worker: their results are awaited last."""
    reader = _Reader({c.id: c for c in await store.channels()})
    starts = await store.archive_starts()
    judged = _established(starts, since)
    baseline_since = since - timedelta(days=baseline_days)
    baseline_counts = await store.posts_per_channel(baseline_since, since)
    baseline_total = sum(baseline_counts.values())
    # The baseline is weeks of posts: its vocabulary is read from an even sample of them.
    sample = await store.sample_lemmas(baseline_since, since, BASELINE_SAMPLE, baseline_total)
    terms = await store.watch_terms()
    period_days = max((until - since) / timedelta(days=1), 1 / 24)

    by_channel: dict[int, list[PeriodPost]] = defaultdict(list)
    for post in period:
        by_channel[post.channel_id].append(post)

    echoes = _Echoes(period)
    channels = [
        {
            "channel": reader.label(channel_id),
            "channel_id": channel_id,
            "posts": len(posts),
            "baseline": round(baseline_counts.get(channel_id, 0) / baseline_days * period_days, 2),
            "ranked_by": _ranked_by(posts),
            "top_posts": _top_posts(reader, posts, echoes),
        }
        for channel_id, posts in sorted(by_channel.items(), key=lambda item: -len(item[1]))
    ]

    baseline_terms, sampled = document_frequencies(
        mask(lemmas, masks[channel_id]).split() if channel_id in masks else lemmas.split()
        for channel_id, lemmas in sample
    )

    baseline_sentiments = await store.sentiments_by_channel(
        baseline_since, since, SHIFT_SAMPLE, baseline_counts
    )
    term_baselines = {
        term.id: [
            _masked(post, masks)
            for post in await store.mention_sample(term.id, baseline_since, since, SHIFT_SAMPLE)
        ]
        for term in terms
    }

    deletions = await store.deleted_between(since, until)
    edits = await store.edits_between(since, until)
    health = await health_by_channel(store, now)
    spikes = await _spikes(store, reader, terms, since, until, starts)
    shifts = await _shifts(
        store, reader, scorer, terms, period, baseline_sentiments, term_baselines, judged
    )
    found = await period_texts
    pipeline = scorer.pipeline
    usernames = {c.username for c in reader.channels.values() if c.username}
    ranked = emerging_terms(
        found.terms, found.posts, baseline_terms, sampled, EMERGING_CANDIDATES,
        excluded={lemma for name in usernames for lemma in pipeline.lemmas(name)},
        named=pipeline.lemmatizer.is_named,
    )  # fmt: skip
    emerging = shown_terms(
        ranked, [(p.lemmas, p.text) for p in period], pipeline.tokens, EMERGING_SHOWN
    )
    campaigns = _campaigns(reader, found.campaigns, await networks, period)
    scale = baseline_total / sampled if sampled else 1.0

    return {
        "period": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "baseline_days": baseline_days,
        },
        "totals": {
            "posts": len(period),
            "channels": len(by_channel),
            "deleted": len(deletions),
            "edited": len(edits),
            "baseline_posts_per_day": round(baseline_total / baseline_days, 2),
        },
        "channels": channels,
        "spikes": spikes,
        "sentiment_shifts": shifts,
        "new_channels": [
            {
                "channel": reader.label(channel_id),
                "channel_id": channel_id,
                "archived_since": start.isoformat(),
                "judged_from": (start + timedelta(days=MIN_HISTORY_DAYS)).isoformat(),
                "posts": len(by_channel.get(channel_id, [])),
                "top_posts": _top_posts(reader, by_channel.get(channel_id, []), echoes),
            }
            for channel_id, start in sorted(starts.items(), key=lambda item: item[1])
            if channel_id not in judged and start < until
        ],
        "emerging_terms": [
            {
                "term": t.written,
                "lemmas": t.lemmas,
                "posts": t.found.posts,
                "baseline_posts": round(t.found.baseline_posts * scale),
                "ratio": t.found.ratio,
                "score": t.found.score,
            }
            for t in emerging
        ],
        **campaigns,
        "deletions": [reader.post_json(p) for p in deletions],
        "edits": [
            {
                "channel": reader.label(e.channel_id),
                "url": reader.url(e.channel_id, e.message_id),
                "date": e.date.isoformat(),
                "edit_date": _iso(e.edit_date),
                "old_text": _snippet(e.old_text),
                "new_text": _snippet(e.new_text),
                "source": e.source,
                "source_file": e.source_file,
            }
            for e in edits
        ],
        "health": [
            {"channel": reader.label(channel_id), "channel_id": channel_id, **health_json(h)}
            for channel_id, h in health.items()
            if _health_shown(reader.channels[channel_id], h, until)
        ],
    }


def _health_shown(channel: Channel, health: Health, until: datetime) -> bool:
    """Every followed channel (renderers sum up those doing well); one the collector does not
    read when in trouble, or when its archive ends before the period does: its silence there
    is a gap in the archive, not news."""
    if health.state in NOT_FOLLOWED:
        return health.last_post is None or health.last_post < until
    return channel.active or health.state != "ok"


def _campaigns(
    reader: _Reader, found: list[Campaign], networks: list[Network], period: list[PeriodPost]
) -> dict[str, Any]:
    """The CAMPAIGN_ITEMS campaigns of widest reach, copy-paste that credits nobody before
    the echoes of an agency or an official; how many more there were; and per network the
    texts its channels shared only among themselves (one line each, not campaigns)."""
    posts = {(p.channel_id, p.message_id): p for p in period}
    named = name_networks(networks, reader.channels)
    crossing, inside = split_by_network(found, networks)
    items: list[dict[str, Any]] = []
    for item in crossing:
        campaign = item.campaign
        copies = [posts[(p.channel_id, p.message_id)] for p in campaign.posts]
        views = [p.views for p in copies if p.views is not None]
        items.append(
            {
                "channels": sorted(reader.label(c) or "" for c in campaign.channels),
                "networks": item.voices,
                "views": sum(views) if views else None,
                "echo": echo_of(p.text for p in copies),
                "first": campaign.first.isoformat(),
                "last": campaign.last.isoformat(),
                "similarity": campaign.similarity,
                "posts": [
                    {
                        "channel": reader.label(p.channel_id),
                        "date": p.date.isoformat(),
                        "url": reader.url(p.channel_id, p.message_id),
                    }
                    for p in campaign.posts
                ],
                "text": _snippet(copies[0].text),
            }
        )
    # Reach: independent voices, then channels, then views.
    items.sort(
        key=lambda c: (
            c["echo"] is not None, -c["networks"], -len(c["channels"]), -(c["views"] or 0),
            c["first"],
        )
    )  # fmt: skip
    return {
        "campaigns": items[:CAMPAIGN_ITEMS],
        "campaigns_more": len(items[CAMPAIGN_ITEMS:]),
        "network_reposts": [
            {"network": named[i]["name"], "channels": named[i]["channels"], "posts": count}
            for i, count in sorted(inside.items(), key=lambda ic: (-ic[1], named[ic[0]]["name"]))
        ],
    }


def _established(starts: dict[int, datetime], since: datetime) -> set[int]:
    """The channels archived for MIN_HISTORY_DAYS before `since`: the only ones whose counts
    and tone a period is judged on; the others are new channels."""
    cutoff = since - timedelta(days=MIN_HISTORY_DAYS)
    return {channel_id for channel_id, start in starts.items() if start <= cutoff}


async def _spikes(
    store: Store, reader: _Reader, terms: list[WatchTerm], since: datetime, until: datetime,
    starts: dict[int, datetime],
) -> list[dict[str, Any]]:  # fmt: skip
    judged = _established(starts, since)
    found: list[dict[str, Any]] = []
    for term in terms:
        counts = await store.watch_counts(term.id, since - timedelta(days=WINDOW_DAYS), until)
        series: dict[int, dict[date, int]] = defaultdict(dict)
        for (counted_channel, day_text), count in counts.items():
            if counted_channel in judged:
                series[counted_channel][date.fromisoformat(day_text)] = count
        # Each channel alone, and for a term of all channels their sum (None).
        groups: list[tuple[int | None, list[int]]] = [(c, [c]) for c in sorted(series)]
        if term.channel_id is None and series:
            groups.append((None, sorted(series)))
        day = since.date()
        while day < until.date() or day == since.date():
            for channel_id, members in groups:
                test = judge_sum([(series[c], starts[c]) for c in members], day)
                if not test.flagged:
                    continue
                start = datetime.combine(day, datetime.min.time(), tzinfo=since.tzinfo)
                first, top = await store.first_and_top_mention(
                    term.id, start, start + timedelta(days=1), members
                )
                found.append(
                    {
                        "term": term.term,
                        "channel": reader.label(channel_id),
                        "day": day.isoformat(),
                        "count": test.count,
                        "baseline": test.baseline,
                        "ratio": test.ratio,
                        "p_value": test.p_value,
                        "first_post": reader.post_json(first) if first else None,
                        "top_post": reader.post_json(top) if top else None,
                    }
                )
            day += timedelta(days=1)
    found.sort(key=lambda s: (s["p_value"], s["term"]))
    return found


async def alert_findings(store: Store, scorer: Scorer, now: datetime) -> list[dict[str, Any]]:
    """What an alert reports: spikes of watched terms on the current UTC day so far, and
    turns in how a term is spoken of over the last 24 hours. Each finding has a `kind` and
    a `key` (kind, term, channel) for the cool-down."""
    terms = await store.watch_terms()
    if not terms:
        return []
    reader = _Reader({c.id: c for c in await store.channels()})
    starts = await store.archive_starts()
    today = datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo)
    since = now - timedelta(days=1)
    baseline_since = since - timedelta(days=WINDOW_DAYS)
    period: dict[int, PeriodPost] = {}
    term_baselines = {}
    for term in terms:
        for post in await store.mention_sample(term.id, since, now, ALERT_PERIOD_SAMPLE):
            period[post.id] = post
        term_baselines[term.id] = await store.mention_sample(
            term.id, baseline_since, since, SHIFT_SAMPLE
        )
    posts = sorted(period.values(), key=lambda p: (p.date, p.id))
    found = [
        {"kind": "spike", "key": f"spike|{s['term']}|{s['channel']}", **s}
        for s in await _spikes(store, reader, terms, today, today + timedelta(days=1), starts)
    ]
    shifts = await _shifts(
        store, reader, scorer, terms, posts, {}, term_baselines, _established(starts, since)
    )
    found += [
        {"kind": "shift", "key": f"shift|{s['term']}|{s['channel']}", **s}
        for s in shifts
        if s["term"] is not None
    ]
    return found


def _term_scores(
    scorer: Scorer, terms: list[WatchTerm], posts: list[PeriodPost]
) -> dict[int, list[tuple[PeriodPost, Sentiment]]]:
    """Per term: the posts mentioning it, each with how it speaks of the term."""
    scores: dict[int, list[tuple[PeriodPost, Sentiment]]] = {term.id: [] for term in terms}
    padded_patterns = [(term, [(f" {p} ", p.split()) for p in term.patterns]) for term in terms]
    for post in posts:
        padded = f" {post.lemmas} "
        lemmas: list[str] | None = None
        for term, patterns in padded_patterns:
            if term.channel_id not in (None, post.channel_id):
                continue
            target = next((words for p, words in patterns if p in padded), None)
            if target is not None:
                lemmas = lemmas or post.lemmas.split()
                # Only the words around the term count, not the whole post's tone.
                scores[term.id].append((post, scorer.score_lemmas(lemmas, post.text, target)))
    return scores


@dataclass(frozen=True)
class _Scored:
    """A post's score on one side of a shift test, with the post when it was read."""

    post_id: int
    score: float
    post: PeriodPost | None = None
    sentiment: Sentiment | None = None  # how it speaks of a term, with the words that counted


async def _shifts(
    store: Store, reader: _Reader, scorer: Scorer, terms: list[WatchTerm],
    period: list[PeriodPost], baseline_sentiments: dict[int, list[tuple[int, float]]],
    term_baselines: dict[int, list[PeriodPost]], judged: set[int],
) -> list[dict[str, Any]]:  # fmt: skip
    """Turns in tone of the `judged` channels (the same channels on both sides of every
    test), each with its evidence."""
    groups: dict[tuple[int | None, str | None], tuple[list[_Scored], list[_Scored]]] = defaultdict(
        lambda: ([], [])
    )
    for channel_id, values in baseline_sentiments.items():
        if channel_id in judged:
            groups[(channel_id, None)][0].extend(_Scored(i, score) for i, score in values)
    for post in period:
        if post.sentiment is not None and post.channel_id in judged:
            groups[(post.channel_id, None)][1].append(_Scored(post.id, post.sentiment, post))
    period_scores = _term_scores(scorer, terms, period)
    for term in terms:
        baseline_scores = _term_scores(scorer, [term], term_baselines[term.id])[term.id]
        for side, scores in ((0, baseline_scores), (1, period_scores[term.id])):
            for post, sentiment in scores:
                if post.channel_id not in judged:
                    continue
                scored = _Scored(post.id, sentiment.score, post, sentiment)
                groups[(post.channel_id, term.term)][side].append(scored)
                if term.channel_id is None:
                    groups[(None, term.term)][side].append(scored)
    shifts: list[dict[str, Any]] = []
    for (group_channel, term_name), (before, after) in groups.items():
        test = judge_shift([s.score for s in before], [s.score for s in after])
        if test.flagged:
            shifts.append(
                {
                    "channel": reader.label(group_channel),
                    "term": term_name,
                    "before": test.before,
                    "after": test.after,
                    "difference": test.difference,
                    "effect": test.effect,
                    "n_before": test.n_before,
                    "n_after": test.n_after,
                    "p_value": test.p_value,
                    **await _shift_evidence(store, scorer, reader, before, after, test.difference),
                }
            )
    shifts.sort(key=lambda s: s["p_value"])
    return shifts


async def _shift_evidence(
    store: Store, scorer: Scorer, reader: _Reader, before: list[_Scored], after: list[_Scored],
    direction: float,
) -> dict[str, Any]:  # fmt: skip
    """What lets an analyst check a shift: the posts that show each side's tone best (the
    baseline's against the turn, the period's with it) and the words that moved the score.
    A channel's baseline side holds only scores: its sample is read here, for flagged shifts
    alone, and scored again for its words."""
    read = {p.id: p for p in await store.posts_by_id([s.post_id for s in before if s.post is None])}
    sides = []
    for scored in (before, after):
        side = []
        for s in scored:
            post = s.post or read.get(s.post_id)
            if post is not None:
                sentiment = s.sentiment or scorer.score_lemmas(post.lemmas.split(), post.text)
                side.append((post, s.score, sentiment.words))
        sides.append(side)
    examples = [
        [
            {**reader.post_json(side[i][0]), "score": round(side[i][1], 3)}
            for i in telling([score for _, score, _ in side], toward)
        ]
        for side, toward in zip(sides, (-direction, direction), strict=True)
    ]
    before_words, after_words = ([words for _, _, words in side] for side in sides)
    words = moved_words(before_words, after_words, direction)
    return {
        "posts_before": examples[0],
        "posts_after": examples[1],
        "words": [
            {"word": w.word, "value": w.value, "before": w.before, "after": w.after} for w in words
        ],
    }

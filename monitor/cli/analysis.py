"""Analysis commands: sentiment (score texts), rescore (score the archive again)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from monitor.boilerplate import refresh_boilerplate
from monitor.cli.context import Context
from monitor.digest import UNVIEWED, build_digest
from monitor.search.service import day_end, day_start
from monitor.watch import add_term, remove_term

RESCORE_BATCH = 2000


def _items(
    handle: TextIO, as_json: bool, target: str | None
) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(line number, text, target, problem) for each non-empty input line."""
    for number, line in enumerate(handle, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if not as_json:
            yield number, line, target, None
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            yield number, "", None, "not a JSON object"
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            yield number, "", None, 'expected an object with a "text" string'
            continue
        item_target = item.get("target", target)
        yield number, item["text"], item_target if isinstance(item_target, str) else target, None


async def cmd_sentiment(args: argparse.Namespace, ctx: Context) -> int:
    scorer = ctx.scorer
    problems = 0
    source: TextIO
    if args.file in (None, "-"):
        source = sys.stdin
    else:
        try:
            source = open(args.file, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as error:
            ctx.output.note(f"error: {args.file} cannot be read: {error.strerror}")
            return 1
    try:
        for number, text, target, problem in _items(source, args.jsonl, args.target):
            if problem is not None:
                ctx.output.note(f"error: line {number}: {problem}")
                problems += 1
                continue
            result = scorer.score(text, target).as_json()
            if target is not None:
                result["target"] = target
            ctx.output.line(json.dumps(result, ensure_ascii=False))
    except UnicodeDecodeError:
        ctx.output.note(f"error: {args.file or 'the input'} is not UTF-8 text")
        return 1
    finally:
        if source is not sys.stdin:
            source.close()
    return 1 if problems else 0


async def cmd_rescore(args: argparse.Namespace, ctx: Context) -> int:
    scorer = ctx.scorer
    done = 0
    async with await ctx.open_store() as store:
        last = 0
        while batch := await store.texts_for_scoring(last, RESCORE_BATCH):
            results = scorer.score_many([text for _, text in batch])
            await store.set_sentiments(
                [
                    (result.score, post_id)
                    for result, (post_id, _) in zip(results, batch, strict=True)
                ]
            )
            done += len(batch)
            last = batch[-1][0]
    ctx.output.line(f"Rescored {done:,} posts.")
    return 0


async def cmd_watch_add(args: argparse.Namespace, ctx: Context) -> int:
    async with await ctx.open_store() as store:
        term = await add_term(
            store, ctx.pipeline, args.term, args.alias, args.channel, "cli", ctx.clock.now()
        )
        total = sum((await store.watch_counts(term.id)).values())
    ctx.output.line(f"Watching {term.term!r} ({', '.join(term.aliases)}): {total:,} posts so far.")
    return 0


async def cmd_watch_remove(args: argparse.Namespace, ctx: Context) -> int:
    async with await ctx.open_store() as store:
        term = await remove_term(store, args.term, args.channel)
    ctx.output.line(f"No longer watching {term.term!r}.")
    return 0


async def cmd_watch_list(args: argparse.Namespace, ctx: Context) -> int:
    async with await ctx.open_store() as store:
        terms = await store.watch_terms()
        labels = {c.id: c.label for c in await store.channels()}
        totals = {t.id: sum((await store.watch_counts(t.id)).values()) for t in terms}
    if args.json:
        ctx.output.json(
            [
                {
                    "term": t.term, "aliases": list(t.aliases), "lemmas": list(t.patterns),
                    "channel": labels.get(t.channel_id) if t.channel_id else None,
                    "posts": totals[t.id],
                }
                for t in terms
            ]
        )  # fmt: skip
        return 0
    if not terms:
        ctx.output.line("No watched terms: add one with `watch add TERM`.")
    for t in terms:
        where = labels.get(t.channel_id, str(t.channel_id)) if t.channel_id else "all channels"
        ctx.output.line(
            f"{t.term:<24} {where:<24} {totals[t.id]:>8,} posts  aliases: {', '.join(t.aliases)}"
        )
    return 0


def _digest_period(args: argparse.Namespace, ctx: Context) -> tuple[datetime, datetime]:
    zone = ctx.output.zone
    if args.date is not None:
        return day_start(args.date, zone), day_end(args.date, zone)
    if args.since is None or args.until is None:
        raise DigestError("Give --date D, or both --since D and --until D.")
    if args.until < args.since:
        raise DigestError(f"--until {args.until} is before --since {args.since}.")
    return day_start(args.since, zone), day_end(args.until, zone)


def _unviewed_note(channels: list[dict[str, Any]]) -> list[str]:
    """One line naming the channels whose top posts are ranked without any view counts."""
    unviewed = [c["channel"] for c in channels if c["ranked_by"] == UNVIEWED]
    if not unviewed:
        return []
    whose = "" if len(unviewed) == len(channels) else f" of {', '.join(unviewed)}"
    return [
        f"no view counts in an imported archive: top posts{whose} are ranked by forwards and "
        "replies within the archive, then by time"
    ]


def _echoes(post: dict[str, Any]) -> str:
    counts = [
        f"{name} {post[key]}"
        for key, name in (("archive_forwards", "forwards"), ("archive_replies", "replies"))
        if post[key]
    ]
    return f" ({', '.join(counts)} in the archive)" if counts else ""


def _spike_evidence(spike: dict[str, Any]) -> str:
    first, top = spike["first_post"], spike["top_post"]
    lines = [f"first: {first['url']} {first['text']}"] if first else []
    if top and (not first or top["url"] != first["url"]):
        lines.append(f"widest reach: {top['url']} {top['text']}")
    return "".join(f"\n      {line}" for line in lines)


def _shift_evidence(shift: dict[str, Any]) -> str:
    words = ", ".join(f"{w['word']} ({w['value']:+.2f}) {w['before']} -> {w['after']} posts"
                      for w in shift["words"])  # fmt: skip
    lines = [f"words: {words}"] if words else []
    lines += [f"{side} {p['score']:+.2f}: {p['url']} {p['text']}"
              for side, key in (("before", "posts_before"), ("after", "posts_after"))
              for p in shift[key]]  # fmt: skip
    return "".join(f"\n      {line}" for line in lines)


class DigestError(ValueError):
    """The digest period given cannot be used."""


async def cmd_digest(args: argparse.Namespace, ctx: Context) -> int:
    try:
        since, until = _digest_period(args, ctx)
    except DigestError as error:
        ctx.output.note(f"error: {error}")
        return 2
    async with await ctx.open_store() as store:
        digest = await build_digest(store, ctx.scorer, since, until, ctx.clock.now())
    if args.json:
        ctx.output.json(digest)
        return 0
    out = ctx.output
    totals = digest["totals"]
    out.line(f"Digest {out.when(since)} .. {out.when(until)}: {totals['posts']:,} posts in "
             f"{totals['channels']} channel(s), {totals['deleted']} deleted, {totals['edited']} edited")  # fmt: skip
    sections = (
        ("Keyword spikes", [f"{s['term']} in {s['channel'] or 'all channels'} on {s['day']}: {s['count']} posts "
                            f"against {s['baseline']}/day (x{s['ratio']}, p={s['p_value']:.1e})" + _spike_evidence(s)
                            for s in digest["spikes"]]),
        ("Sentiment shifts", [f"{s['channel'] or 'all channels'}{' on ' + s['term'] if s['term'] else ''}: "
                              f"{s['before']:+.2f} -> {s['after']:+.2f} ({s['n_before']} -> {s['n_after']} posts, p={s['p_value']:.1e})"
                              + _shift_evidence(s) for s in digest["sentiment_shifts"]]),
        ("New channels (not judged until a week is archived)",
         [f"{c['channel']}: archived since {c['archived_since']}, {c['posts']} posts, judged from {c['judged_from']}"
          + "".join(f"\n      {p['url']} {p['text']}" for p in c["top_posts"]) for c in digest["new_channels"]]),
        ("Emerging terms", [f"{t['term']}: {t['posts']} posts (baseline {t['baseline_posts']})" for t in digest["emerging_terms"]]),
        ("Copy-paste campaigns", [f"{', '.join(c['channels'])} ({c['networks']} independent"
                                  f"{', ' + format(c['views'], ',') + ' views' if c['views'] else ''}, "
                                  f"{'echo of ' + c['echo'] if c['echo'] else 'credits no source'}): "
                                  f"{c['text']} {' '.join(p['url'] for p in c['posts'])}"
                                  for c in digest["campaigns"]]
                                 + ([f"... and {digest['campaigns_more']} more"] if digest["campaigns_more"] else [])
                                 + [f"network {n['network']} ({len(n['channels'])} channels: {', '.join(n['channels'])}): "
                                    f"{n['posts']} shared posts" for n in digest["network_reposts"]]),
        ("Top posts", _unviewed_note(digest["channels"])
                      + [f"{c['channel']}: {p['url']}{_echoes(p)} {p['text']}" for c in digest["channels"] for p in c["top_posts"][:1]]),
        ("Deleted", [f"{d['url']} {d['text']}" for d in digest["deletions"]]),
        ("Edited", [f"{e['url']} was: {e['old_text']} | now"
                    f"{', per the imported export ' + e['source_file'] if e['source'] == 'import' else ''}: "
                    f"{e['new_text']}" for e in digest["edits"]]),
        ("Collection health", [f"{h['channel']}: {h['state']}{', last post ' + out.when(datetime.fromisoformat(h['last_post'])) if h['last_post'] else ''}"
                               f"{' (' + h['last_error'] + ')' if h['last_error'] else ''}"
                               for h in digest["health"] if h["state"] != "ok"]),
    )  # fmt: skip
    for title, lines in sections:
        out.line(f"\n{title}:" + ("" if lines else " none"))
        for line in lines:
            out.line(f"  - {line}")
    return 0


async def show_boilerplate(username: str, as_json: bool, ctx: Context) -> int:
    """`stats --boilerplate @x`: what the digest masks in the channel's posts, learned first
    when due."""
    output = ctx.output
    async with await ctx.open_store() as store:
        channel = await store.channel_by_username(username)
        if channel is None:
            output.note(f"error: no channel {username} in the archive")
            return 1
        await refresh_boilerplate(store, ctx.pipeline, [channel.id], ctx.clock.now())
        found = (await store.boilerplate([channel.id])).get(channel.id, [])
    if as_json:
        output.json(
            {
                "channel": channel.label,
                "boilerplate": [
                    {"text": b.text, "lemmas": b.lemmas, "posts": b.posts, "sampled": b.sampled}
                    for b in found
                ],
            }
        )
        return 0
    if not found:
        output.line(f"{channel.label}: no boilerplate in its recent posts")
    for b in found:
        output.line(f"{b.posts:>4} of {b.sampled} posts  {b.text}")
    return 0

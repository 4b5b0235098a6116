"""Archive commands: import, search, channels list, export, verify, chain-head, stats, demo."""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from datetime import datetime
from pathlib import Path

from monitor.cli.analysis import show_boilerplate
from monitor.cli.context import Context, Output, terminal_safe
from monitor.health import following, health_by_channel, health_json
from monitor.importers.service import import_exports
from monitor.integrity import PublishedHeadsError, published_heads
from monitor.models import now_utc
from monitor.networks import network_of_channels
from monitor.progress import ProgressBar
from monitor.search.service import day_end, day_start, resolve_channel_ids, search
from monitor.search.snippet import render_segments
from monitor.store import EXPORT_COLUMNS, Store


async def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    bar = ProgressBar(output.err, "import")
    async with await ctx.open_store() as store:
        report = await import_exports(
            store, ctx.pipeline, args.paths, clock=now_utc, username=args.username,
            on_progress=bar.update, scorer=ctx.scorer, parallel=ctx.analysis,
        )  # fmt: skip
    bar.finish()
    for title, counts in report.channels.values():
        output.line(
            f"{title}: {counts.new:,} new, {counts.revised:,} revised, {counts.unchanged:,} already stored"
        )
    totals = report.totals
    output.line(
        f"{len(report.files)} file(s), {len(report.channels)} channel(s): {totals.new:,} new posts, "
        f"{totals.revised:,} revised, {totals.unchanged:,} already stored"
    )
    if report.skipped_chats:
        output.line(f"skipped {report.skipped_chats} chat(s) that are not channels")
    for problem in report.problems:
        output.note(f"error: {problem}")
    return 1 if report.problems else 0


async def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        result = await search(
            store, ctx.pipeline, " ".join(args.query), channels=args.channel, since=args.since,
            until=args.until, order=args.order, limit=args.limit, zone=output.zone,
        )  # fmt: skip
    if args.json:
        output.json(
            [
                {
                    "channel": hit.post.channel_label,
                    "channel_id": hit.post.channel_id,
                    "message_id": hit.post.message_id,
                    "date": hit.post.date.isoformat(),
                    "url": hit.post.url,
                    "snippet": render_segments(list(hit.snippet)),
                    "text": hit.post.text,
                    "deleted": hit.post.deleted_at is not None,
                }
                for hit in result.hits
            ]
        )
        return 0
    if not result.hits:
        output.line("No posts match.")
        return 0
    for hit in result.hits:
        deleted = "  [deleted]" if hit.post.deleted_at else ""
        output.line(
            f"{hit.post.channel_label}  {output.when(hit.post.date)}  {hit.post.url}{deleted}"
        )
        segments = list(hit.snippet)
        if output.terminal:
            output.styled_line("  " + render_segments(segments, mark=_bold, plain=terminal_safe))
        else:
            output.line("  " + render_segments(segments))
    if result.has_more:
        output.line(f"(more than {args.limit} posts match; use --limit or --order date)")
    return 0


def _bold(text: str) -> str:
    return f"\033[1m{terminal_safe(text)}\033[0m"


async def cmd_channels_list(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        channels = await store.channels()
        stats = {s.channel_id: s for s in await store.channel_stats()}
        health = await health_by_channel(store, ctx.clock.now())
        last_post = max((s.last_post for s in stats.values() if s.last_post), default=None)
        networks = await network_of_channels(store, channels, last_post)
    if args.json:
        output.json(
            [
                {
                    "id": c.id, "username": c.username, "title": c.title, "active": c.active,
                    "added_at": c.added_at.isoformat(), "added_by": c.added_by,
                    "posts": stats[c.id].posts if c.id in stats else 0,
                    "backfill_state": c.backfill_state, "last_error": c.last_error,
                    "health": health_json(health[c.id]),
                    "network": networks.get(c.id),
                }
                for c in channels
            ]
        )  # fmt: skip
        return 0
    if not channels:
        output.line("No channels yet: import an export or add a channel.")
    for c in channels:
        h = health[c.id]
        posts = stats[c.id].posts if c.id in stats else 0
        network = f"  network {networks[c.id]}" if c.id in networks else ""
        output.line(
            f"{c.label:<30} {c.id:>14}  {posts:>8,} posts  {h.posts_per_day:>7,.1f}/day  "
            f"last post {output.when(h.last_post)}  {following(c.active, h.state)}{network}"
        )
    return 0


async def _period(
    store: Store, args: argparse.Namespace, output: Output
) -> tuple[list[int] | None, datetime | None, datetime | None]:

    ids = await resolve_channel_ids(store, args.channel) if args.channel else None
    since = day_start(args.since, output.zone) if args.since else None
    until = day_end(args.until, output.zone) if args.until else None
    return ids, since, until


async def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        ids, since, until = await _period(store, args, output)
        records = store.export_posts(ids, since, until, with_revisions=args.revisions)
        if args.format == "jsonl":
            async for record in records:
                output.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return 0
        columns = [*EXPORT_COLUMNS, *(["revisions"] if args.revisions else [])]
        # RFC 4180 line ends: the writer then also quotes a cell holding a bare "\r", which
        # it would otherwise write as it is, breaking the row for every reader.
        writer = csv.DictWriter(output.out, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        async for record in records:
            for key in ("entities", "reactions_detail", "revisions"):
                if key in record and record[key] is not None:
                    record[key] = json.dumps(record[key], ensure_ascii=False)
            writer.writerow({key: spreadsheet_safe(value) for key, value in record.items()})
    return 0


# A spreadsheet runs a cell that starts with one of these as a formula ("=HYPERLINK(...)" in
# a post would become a live link or worse when the CSV is opened).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that no spreadsheet runs: text starting like a formula gets a leading "'"."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def cmd_verify(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    published: dict[int, list[str]] = {}
    if args.expect is not None:
        try:
            published = published_heads(args.expect.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, PublishedHeadsError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            output.note(f"error: {args.expect} cannot be used: {reason}")
            return 1
    async with await ctx.open_store() as store:
        channels = await store.channels()
        for channel in channels:
            heads = published.pop(channel.id, [])
            broken = await store.verify_channel(channel.id, channel.label, heads)
            if broken is not None:
                output.note(f"ALTERED: {broken.describe()}")
                return 1
        revisions = await store.revision_count()
    if published:
        # A channel deleted whole leaves no chain to break: only a head published before
        # shows that it was there.
        missing = ", ".join(str(channel_id) for channel_id in sorted(published))
        output.note(f"ALTERED: channel id {missing}, whose head {args.expect} holds, "
                    "is no longer in the archive")  # fmt: skip
        return 1
    checked = f", every head in {args.expect} found" if args.expect is not None else ""
    output.line(
        f"OK: {len(channels)} channel(s), {revisions:,} revisions, every hash chain intact{checked}"
    )
    return 0


async def cmd_chain_head(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        ids = await resolve_channel_ids(store, args.channel) if args.channel else None
        heads = await store.chain_heads(ids)
    if args.json:
        output.json(
            [
                {
                    "channel_id": h.channel_id, "channel": h.channel_label, "head": h.head,
                    "revisions": h.revisions, "at": h.at.isoformat() if h.at else None,
                }
                for h in heads
            ]
        )  # fmt: skip
        return 0
    for h in heads:
        head = h.head or "(no revisions yet)"
        output.line(
            f"{h.channel_label} (channel id {h.channel_id}): {head}  "
            f"{h.revisions:,} revisions, the last stored {output.when(h.at)}"
        )
    return 0


async def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    if args.boilerplate is not None:
        return await show_boilerplate(args.boilerplate, args.json, ctx)
    output = ctx.output
    async with await ctx.open_store() as store:
        stats = await store.channel_stats()
        health = await health_by_channel(store, ctx.clock.now())
        last_post = max((s.last_post for s in stats if s.last_post), default=None)
        networks = await network_of_channels(store, await store.channels(), last_post)
    if args.json:
        output.json(
            {
                "channels": [
                    {
                        "channel_id": s.channel_id, "channel": s.label, "posts": s.posts,
                        "first_post": s.first_post.isoformat() if s.first_post else None,
                        "last_post": s.last_post.isoformat() if s.last_post else None,
                        "deleted": s.deleted, "revised": s.revised,
                        "edited_before_read": s.edited_before_read,
                        "health": health_json(health[s.channel_id]),
                        "network": networks.get(s.channel_id),
                    }
                    for s in stats
                ],
                "totals": {
                    "channels": len(stats),
                    "posts": sum(s.posts for s in stats),
                    "deleted": sum(s.deleted for s in stats),
                    "revised": sum(s.revised for s in stats),
                    "edited_before_read": sum(s.edited_before_read for s in stats),
                },
            }
        )  # fmt: skip
        return 0
    output.line(
        f"{'channel':<30} {'posts':>9} {'a day':>7} {'deleted':>8} {'revised':>8} "
        f"{'edited early':>12} {'health':<22} {'network':<16} first post .. last post"
    )
    for s in stats:
        h = health[s.channel_id]
        output.line(
            f"{s.label[:30]:<30} {s.posts:>9,} {h.posts_per_day:>7,.1f} {s.deleted:>8,} "
            f"{s.revised:>8,} {s.edited_before_read:>12,} {h.state:<22} "
            f"{networks.get(s.channel_id, '-')[:16]:<16} "
            f"{output.when(s.first_post)} .. {output.when(s.last_post)}"
        )
    output.line(
        f"{'total':<30} {sum(s.posts for s in stats):>9,} {'':>7} {sum(s.deleted for s in stats):>8,} "
        f"{sum(s.revised for s in stats):>8,} {sum(s.edited_before_read for s in stats):>12,}"
    )
    output.line(
        "revised: edited while archived, every version kept; edited early: edited before the "
        "archive first read them, only the edited text kept; a day: over the last 28 days of "
        "the channel's archive, up to now if followed, else up to its last post"
    )
    return 0


async def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    # Imported here: the demo brings in the bot and the simulated Telegram.
    from monitor.demo import loopback_only, run_demo

    with tempfile.TemporaryDirectory() as folder, loopback_only():
        return await run_demo(ctx.output, Path(folder))

"""The command line: `python bot.py <command>`. Parses arguments, wires dependencies, prints.

Every failure a user can cause ends in one sentence on stderr and a non-zero exit code:
2 for a wrong command line or setting, 1 for anything else that went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from monitor.config import ConfigError, Settings, load_settings
from monitor.importers.service import import_exports
from monitor.models import now_utc
from monitor.progress import ProgressBar
from monitor.search.query import QueryError, parse_date
from monitor.search.service import day_start, resolve_channel_ids, search
from monitor.search.snippet import render_segments
from monitor.store import EXPORT_COLUMNS, Store, StoreError
from monitor.text import TextPipeline

log = logging.getLogger("monitor")

Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


class Output:
    """Where a command prints: results to stdout, messages and progress to stderr."""

    def __init__(self, out: TextIO, err: TextIO, zone: ZoneInfo) -> None:
        self.out = out
        self.err = err
        self.zone = zone

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        print(text, file=self.err)

    def when(self, moment: datetime | None) -> str:
        return "-" if moment is None else moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def json(self, value: Any) -> None:
        print(json.dumps(value, ensure_ascii=False, indent=2), file=self.out)


class Context:
    """What a command needs: settings, output, and the text pipeline, built on first use
    because loading the dictionaries takes a moment some commands do not need."""

    def __init__(self, settings: Settings, output: Output, pipeline: TextPipeline | None = None):
        self.settings = settings
        self.output = output
        self._pipeline = pipeline

    @property
    def pipeline(self) -> TextPipeline:
        if self._pipeline is None:
            self._pipeline = TextPipeline()
        return self._pipeline

    def with_db(self, path: Path) -> Context:
        return Context(self.settings.with_db(path), self.output, self._pipeline)

    async def open_store(self) -> Store:
        return await Store.open(self.settings.db_path)


def _date_arg(key: str) -> Callable[[str], date]:
    def parse(value: str) -> date:
        try:
            return parse_date(key, value)
        except QueryError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value!r}")
    return number


def _username(value: str) -> str:
    from monitor.refs import parse_channel_ref

    try:
        ref = parse_channel_ref(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if ref.username is None:
        raise argparse.ArgumentTypeError(f"expected a username such as @rybar, got {value!r}")
    return ref.username


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH", default=argparse.SUPPRESS,
        help="the archive database (default: DB_PATH or ./data/monitor.db)",
    )  # fmt: skip
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--channel", action="append", default=[], metavar="@NAME",
                        help="only this channel (repeatable)")  # fmt: skip
    period.add_argument("--since", type=_date_arg("--since"), metavar="YYYY-MM-DD")
    period.add_argument("--until", type=_date_arg("--until"), metavar="YYYY-MM-DD",
                        help="inclusive")  # fmt: skip

    parser = argparse.ArgumentParser(
        prog="bot.py", parents=[common],
        description="Telegram channel monitor: archive, search and analysis.",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str, *parents: argparse.ArgumentParser
                ) -> argparse.ArgumentParser:  # fmt: skip
        sub = commands.add_parser(name, parents=[common, *parents], help=help_text,
                                  description=help_text)  # fmt: skip
        sub.set_defaults(handler=handler)
        return sub

    sub = command("import", cmd_import, "import Telegram Desktop exports (result.json or folders)")
    sub.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    sub.add_argument("--username", type=_username, help="the channel's public username")

    sub = command("search", cmd_search, "search the archive in any word form", period)
    sub.add_argument(
        "query", nargs="+", help='words, "phrases", OR, -word, channel:, since:, until:'
    )
    sub.add_argument("--limit", type=_positive, default=20)
    sub.add_argument("--order", choices=("relevance", "date"), default="relevance")
    sub.add_argument("--json", action="store_true", help="print a JSON array")

    channels = commands.add_parser("channels", help="list the archived channels")
    channel_commands = channels.add_subparsers(
        dest="channels_command", required=True, metavar="ACTION"
    )
    sub = channel_commands.add_parser("list", parents=[common], help="list the archived channels")
    sub.set_defaults(handler=cmd_channels_list)
    sub.add_argument("--json", action="store_true")

    sub = command(
        "export", cmd_export, "write posts as CSV or JSON lines to standard output", period
    )
    sub.add_argument("--format", choices=("csv", "jsonl"), required=True)
    sub.add_argument("--revisions", action="store_true", help="add each post's edit history")

    command("verify", cmd_verify, "check every channel's hash chain; non-zero exit if altered")

    sub = command("stats", cmd_stats, "posts per channel, date range, deleted and edited counts")
    sub.add_argument("--json", action="store_true")

    command("demo", cmd_demo, "import the bundled sample into a temporary archive and search it")
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings().with_db(getattr(args, "db", None))
    except ConfigError as error:
        print(f"error: {error}", file=err)
        return 2
    logging.basicConfig(
        level=settings.log_level, stream=err, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    context = Context(settings, Output(out, err, ZoneInfo(settings.timezone)))
    try:
        return int(asyncio.run(args.handler(args, context)))
    except (StoreError, QueryError) as error:
        print(f"error: {error}", file=err)
        return 1
    except KeyboardInterrupt:
        print("interrupted; what was stored so far is kept", file=err)
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away: not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    bar = ProgressBar(output.err, "import")
    async with await ctx.open_store() as store:
        report = await import_exports(
            store, ctx.pipeline, args.paths, clock=now_utc, username=args.username,
            on_progress=bar.update,
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
    bold = output.out.isatty()
    for hit in result.hits:
        deleted = "  [deleted]" if hit.post.deleted_at else ""
        output.line(
            f"{hit.post.channel_label}  {output.when(hit.post.date)}  {hit.post.url}{deleted}"
        )
        mark = (lambda s: f"\033[1m{s}\033[0m") if bold else (lambda s: f"**{s}**")
        output.line("  " + render_segments(list(hit.snippet), mark=mark))
    if result.has_more:
        output.line(f"(more than {args.limit} posts match; use --limit or --order date)")
    return 0


async def cmd_channels_list(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        channels = await store.channels()
        stats = {s.channel_id: s for s in await store.channel_stats()}
    if args.json:
        output.json(
            [
                {
                    "id": c.id, "username": c.username, "title": c.title, "active": c.active,
                    "added_at": c.added_at.isoformat(), "added_by": c.added_by,
                    "posts": stats[c.id].posts if c.id in stats else 0,
                    "backfill_state": c.backfill_state, "last_error": c.last_error,
                }
                for c in channels
            ]
        )  # fmt: skip
        return 0
    if not channels:
        output.line("No channels yet: import an export or add a channel.")
    for c in channels:
        following = "following" if c.active else "archive only"
        posts = stats[c.id].posts if c.id in stats else 0
        output.line(f"{c.label:<30} {c.id:>14}  {posts:>8,} posts  {following}")
    return 0


async def _period(
    store: Store, args: argparse.Namespace, output: Output
) -> tuple[list[int] | None, datetime | None, datetime | None]:
    from datetime import timedelta

    ids = await resolve_channel_ids(store, args.channel) if args.channel else None
    since = day_start(args.since, output.zone) if args.since else None
    until = day_start(args.until + timedelta(days=1), output.zone) if args.until else None
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
        writer = csv.DictWriter(output.out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        async for record in records:
            for key in ("entities", "reactions_detail", "revisions"):
                if key in record and record[key] is not None:
                    record[key] = json.dumps(record[key], ensure_ascii=False)
            writer.writerow(record)
    return 0


async def cmd_verify(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        channels = await store.channels()
        for channel in channels:
            broken = await store.verify_channel(channel.id, channel.label)
            if broken is not None:
                output.note(f"ALTERED: {broken.describe()}")
                return 1
        revisions = await store.revision_count()
    output.line(f"OK: {len(channels)} channel(s), {revisions:,} revisions, every hash chain intact")
    return 0


async def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    async with await ctx.open_store() as store:
        stats = await store.channel_stats()
    if args.json:
        output.json(
            {
                "channels": [
                    {
                        "channel_id": s.channel_id, "channel": s.label, "posts": s.posts,
                        "first_post": s.first_post.isoformat() if s.first_post else None,
                        "last_post": s.last_post.isoformat() if s.last_post else None,
                        "deleted": s.deleted, "revised": s.revised,
                    }
                    for s in stats
                ],
                "totals": {
                    "channels": len(stats),
                    "posts": sum(s.posts for s in stats),
                    "deleted": sum(s.deleted for s in stats),
                    "revised": sum(s.revised for s in stats),
                },
            }
        )  # fmt: skip
        return 0
    output.line(
        f"{'channel':<30} {'posts':>9} {'deleted':>8} {'edited':>7}  first post .. last post"
    )
    for s in stats:
        output.line(
            f"{s.label[:30]:<30} {s.posts:>9,} {s.deleted:>8,} {s.revised:>7,}  "
            f"{output.when(s.first_post)} .. {output.when(s.last_post)}"
        )
    output.line(f"{'total':<30} {sum(s.posts for s in stats):>9,}")
    return 0


async def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    output = ctx.output
    sample = resources.files("monitor.sample").joinpath("sample_export.json")
    with tempfile.TemporaryDirectory() as folder, resources.as_file(sample) as sample_path:
        demo = ctx.with_db(Path(getattr(args, "db", None) or Path(folder) / "demo.db"))
        output.line(f"$ python bot.py import {sample_path.name}")
        import_args = argparse.Namespace(paths=[sample_path], username=None)
        await cmd_import(import_args, demo)
        for query in ("Трамп", '"мирные переговоры"', "санкции -Брюссель"):
            output.line(f"\n$ python bot.py search '{query}'")
            search_args = argparse.Namespace(
                query=[query], channel=[], since=None, until=None, limit=5, order="date", json=False
            )
            await cmd_search(search_args, demo)
        output.line("\n$ python bot.py stats")
        await cmd_stats(argparse.Namespace(json=False), demo)
        output.line("\n$ python bot.py verify")
        return await cmd_verify(argparse.Namespace(), demo)

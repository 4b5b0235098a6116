"""The command line: `python bot.py <command>`. Parses arguments, wires dependencies, hands
over to the command. Every failure a user can cause ends in one sentence on stderr and a
non-zero exit code: 2 for a wrong command line or setting, 1 for anything else."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from monitor.cli.analysis import (
    cmd_digest,
    cmd_rescore,
    cmd_sentiment,
    cmd_watch_add,
    cmd_watch_list,
    cmd_watch_remove,
)
from monitor.cli.archive import (
    cmd_chain_head,
    cmd_channels_list,
    cmd_demo,
    cmd_export,
    cmd_import,
    cmd_search,
    cmd_stats,
    cmd_verify,
)
from monitor.cli.collect import cmd_channels_add, cmd_channels_remove, cmd_login, cmd_run
from monitor.cli.context import Context, Output
from monitor.clock import Clock
from monitor.config import ConfigError, load_settings
from monitor.logs import configure_logging
from monitor.quoting import quoted
from monitor.refs import parse_channel_ref
from monitor.search.query import QueryError, parse_date
from monitor.sentiment.service import SentimentSetupError
from monitor.store import StoreError
from monitor.telegram.session import ClientFactory, SessionError
from monitor.watch import WatchError

Handler = Callable[[argparse.Namespace, Context], Awaitable[int]]


def _date_arg(key: str) -> Callable[[str], date]:
    def parse(value: str) -> date:
        try:
            return parse_date(key, value)
        except QueryError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {quoted(value)}"
            ) from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {quoted(value)}")
        if maximum is not None and number > maximum:
            raise argparse.ArgumentTypeError(f"expected {maximum:,} or less, got {quoted(value)}")
        return number

    return parse


def _username(value: str) -> str:
    try:
        ref = parse_channel_ref(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if ref.username is None:
        raise argparse.ArgumentTypeError(f"expected a username such as @rybar, got {quoted(value)}")
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
    # SQLite takes a LIMIT up to 2**63 - 1; a billion already means "every match".
    sub.add_argument("--limit", type=_whole_number(1, 10**9), default=20)
    sub.add_argument("--order", choices=("relevance", "date"), default="relevance")
    sub.add_argument("--json", action="store_true", help="print a JSON array")

    channels = commands.add_parser("channels", help="list, add (follow) and remove channels")
    channel_commands = channels.add_subparsers(
        dest="channels_command", required=True, metavar="ACTION"
    )
    sub = channel_commands.add_parser("list", parents=[common], help="list the archived channels")
    sub.set_defaults(handler=cmd_channels_list)
    sub.add_argument("--json", action="store_true")
    sub = channel_commands.add_parser(
        "add", parents=[common], help="follow channels: join, read their history, keep them current"
    )
    sub.set_defaults(handler=cmd_channels_add)
    sub.add_argument(
        "refs", nargs="+", metavar="REF", help="@name, t.me/name, a post link or an id"
    )
    sub.add_argument("--days", type=_whole_number(0), metavar="N",
                     help="days of history to read (default BACKFILL_DAYS; 0 reads all)")  # fmt: skip
    sub = channel_commands.add_parser(
        "remove", parents=[common], help="stop following a channel; its archive is kept"
    )
    sub.set_defaults(handler=cmd_channels_remove)
    sub.add_argument("ref", metavar="REF")

    sub = command(
        "export", cmd_export, "write posts as CSV or JSON lines to standard output", period
    )
    sub.add_argument("--format", choices=("csv", "jsonl"), required=True)
    sub.add_argument("--revisions", action="store_true", help="add each post's edit history")

    sub = command(
        "verify", cmd_verify, "check every channel's hash chain; non-zero exit if altered"
    )
    sub.add_argument("--expect", type=Path, metavar="FILE",
                     help="heads printed earlier by chain-head --json, each must still be in its chain")  # fmt: skip

    sub = command(
        "chain-head", cmd_chain_head,
        "each channel's latest hash, revision count and time, to publish for verify --expect",
    )  # fmt: skip
    sub.add_argument("--channel", action="append", default=[], metavar="@NAME",
                     help="only this channel (repeatable)")  # fmt: skip
    sub.add_argument("--json", action="store_true")

    sub = command("stats", cmd_stats, "posts per channel, date range, deleted and edited counts")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--boilerplate", metavar="@NAME",
                     help="instead: the lines and phrases learned as this channel's boilerplate")  # fmt: skip

    sub = command(
        "sentiment", cmd_sentiment, "score texts, one a line, as JSON lines of label and score"
    )
    sub.add_argument("file", nargs="?", metavar="FILE|-", help="default: standard input")
    sub.add_argument("--target", metavar="TERM", help="score only what is said around this term")
    sub.add_argument(
        "--jsonl", action="store_true", help='input lines are {"text": ..., "target": ...}'
    )
    command("rescore", cmd_rescore, "score every stored post again (after changing the lexicon)")

    sub = command(
        "digest", cmd_digest, "the digest of a day or a period: spikes, shifts, campaigns ..."
    )
    sub.add_argument("--date", type=_date_arg("--date"), metavar="YYYY-MM-DD")
    sub.add_argument("--since", type=_date_arg("--since"), metavar="YYYY-MM-DD")
    sub.add_argument("--until", type=_date_arg("--until"), metavar="YYYY-MM-DD", help="inclusive")
    sub.add_argument("--json", action="store_true")

    watch = commands.add_parser("watch", help="watch terms: add, remove, list")
    watch_commands = watch.add_subparsers(dest="watch_command", required=True, metavar="ACTION")
    sub = watch_commands.add_parser("add", parents=[common], help="watch a term in every form")
    sub.set_defaults(handler=cmd_watch_add)
    sub.add_argument("term", metavar="TERM", help='a word or a phrase, e.g. "мирные переговоры"')
    sub.add_argument("--alias", action="append", default=[], metavar="A",
                     help="another name counted as the term (repeatable)")  # fmt: skip
    sub.add_argument("--channel", metavar="@NAME", help="only in this channel")
    sub = watch_commands.add_parser("remove", parents=[common], help="stop watching a term")
    sub.set_defaults(handler=cmd_watch_remove)
    sub.add_argument("term", metavar="TERM")
    sub.add_argument("--channel", metavar="@NAME")
    sub = watch_commands.add_parser("list", parents=[common], help="the watched terms")
    sub.set_defaults(handler=cmd_watch_list)
    sub.add_argument("--json", action="store_true")

    sub = command("login", cmd_login, "sign in the user account (or the bot, with --bot)")
    sub.add_argument("--bot", action="store_true", help="sign in the bot with TG_BOT_TOKEN")
    command("run", cmd_run, "follow the channels: live updates, catch-up, sweeps, metrics")
    command("demo", cmd_demo, "import the bundled sample into a temporary archive and search it")
    return parser


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    client_factory: ClientFactory | None = None,
    clock: Clock | None = None,
) -> int:
    """Run one command. Tests and `demo` pass a client factory and clock of the sandbox."""
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings().with_db(getattr(args, "db", None))
    except ConfigError as error:
        print(f"error: {error}", file=err)
        return 2
    configure_logging(settings, err)
    context = Context(
        settings, Output(out, err, ZoneInfo(settings.timezone)), client_factory, clock
    )
    try:
        return int(asyncio.run(args.handler(args, context)))
    except (StoreError, QueryError, SessionError, SentimentSetupError, WatchError) as error:
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

"""Commands that talk to Telegram: login, channels add/remove, run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telethon import TelegramClient

from monitor.bot.service import BotService
from monitor.cli.context import Context
from monitor.progress import ProgressBar
from monitor.scheduler import add_bot_jobs, add_collector_jobs, digest_job, startup_job
from monitor.store import Store
from monitor.telegram.collector import ChannelError, Collector
from monitor.telegram.session import (
    Kind,
    exclusive,
    login_bot,
    login_user,
    make_client,
    require_login,
    secure_session_files,
    session_file,
)

log = logging.getLogger(__name__)


def _client(ctx: Context, kind: Kind) -> TelegramClient:
    factory = ctx.client_factory
    if factory is None:
        return make_client(ctx.settings, kind)
    return make_client(ctx.settings, kind, factory)


async def cmd_login(args: argparse.Namespace, ctx: Context) -> int:
    kind: Kind = "bot" if args.bot else "user"
    with exclusive(ctx.settings, kind):
        client = _client(ctx, kind)
        try:
            if args.bot:
                name = await login_bot(client, ctx.settings.bot_token)
            else:
                name = await login_user(client, ask=input, ask_secret=getpass.getpass)
        finally:
            await client.disconnect()
            secure_session_files(ctx.settings)
    where = (
        "TG_SESSION"
        if kind == "user" and ctx.settings.session_string
        else session_file(ctx.settings, kind)
    )
    ctx.output.line(f"Signed in as {name}; the session is kept in {where} (readable by you only).")
    return 0


def _collector(ctx: Context, client: TelegramClient, store: Store) -> Collector:
    return Collector(
        client, store, ctx.pipeline, ctx.clock,
        backfill_days=ctx.settings.backfill_days, scorer=ctx.scorer,
    )  # fmt: skip


async def cmd_channels_add(args: argparse.Namespace, ctx: Context) -> int:
    failures = 0
    with exclusive(ctx.settings, "user"):
        client = _client(ctx, "user")
        await require_login(client, "user")
        try:
            async with await ctx.open_store() as store:
                collector = _collector(ctx, client, store)
                for ref in args.refs:
                    try:
                        added = await collector.add(ref, args.days)
                    except ChannelError as error:
                        ctx.output.note(f"error: {error}")
                        failures += 1
                        continue
                    channel = added.channel
                    ctx.output.line(
                        f"Following {channel.label} ({channel.title}); reading its history..."
                    )
                    bar = ProgressBar(ctx.output.err, channel.label)
                    try:
                        read = await collector.backfill(channel, on_progress=bar.posts)
                    except ChannelError as error:
                        bar.finish()
                        ctx.output.note(f"error: {error}")
                        failures += 1
                        continue
                    bar.finish()
                    ctx.output.line(f"{channel.label}: {read:,} posts stored.")
        finally:
            await client.disconnect()
            secure_session_files(ctx.settings)
    return 1 if failures else 0


async def cmd_channels_remove(args: argparse.Namespace, ctx: Context) -> int:
    with exclusive(ctx.settings, "user"):
        client = _client(ctx, "user")
        await require_login(client, "user")
        try:
            async with await ctx.open_store() as store:
                try:
                    channel = await _collector(ctx, client, store).remove(args.ref)
                except ChannelError as error:
                    ctx.output.note(f"error: {error}")
                    return 1
        finally:
            await client.disconnect()
            secure_session_files(ctx.settings)
    ctx.output.line(f"Stopped following {channel.label}; its archive is kept.")
    return 0


async def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    """The long-running service: the collector (live updates, catch-up passes, sweeps and
    metrics) and, with TG_BOT_TOKEN set, the bot (commands, digests, alerts), until SIGINT or
    SIGTERM, then a clean stop (the write in hand finishes, the database closes)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    with contextlib.ExitStack() as locks:
        locks.enter_context(exclusive(ctx.settings, "user"))
        client = _client(ctx, "user")
        await require_login(client, "user")
        bot_client = None
        if ctx.settings.bot_token:
            locks.enter_context(exclusive(ctx.settings, "bot"))
            bot_client = _client(ctx, "bot")
            await login_bot(bot_client, ctx.settings.bot_token)  # the token needs no prompt
        scheduler = AsyncIOScheduler()
        started: list[asyncio.Task[None]] = []
        bot: BotService | None = None
        try:
            async with await ctx.open_store() as store:
                collector = _collector(ctx, client, store)
                collector.install_handlers()
                channels = await collector.load()
                add_collector_jobs(scheduler, collector, ctx.settings)
                started.append(asyncio.create_task(startup_job(collector)))
                if bot_client is not None:
                    bot = BotService(bot_client, store, ctx.settings, ctx.pipeline, ctx.scorer,
                                     ctx.clock, collector)  # fmt: skip
                    await bot.start()
                    add_bot_jobs(scheduler, bot)
                    # Digests missed while the service was down go out now.
                    started.append(asyncio.create_task(digest_job(bot)))
                scheduler.start()
                with_bot = " and the bot" if bot else " (no TG_BOT_TOKEN: no bot)"
                ctx.output.line(
                    f"Following {len(channels)} channel(s){with_bot}. Stop with Ctrl-C."
                )
                await stop.wait()
                log.info("stopping")
                scheduler.shutdown(wait=False)
                for task in started:
                    task.cancel()
                await asyncio.gather(*started, return_exceptions=True)
                if bot is not None:
                    await bot.stop()
        finally:
            await client.disconnect()
            if bot_client is not None:
                await bot_client.disconnect()
            secure_session_files(ctx.settings)
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    ctx.output.line("Stopped.")
    return 0

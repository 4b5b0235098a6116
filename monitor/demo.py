"""`python bot.py demo`: the real collector, analysis, scheduler jobs and bot against the
simulated Telegram, seeded with the demo's invented channels, printing what a subscriber
received. Nothing leaves the machine: the simulated Telegram runs in this process, and any
connection beyond loopback is refused while the demo runs."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telethon.sessions import StringSession

from monitor.bot.service import BotService
from monitor.cli.context import Output
from monitor.clock import ManualClock
from monitor.config import Settings
from monitor.sample.demo_posts import CHANNELS, demo_posts
from monitor.scheduler import alert_job, digest_job
from monitor.sentiment.service import load_scorer
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.pacing import Pacer
from monitor.telegram.sandbox import SandboxClient, SimUser, World, signed_in_session
from monitor.text import TextPipeline

# 07:00 in Berlin on the morning after the planted day: an hour before the digest.
START = datetime(2024, 11, 20, 6, 0, tzinfo=UTC)


class NetworkRefused(OSError):
    """The demo tried to reach beyond this machine."""


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse every socket connection that does not stay on this machine."""
    original = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                allowed = ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = host == "localhost"
            if not allowed:
                raise NetworkRefused(f"the demo does not connect to {host}")
        original(sock, address)

    setattr(socket.socket, "connect", connect)  # noqa: B010 (mypy rejects the assignment)
    try:
        yield
    finally:
        setattr(socket.socket, "connect", original)  # noqa: B010


class _Transcript:
    """Prints what people write to the bot and, once each, what the bot sent them."""

    def __init__(self, output: Output, world: World, client: SandboxClient) -> None:
        self.output = output
        self.world = world
        self.client = client
        self.shown: dict[int, int] = {}  # user id: how many of the bot's messages were printed

    async def say(self, user: SimUser, text: str) -> None:
        """`user` writes to the bot privately; print both sides."""
        self.output.line(f"\n{user.first_name} → bot: {text}")
        self.world.user_sends(user, None, text)
        await self.client.settle()
        self.show(user)

    def show(self, user: SimUser) -> None:
        """What the bot sent `user` that was not printed yet (replies that arrive later, such
        as the end of a backfill, are printed by the next call)."""
        outbox = self.world.outbox(user)
        for message in outbox[self.shown.get(user.id, 0) :]:
            if message.file is not None:
                self.output.line(f"bot → {user.first_name}: [picture] {message.text}")
            else:
                self.output.line(f"bot → {user.first_name}:\n{_indent(message.text)}")
        self.shown[user.id] = len(outbox)


def _image_type(data: bytes) -> str:
    """The file name extension that `data` is, by its first bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    return "bin"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


async def run_demo(output: Output, folder: Path) -> int:
    clock = ManualClock(START)
    world = World(clock)
    channels = {name: world.add_channel(title, name, created=START - timedelta(days=400))
                for name, title in CHANNELS}  # fmt: skip
    posted = {}
    for post in demo_posts(START - timedelta(hours=6)):
        message = world.post(channels[post.channel], post.text, date=post.date, views=post.views)
        posted[(post.channel, post.text)] = message
    admin = world.add_user("Ada", "ada_admin")
    analyst = world.add_user("Olga", "olga_analyst")
    settings = Settings(
        db_path=folder / "demo.db", data_dir=folder, admin_ids=frozenset({admin.id}),
        backfill_days=45, timezone="Europe/Berlin",
    )  # fmt: skip
    pipeline = TextPipeline()
    scorer = load_scorer(pipeline, settings)
    user = SandboxClient(StringSession(signed_in_session(world)), world)
    bot_client = SandboxClient(StringSession(), world)
    await user.connect()
    await bot_client.start(bot_token=world.bot_token)
    try:
        async with await Store.open(settings.db_path) as store:
            pacer = Pacer(clock, {"history": 0.2, "messages": 0.2, "resolve": 1, "join": 1})
            collector = Collector(user, store, pipeline, clock, pacer=pacer, backfill_days=45,
                                  scorer=scorer)  # fmt: skip
            collector.install_handlers()
            bot = BotService(bot_client, store, settings, pipeline, scorer, clock, collector)
            await bot.start()
            talk = _Transcript(output, world, bot_client)
            output.line("A simulated Telegram with four invented channels; the real collector,")
            output.line("analysis and bot run against it. Nothing leaves this machine.")
            for name in channels:
                await talk.say(admin, f"/add @{name} 40")
            await bot.wait_for_background()
            await bot_client.settle()
            talk.show(admin)
            await talk.say(admin, "/watch Трамп Trump")
            await talk.say(admin, f"/allow {analyst.id}")
            await talk.say(analyst, "/subscribe 08:00 Europe/Berlin")
            await talk.say(analyst, "/alerts on")
            await talk.say(analyst, "/search Трамп санкции")

            # Overnight: a post is edited and another deleted, seen live by the collector.
            notes = channels["frontline_notes"]
            scorn = next(
                m for (c, _), m in posted.items() if c == "frontline_notes" and "лжецом" in m.text
            )
            world.edit(notes, scorn.id, scorn.text + " Поправка: речь о вчерашнем заявлении.")
            routine = next(m for (c, _), m in posted.items() if c == "svodka_dnya")
            world.delete(channels["svodka_dnya"], [routine.id])
            await user.settle()

            await talk.say(analyst, "/trend Трамп 30")
            chart = next(m for m in reversed(world.outbox(analyst)) if m.file is not None)
            assert chart.file is not None
            # Telethon sends a chart as a photo, which may reach Telegram as a JPEG.
            chart_path = folder.parent / f"demo-trend.{_image_type(chart.file.data)}"
            chart_path.write_bytes(chart.file.data)
            output.line(f"(the chart is saved at {chart_path})")

            clock.advance(3_600)  # 08:00 in Berlin: the scheduler's jobs run
            output.line("\n[scheduler] 08:00 Europe/Berlin: digest and alert jobs")
            await digest_job(bot)
            await alert_job(bot)
            await bot_client.settle()
            talk.show(analyst)
            await bot.stop()
    finally:
        await user.disconnect()
        await bot_client.disconnect()
    return 0

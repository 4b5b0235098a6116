"""Shared fixtures. Sockets beyond loopback are refused for the whole suite by pytest-socket
(`--allow-hosts` in pyproject.toml), so a test that would reach Telegram fails instead."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.models import ChannelInfo, Post
from monitor.store import Store
from monitor.text import TextPipeline

T0 = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def pipeline() -> TextPipeline:
    return TextPipeline()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "archive.db") as opened:
        yield opened


@pytest.fixture
async def channel(store: Store, clock: Clock) -> ChannelInfo:
    info = ChannelInfo(id=1001, title="Тестовый канал", username="testchan")
    await store.save_channel(info, "test", clock())
    return info


def make_post(message_id: int, text: str = "", channel_id: int = 1001, **fields: Any) -> Post:
    fields.setdefault("date", T0 + timedelta(minutes=message_id))
    return Post(channel_id=channel_id, message_id=message_id, text=text, **fields)


def export_message(
    message_id: int, text: Any = "", when: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    """A message as Telegram Desktop writes it."""
    moment = when or T0 + timedelta(minutes=message_id)
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "date": moment.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(moment.timestamp())),
        "from": "Тестовый канал",
        "from_id": "channel1001",
        "text": text,
    }
    message.update(extra)
    return message


def channel_export(messages: list[dict[str, Any]], chat_id: int = 1001, name: str = "Тестовый канал",
                   chat_type: str = "public_channel") -> dict[str, Any]:  # fmt: skip
    return {"name": name, "type": chat_type, "id": chat_id, "messages": messages}


WriteExport = Callable[..., Path]


@pytest.fixture
def write_export(tmp_path: Path) -> WriteExport:
    """Write an export object as result.json in a folder of its own; returns the file."""
    counter = iter(range(1_000_000))

    def write(export: Any, name: str = "result.json") -> Path:
        folder = tmp_path / f"export{next(counter)}"
        folder.mkdir()
        path = folder / name
        path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
        return path

    return write


# ---- the simulated Telegram -------------------------------------------------------------------

from monitor.clock import ManualClock  # noqa: E402
from monitor.telegram.collector import Collector  # noqa: E402
from monitor.telegram.pacing import Pacer  # noqa: E402
from monitor.telegram.sandbox import SandboxClient, SimUser, World, signed_in_session  # noqa: E402

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def world(manual_clock: ManualClock) -> World:
    return World(manual_clock)


async def connect_client(world: World) -> SandboxClient:
    from telethon.sessions import StringSession

    client = SandboxClient(StringSession(signed_in_session(world)), world)
    await client.connect()
    return client


@pytest.fixture
async def tg(world: World) -> AsyncIterator[SandboxClient]:
    client = await connect_client(world)
    yield client
    await client.disconnect()


def make_collector(tg: SandboxClient, store: Store, pipeline: TextPipeline, clock: ManualClock,
                   **options: Any) -> Collector:  # fmt: skip
    options.setdefault(
        "pacer", Pacer(clock, {"history": 0.5, "messages": 0.5, "resolve": 1, "join": 1})
    )
    options.setdefault("backfill_days", 0)
    return Collector(tg, store, pipeline, clock, **options)


@pytest.fixture
def collector(
    tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: ManualClock
) -> Collector:
    return make_collector(tg, store, pipeline, manual_clock)


def fill(world: World, channel: Any, count: int, every: timedelta = timedelta(hours=1),
         text: str = "Сводка номер {i}: обстрелы продолжаются") -> None:  # fmt: skip
    """`count` posts ending now, one each `every`."""
    start = world.clock.now() - every * count
    for i in range(count):
        world.post(channel, text.format(i=i), date=start + every * i)


async def stored_view(store: Store, channel_id: int) -> dict[int, tuple[str, bool]]:
    """The archive of one channel: message id -> (current text, deleted)."""
    return {
        r["message_id"]: (r["text"], r["deleted_at"] is not None)
        async for r in store.export_posts([channel_id])
    }


def world_view(world: World, channel_id: int) -> dict[int, str]:
    """What Telegram shows of one channel now: message id -> text."""
    return {m.id: m.text for m in world.channels[channel_id].messages.values() if not m.service}


def after_pages(monkeypatch: pytest.MonkeyPatch, channel_id: int, pages: int,
                action: Callable[[], None]) -> None:  # fmt: skip
    """Call `action` once, as soon as the `pages`-th batch of the channel's posts is stored
    (a collector stores each page of history as one batch): to strike mid-backfill."""
    stored = 0
    store_posts = Store.store_posts

    async def store_then_act(self: Store, batch_channel_id: int, *args: Any, **kwargs: Any) -> Any:
        nonlocal stored
        counts = await store_posts(self, batch_channel_id, *args, **kwargs)
        stored += batch_channel_id == channel_id
        if stored == pages and batch_channel_id == channel_id:
            action()
        return counts

    monkeypatch.setattr(Store, "store_posts", store_then_act)


async def connect_bot(world: World, session: Any = None) -> SandboxClient:
    """A bot client signed in with the world's bot token, as `login --bot` signs in."""
    from telethon.sessions import StringSession

    client = SandboxClient(StringSession() if session is None else session, world)
    await client.start(bot_token=world.bot_token)
    return client


@pytest.fixture
def people(world: World) -> dict[str, SimUser]:
    """Who talks to the bot in its tests: Ada is its admin (as the tests make her)."""
    return {
        "admin": world.add_user("Ada", "ada_admin"),
        "reader": world.add_user("Rita", "rita"),
        "stranger": world.add_user("Stan", "stan"),
    }


@pytest.fixture
async def bot_client(world: World) -> AsyncIterator[SandboxClient]:
    client = await connect_bot(world)
    yield client
    await client.disconnect()


# ---- the command line against the simulated Telegram -------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env or settings of the developer's leak into a command line test."""
    monkeypatch.chdir(tmp_path)
    for name in ("DB_PATH", "DATA_DIR", "TIMEZONE", "TG_API_ID", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder and the settings the Telegram commands need; returns DATA_DIR."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TG_API_ID", "12345")
    monkeypatch.setenv("TG_API_HASH", "0123456789abcdef0123456789abcdef")
    for name in ("DB_PATH", "TG_SESSION", "TG_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


def run_cli(
    world: World | None, *argv: str | Path, out: io.StringIO | None = None
) -> tuple[int, str, str]:
    """`python bot.py ARGV` in this process, its Telegram being `world` (or none), printing
    to `out` (a terminal's stand-in, say)."""
    from monitor.cli import main
    from monitor.telegram.sandbox import client_factory

    out, err = out or io.StringIO(), io.StringIO()
    factory, clock = (None, None) if world is None else (client_factory(world), world.clock)
    code = main(list(map(str, argv)), out=out, err=err, client_factory=factory, clock=clock)
    return code, out.getvalue(), err.getvalue()

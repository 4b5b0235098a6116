"""Collector figures on the real clock, against the simulated Telegram in this process:
the backfill rate reached when Telegram permits R history requests a second (the ceiling is
R x 100 messages a second), and the latency from a live update to the post stored and
analysed."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from telethon.sessions import StringSession

from bench.corpus import CorpusGenerator
from monitor.clock import SystemClock
from monitor.models import Post
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.pacing import Pacer
from monitor.telegram.sandbox import SandboxClient, World, signed_in_session
from monitor.text import TextPipeline


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _setup(
    folder: Path, world: World, pacer_rate: float | None
) -> tuple[SandboxClient, Store, Collector]:
    """A collector on `world`; its history pacing set to `pacer_rate`, or its defaults."""
    client = SandboxClient(StringSession(signed_in_session(world)), world)
    await client.connect()
    store = await Store.open(folder / "collector.db")
    pacer = Pacer(world.clock)
    if pacer_rate is not None:
        pacer.intervals.update(history=1 / pacer_rate, resolve=0, join=0)
    collector = Collector(client, store, TextPipeline(), world.clock, pacer=pacer, backfill_days=0)
    return client, store, collector


async def backfill_rate(
    permitted: float, posts: int, paced_at: float | None, seed: int = 7
) -> dict[str, Any]:
    world = World(SystemClock(), seed)
    world.policy.per_second["GetHistoryRequest"] = permitted
    channel = world.add_channel("Бенчмарк", "bench_backfill")
    generator = CorpusGenerator(seed)
    for post in generator.posts(posts, 1, 30, world.clock.now()):
        world.post(channel, post.text, date=post.date)
    with tempfile.TemporaryDirectory() as folder:
        client, store, collector = await _setup(Path(folder), world, paced_at)
        try:
            added = await collector.add("@bench_backfill")
            started = time.perf_counter()
            read = await collector.backfill(added.channel)
            elapsed = time.perf_counter() - started
        finally:
            await client.disconnect()
            await store.close()
    ceiling = permitted * 100
    return {
        "permitted_requests_per_s": permitted,
        "pacing": "default" if paced_at is None else f"{paced_at} requests/s",
        "ceiling_posts_per_s": ceiling,
        "posts": read,
        "seconds": round(elapsed, 2),
        "posts_per_s": round(read / elapsed, 1),
        "share_of_ceiling": round(read / elapsed / ceiling, 3),
        "flood_waits": len(world.policy.flood_waits),
    }


async def live_latency(updates: int, seed: int = 7) -> dict[str, Any]:
    world = World(SystemClock(), seed)
    channel = world.add_channel("Бенчмарк", "bench_live")
    texts = [p.text for p in CorpusGenerator(seed).posts(updates, 1, 1, world.clock.now())]
    with tempfile.TemporaryDirectory() as folder:
        client, store, collector = await _setup(Path(folder), world, 100)
        stored_at: dict[int, float] = {}
        store_live = collector.store_live

        async def timed(channel_id: int, posts: list[Post]) -> None:
            await store_live(channel_id, posts)
            for post in posts:
                stored_at[post.message_id] = time.perf_counter()

        collector.store_live = timed  # type: ignore[method-assign]
        try:
            await collector.add("@bench_live")
            collector.install_handlers()
            latencies = []
            for text in texts:
                sent = time.perf_counter()
                message = world.post(channel, text)
                await client.settle()
                latencies.append((stored_at[message.id] - sent) * 1000)
        finally:
            await client.disconnect()
            await store.close()
    return {
        "updates": updates,
        "p50_ms": round(_percentile(latencies, 0.5), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


def main() -> None:
    print(asyncio.run(backfill_rate(1, 2000, None)))
    print(asyncio.run(backfill_rate(5, 5000, 5)))
    print(asyncio.run(live_latency(500)))


if __name__ == "__main__":
    main()

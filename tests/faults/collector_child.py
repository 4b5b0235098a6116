"""`python -m tests.faults.collector_child DB --seed N [--stop-at-page P]`: `python bot.py run`
against a simulated Telegram, for the fault tests that kill it.

`run` dials Telegram, so this stands in for it: it builds a world from the seed alone (the
demo's channels, several weeks of their posts, edits, deletions, albums, replies, views and
reactions), so a restarted child meets exactly the world the killed one left; follows every
channel the archive does not follow yet, without reading it (as a `channels add` stopped right
after joining leaves it); then runs the real `run` command, whose catch-up reads every channel
from its high-water mark: the backfill the tests kill. With --stop-at-page it stops itself
(SIGSTOP) as it asks for that history page, for the test to kill it at an exact moment. It
ends on SIGTERM, like `run`, printing how many history pages it asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telethon.sessions import StringSession

from monitor.cli import main
from monitor.clock import ManualClock
from monitor.sample.demo_posts import CHANNELS, demo_posts
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import SandboxClient, World, client_factory, signed_in_session
from monitor.text import TextPipeline

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
WEEKS_OF_POSTS = 5  # what one demo_posts() call spans


def build_world(seed: int, rounds: int) -> World:
    """The same seed and rounds give the same channels, ids, texts, edits and deletions."""
    world = World(ManualClock(NOW), seed=seed)
    rng = random.Random(seed)
    channels = {name: world.add_channel(title, name) for name, title in CHANNELS}
    # Oldest round first: a channel's message ids rise with its post dates, as on Telegram.
    for back in reversed(range(rounds)):
        end = NOW - timedelta(weeks=WEEKS_OF_POSTS * back)
        for post in demo_posts(end, seed=seed * 1000 + back):
            channel = channels[post.channel]
            replying = channel.next_id > 1 and rng.random() < 0.1
            reply_to = rng.randrange(1, channel.next_id) if replying else None
            reactions = {"🔥": rng.randrange(1, 500)} if rng.random() < 0.3 else {}
            world.post(channel, post.text, date=post.date, views=post.views,
                       reactions=reactions, reply_to=reply_to)  # fmt: skip
            if rng.random() < 0.02:
                world.album(channel, [f"{post.text} (фото {i})" for i in range(1, 4)])
    for channel in channels.values():
        ids = sorted(channel.messages)
        for message_id in rng.sample(ids, len(ids) // 20):
            world.edit(channel, message_id, channel.messages[message_id].text + " UPD: уточнение.")
        world.delete(channel, rng.sample(ids, len(ids) // 30))
    return world


async def follow_all(world: World, db: Path) -> None:
    """Join and follow every channel not followed yet, reading none of its history."""
    client = SandboxClient(StringSession(signed_in_session(world)), world)
    await client.connect()
    try:
        async with await Store.open(db) as store:
            collector = Collector(client, store, TextPipeline(), world.clock, backfill_days=0)
            followed = {channel.id for channel in await store.following()}
            for channel in world.channels.values():
                if channel.id not in followed:
                    await collector.add(f"@{channel.username}")
    finally:
        await client.disconnect()


def stop_at_page(world: World, page: int) -> Callable[[], int]:
    """Stop this process (SIGSTOP) as it asks for history page `page` (0: never), for the
    test to kill it there; returns a function telling how many pages were asked for."""
    asked = 0

    def on_request(name: str) -> None:
        nonlocal asked
        asked += name == "GetHistoryRequest"
        if name == "GetHistoryRequest" and asked == page:
            os.kill(os.getpid(), signal.SIGSTOP)

    world.on_request = on_request
    return lambda: asked


def run(db: Path, seed: int, rounds: int, stop_page: int) -> int:
    world = build_world(seed, rounds)
    asyncio.run(follow_all(world, db))
    pages = stop_at_page(world, stop_page)
    # What `run` reads from the environment; the test gives a clean one without Telegram's.
    os.environ.update(
        TG_API_ID="12345",
        TG_API_HASH="0123456789abcdef0123456789abcdef",
        TG_SESSION=signed_in_session(world),
        DATA_DIR=str(db.parent),
    )
    code = main(["run", "--db", str(db)], client_factory=client_factory(world), clock=world.clock)
    print(f"history pages: {pages()}")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="five weeks of posts each")
    parser.add_argument("--stop-at-page", type=int, default=0, metavar="N",
                        help="SIGSTOP itself as it asks for history page N, to be killed")  # fmt: skip
    args = parser.parse_args()
    sys.exit(run(args.db, args.seed, args.rounds, args.stop_at_page))

"""Telegram misbehaving while the collector works, on the simulated Telegram's clock: a network
that keeps dropping while channels post, edit and delete; a storm of flood waits over four
request types, and one too long to sit out; a channel deleted in the middle of its backfill."""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.scheduler import catch_up_job, metrics_job, sweep_job
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.pacing import Pacer
from monitor.telegram.sandbox import (
    SandboxClient,
    SandboxRpcError,
    SimChannel,
    World,
    signed_in_session,
)
from monitor.text import TextPipeline
from tests.conftest import after_pages, make_collector, run_cli, stored_view
from tests.faults.conftest import FaultClock, assert_matches_world, seeded_channels

CATCHUP_SECONDS = 600  # CATCHUP_MINUTES' default: the scheduler's pace between passes


class Outages:
    """The network drops at seeded-random requests and comes back a seeded-random time later,
    as the clock passes it (checked whenever the code under test waits)."""

    def __init__(self, world: World, clock: FaultClock, rng: random.Random, chance: float,
                 longest: float) -> None:  # fmt: skip
        self.world, self.clock, self.rng = world, clock, rng
        self.chance, self.longest = chance, longest
        self.back_at: datetime | None = None
        self.count = 0
        self.active = True
        world.on_request = self._on_request
        clock.on_sleep.append(self._on_tick)

    def _on_request(self, name: str) -> None:
        if self.active and self.back_at is None and self.rng.random() < self.chance:
            self.count += 1
            self.back_at = self.clock.now() + timedelta(seconds=self.rng.uniform(1, self.longest))
            self.world.cut_network()

    def _on_tick(self, seconds: float) -> None:
        if self.back_at is not None and self.clock.now() >= self.back_at:
            self.back_at = None
            self.world.restore_network()

    def end(self) -> None:
        self.active = False
        self.back_at = None
        self.world.restore_network()


def telegram_goes_on(
    world: World, channels: list[SimChannel], rng: random.Random
) -> Callable[[float], None]:
    """Channels post, edit and delete as the clock passes, about once a minute between them,
    whether or not we are connected."""

    def act(seconds: float) -> None:
        for _ in range(int(seconds // 60) + (rng.random() < seconds % 60 / 60)):
            channel = rng.choice(channels)
            roll = rng.random()
            if roll < 0.6 or not channel.messages:
                world.post(channel, f"новость в {world.clock.now():%H:%M:%S}")
            elif roll < 0.9:
                message_id = rng.choice(sorted(channel.messages))
                world.edit(channel, message_id, f"{channel.messages[message_id].text} (испр.)")
            else:
                world.delete(channel, [rng.choice(sorted(channel.messages))])

    return act


async def follow(collector: Collector, channels: list[SimChannel]) -> None:
    for channel in channels:
        await collector.add(f"@{channel.username}")


async def test_a_network_that_keeps_dropping_loses_and_doubles_nothing(
    world: World, tg: SandboxClient, collector: Collector, store: Store, manual_clock: FaultClock
) -> None:
    rng = random.Random(5)
    channels = seeded_channels(world, rng, 6, (150, 450))
    await follow(collector, channels)
    collector.install_handlers()  # as `run` does: live updates come and go with the network
    outages = Outages(world, manual_clock, rng, chance=0.08, longest=120)
    manual_clock.on_sleep.append(telegram_goes_on(world, channels, rng))
    # The scheduler's passes, every CATCHUP_MINUTES, until the backfills are done.
    for _ in range(100):
        await catch_up_job(collector)  # must not raise, whatever the network does
        await sweep_job(collector)
        await manual_clock.sleep(CATCHUP_SECONDS)
        following = await store.following()
        if all(c.backfill_state == "done" for c in following) and outages.count >= 8:
            break
    outages.end()
    manual_clock.on_sleep.clear()
    await catch_up_job(collector)
    await sweep_job(collector)
    await tg.settle()

    print(
        "STATS",
        outages.count,
        len(manual_clock.slept),
        collector.live_stored,
        await store.post_count(),
        await store.revision_count(),
        manual_clock.slept.count(1.0),
        manual_clock.slept.count(8.0),
        _,
    )
    assert outages.count >= 8
    # Reconnecting backed off: 1 s, then 2 s, ... between attempts.
    assert any(manual_clock.slept[i : i + 2] == [1.0, 2.0] for i in range(len(manual_clock.slept)))
    assert all(c.backfill_state == "done" for c in await store.following())
    await assert_matches_world(store, world, channels)


STORM = {  # Telegram's tolerated rate per request type, far below what the pacer sends
    "ResolveUsernameRequest": 0.2,
    "JoinChannelRequest": 0.1,
    "GetHistoryRequest": 0.5,
    "GetMessagesRequest": 0.5,
}


async def test_a_storm_of_flood_waits_loses_nothing_and_every_wait_is_sat_out(
    world: World, tg: SandboxClient, store: Store, pipeline: TextPipeline, manual_clock: FaultClock
) -> None:
    world.policy.per_second.update(STORM)
    pacer = Pacer(manual_clock, dict.fromkeys(("history", "messages", "resolve", "join"), 0.0))
    collector = make_collector(tg, store, pipeline, manual_clock, pacer=pacer)
    rng = random.Random(9)
    channels = seeded_channels(world, rng, 12, (50, 350), prefix="storm")
    await follow(collector, channels)
    await catch_up_job(collector)
    world.drop_rate = 1.0  # edits and deletions only re-reading can see
    for channel in channels:
        for message_id in rng.sample(sorted(channel.messages), 5):
            world.edit(channel, message_id, "исправлено во время шторма")
        world.delete(channel, rng.sample(sorted(channel.messages), 3))
    await sweep_job(collector)
    await metrics_job(collector)

    # A channel's last, short page makes Telethon ask again at once: a flood wait on that
    # second request once threw the page away, on every retry, and the page was never stored.
    await assert_matches_world(store, world, channels)
    announced = world.policy.flood_waits
    assert len(announced) >= 40
    assert {name for name, _ in announced} == STORM.keys()
    # Every wait Telegram announced reached the pacer, in order, and was sat out in full:
    # a request sent during a wait would have been answered with a doubled one.
    assert [seconds for _, seconds in pacer.flood_waits] == [seconds for _, seconds in announced]
    assert all(seconds <= math.ceil(1 / STORM[name]) for name, seconds in announced)
    assert [(c.state, c.last_error) for c in await store.channels()] == [("ok", None)] * 12


def flood_the_next_history_request(world: World, seconds: int) -> None:
    def once(name: str) -> None:
        if name == "GetHistoryRequest":
            world.on_request = None
            raise SandboxRpcError(420, f"FLOOD_WAIT_{seconds}")

    world.on_request = once


async def test_a_flood_wait_too_long_to_sit_out_stops_one_channel_until_the_next_pass(
    world: World, collector: Collector, store: Store, manual_clock: FaultClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    channels = seeded_channels(world, random.Random(4), 3, (250, 250), prefix="long")
    stopped = channels[1]
    await follow(collector, channels)
    after_pages(monkeypatch, stopped.id, 1, lambda: flood_the_next_history_request(world, 7200))
    start = manual_clock.now()
    await catch_up_job(collector)
    states = {c.id: c for c in await store.channels()}
    assert states[stopped.id].last_error == (
        "Telegram asked to wait 7200 s before more history requests"
    )
    assert states[stopped.id].backfill_state == "pending"
    assert len(await stored_view(store, stopped.id)) == 100
    assert [states[c.id].backfill_state for c in (channels[0], channels[2])] == ["done", "done"]
    # The wait binds every history request, so the third channel was read after it.
    assert manual_clock.now() - start >= timedelta(hours=2)
    await catch_up_job(collector)
    assert (await store.channel(stopped.id)).last_error is None  # type: ignore[union-attr]
    await assert_matches_world(store, world, channels)


async def test_a_channel_deleted_in_the_middle_of_its_backfill(
    world: World, collector: Collector, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = seeded_channels(world, random.Random(3), 3, (450, 450), prefix="gone")
    doomed = channels[1]
    await follow(collector, channels)
    after_pages(monkeypatch, doomed.id, 3, lambda: world.delete_channel(doomed))
    for _ in range(2):  # and the next pass finds it gone again, changing nothing
        await catch_up_job(collector)
        gone = await store.channel(doomed.id)
        assert gone is not None and (gone.state, gone.backfill_state) == ("gone", "pending")
        assert gone.last_error == "Telegram no longer knows the channel (deleted?)"
        kept = await stored_view(store, doomed.id)
        assert sorted(kept) == list(range(1, 301)) and not any(d for _, d in kept.values())
        assert await store.verify_channel(doomed.id, doomed.title) is None
        await assert_matches_world(store, world, [channels[0], channels[2]])
        assert {c.id: c.backfill_state for c in await store.following()} == {
            channels[0].id: "done",
            doomed.id: "pending",
            channels[2].id: "done",
        }


def test_channels_add_says_which_channel_vanished_while_its_history_was_read(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = seeded_channels(world, random.Random(3), 3, (450, 450), prefix="gone")
    doomed = channels[1]
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    after_pages(monkeypatch, doomed.id, 3, lambda: world.delete_channel(doomed))
    code, out, err = run_cli(world, "channels", "add", *(f"@{c.username}" for c in channels))
    assert code == 1
    assert [line for line in out.splitlines() if "stored" in line] == [
        "@gone_00: 450 posts stored.",
        "@gone_02: 450 posts stored.",
    ]
    assert (
        "error: @gone_01 could not be read to the end: Telegram no longer knows the channel "
        "(deleted?); what was read is kept." in err.splitlines()
    )
    assert "Traceback" not in err
    code, out, _ = run_cli(world, "stats", "--json")
    posts = {row["channel"]: row["posts"] for row in json.loads(out)["channels"]}
    assert posts == {"@gone_00": 450, "@gone_01": 300, "@gone_02": 450}


def give_up_after(world: World, pages: int) -> None:
    """A reader that never notices a history standing still would ask for ever: fail instead."""
    asked = 0

    def count(name: str) -> None:
        nonlocal asked
        asked += name == "GetHistoryRequest"
        assert asked <= pages, f"{asked} history requests: the reader does not stop"

    world.on_request = count


async def test_a_history_that_stops_advancing_ends_the_pass_and_the_next_catch_up_retries(
    world: World, collector: Collector, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    stuck, healthy = seeded_channels(world, random.Random(6), 2, (250, 250), prefix="stuck")
    await follow(collector, [stuck, healthy])
    stuck.stuck_history = True  # every page: its oldest 100 posts, whatever was asked
    give_up_after(world, 20)
    with caplog.at_level(logging.WARNING, logger="monitor"):
        await catch_up_job(collector)
    stopped = await store.channel(stuck.id)
    assert stopped is not None
    assert (stopped.high_water, stopped.backfill_state, stopped.state) == (100, "pending", "ok")
    assert stopped.last_error == (
        "Telegram sent only posts already stored when asked for those after message 100; "
        "the next catch-up asks again"
    )
    assert [r.getMessage() for r in caplog.records] == [f"channel {stuck.id}: {stopped.last_error}"]
    assert len(await stored_view(store, stuck.id)) == 100
    assert (await store.channel(healthy.id)).backfill_state == "done"  # type: ignore[union-attr]

    asked = world.requests.count("GetHistoryRequest")
    await catch_up_job(collector)  # still stuck: asked again, once, and the pass ends
    assert world.requests.count("GetHistoryRequest") == asked + 2  # and the healthy one's
    stuck.stuck_history = False
    await catch_up_job(collector)
    resumed = await store.channel(stuck.id)
    assert resumed is not None
    assert (resumed.backfill_state, resumed.last_error) == ("done", None)
    await assert_matches_world(store, world, [stuck, healthy])


def test_channels_add_returns_when_the_history_stops_advancing(
    env: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    [stuck] = seeded_channels(world, random.Random(6), 1, (250, 250), prefix="stuck")
    stuck.stuck_history = True
    monkeypatch.setenv("TG_SESSION", signed_in_session(world))
    give_up_after(world, 20)
    code, out, err = run_cli(world, "channels", "add", "@stuck_00")
    assert code == 1
    assert "@stuck_00: " not in out  # no count of posts stored: the history was not read through
    assert err.splitlines()[-1] == (
        "error: @stuck_00 could not be read to the end: Telegram sent only posts already stored "
        "when asked for those after message 100; the next catch-up asks again; what was read "
        "is kept."
    )
    code, out, _ = run_cli(world, "channels", "list", "--json")
    [channel] = json.loads(out)
    assert (channel["posts"], channel["backfill_state"]) == (100, "pending")

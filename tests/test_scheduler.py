"""Scheduler jobs are plain coroutines: called directly, with the sandbox's clock."""

from __future__ import annotations

import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.scheduler import add_collector_jobs, catch_up_job, metrics_job, sweep_job
from monitor.store import Store
from monitor.telegram.collector import Collector
from monitor.telegram.sandbox import World
from tests.conftest import fill


async def test_catch_up_job_stores_what_arrived(
    world: World, collector: Collector, store: Store
) -> None:
    channel = world.add_channel("Канал", "job_chan")
    await collector.add("@job_chan")
    fill(world, channel, 120)
    await catch_up_job(collector)
    assert await store.post_count() == 120
    stored = await store.channel(channel.id)
    assert stored is not None and stored.backfill_state == "done"


@pytest.mark.parametrize("job", [catch_up_job, sweep_job, metrics_job])
async def test_jobs_survive_the_network_being_down(
    world: World,
    collector: Collector,
    store: Store,
    job,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    channel = world.add_channel("Канал", "down_chan")
    fill(world, channel, 5)
    await collector.add("@down_chan")
    world.cut_network()
    with caplog.at_level(logging.WARNING):
        await job(collector)  # must not raise
    assert "unreachable" in caplog.text
    world.restore_network()
    await catch_up_job(collector)
    assert await store.post_count() == 5


async def test_the_network_failing_in_the_middle_of_a_pass(
    world: World, collector: Collector, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    channel = world.add_channel("Канал", "flaky_chan")
    fill(world, channel, 500)
    await collector.add("@flaky_chan")
    pages = 0

    def cut_on_third_page(name: str) -> None:
        nonlocal pages
        pages += name == "GetHistoryRequest"
        if pages == 3:
            world.cut_network()

    world.on_request = cut_on_third_page
    with caplog.at_level(logging.WARNING):
        await catch_up_job(collector)
    assert "interrupted by the network" in caplog.text
    assert await store.post_count() == 200
    world.on_request = None
    world.restore_network()
    await catch_up_job(collector)
    assert await store.post_count() == 500


def test_jobs_are_registered_at_their_intervals(collector: Collector) -> None:
    scheduler = AsyncIOScheduler()
    add_collector_jobs(scheduler, collector, Settings(catchup_minutes=7))
    intervals = {job.id: job.trigger.interval.total_seconds() / 60 for job in scheduler.get_jobs()}
    assert intervals == {"catch_up_job": 7, "sweep_job": 60, "metrics_job": 15}

"""Periodic jobs. Each job is a plain coroutine given its dependencies, so tests call it
directly; the scheduler only decides when."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.bot.service import BotService
from monitor.config import Settings
from monitor.store import StoreError
from monitor.telegram.collector import Collector

log = logging.getLogger(__name__)

SWEEP_MINUTES = 60
METRICS_MINUTES = 15
DIGEST_CHECK_MINUTES = 1
ALERT_MINUTES = 5


async def _collector_step(
    collector: Collector, what: str, work: Callable[[], Awaitable[int]]
) -> None:
    """Run one collector pass; a network failure ends this pass, the next one resumes."""
    if not await collector.ensure_connected(attempts=5):
        log.warning("%s skipped: Telegram is unreachable", what)
        return
    try:
        count = await work()
    except (ConnectionError, OSError) as error:
        log.warning("%s interrupted by the network (%s); the next pass resumes", what, error)
        return
    except StoreError as error:
        # A full disk, a read-only or locked file: said in one line, not a traceback, and
        # the pass is tried again at its next turn, when the archive may take writes again.
        log.error("%s stopped: %s; the next pass tries again", what, error)
        return
    log.info("%s done: %d", what, count)


async def catch_up_job(collector: Collector) -> None:
    """Read every followed channel from its high-water mark (pending backfills included)."""
    await _collector_step(collector, "catch-up (posts read)", collector.catch_up)


async def sweep_job(collector: Collector) -> None:
    await _collector_step(collector, "deletion sweep (posts deleted)", collector.sweep_deletions)


async def startup_job(collector: Collector) -> None:
    """What `run` does at start: catch up, then sweep every channel whose last sweep is older
    than the interval. A deletion made while the process was down reaches no live handler,
    and the first hourly sweep would find it only an hour after the start."""
    await catch_up_job(collector)
    due = collector.clock.now() - timedelta(minutes=SWEEP_MINUTES)
    await _collector_step(
        collector, "overdue deletion sweep (posts deleted)", partial(collector.sweep_deletions, due)
    )


async def metrics_job(collector: Collector) -> None:
    await _collector_step(collector, "metric snapshots (posts)", collector.snapshot_metrics)


def add_collector_jobs(
    scheduler: AsyncIOScheduler, collector: Collector, settings: Settings
) -> None:
    for job, minutes in (
        (catch_up_job, settings.catchup_minutes),
        (sweep_job, SWEEP_MINUTES),
        (metrics_job, METRICS_MINUTES),
    ):
        scheduler.add_job(
            job, "interval", minutes=minutes, id=job.__name__, args=[collector],
            max_instances=1, coalesce=True,
        )  # fmt: skip


async def digest_job(bot: BotService) -> None:
    """Send what is due. Due-ness comes from the database (subscriptions and the digests
    recorded as sent), so a restart loses nothing and repeats nothing."""
    try:
        sent = await bot.delivery.send_due_digests()
    except (ConnectionError, OSError) as error:
        log.warning("digests interrupted by the network (%s); the next run resumes", error)
        return
    if sent:
        log.info("digests sent: %d", sent)


async def alert_job(bot: BotService) -> None:
    try:
        sent = await bot.delivery.check_alerts()
    except (ConnectionError, OSError) as error:
        log.warning("alerts interrupted by the network (%s); the next run resumes", error)
        return
    if sent:
        log.info("alerts sent: %d", sent)


def add_bot_jobs(scheduler: AsyncIOScheduler, bot: BotService) -> None:
    for job, minutes in ((digest_job, DIGEST_CHECK_MINUTES), (alert_job, ALERT_MINUTES)):
        scheduler.add_job(
            job, "interval", minutes=minutes, id=job.__name__, args=[bot],
            max_instances=1, coalesce=True,
        )  # fmt: skip

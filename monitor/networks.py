"""Channel networks as the archive shows them: learned from a bounded sample of a range's
posts (whole slices of time, NETWORK_SAMPLE posts at most) and named for people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.analysis.networks import Network, network_name, spread_slices
from monitor.analysis.period import PeriodRow, read_networks
from monitor.analysis.spikes import WINDOW_DAYS
from monitor.models import Channel
from monitor.store import Store

# Enough copies to tell a family from chance (a family sharing a few posts a day shows
# several in a day and a half of 24 channels' posts), few enough that the day's digest at a
# million posts stays as fast as before networks (1.49 s against 1.51 s; 5,000 took 2.3 s).
NETWORK_SAMPLE = 2_000


async def network_sample(store: Store, since: datetime, until: datetime) -> list[PeriodRow]:
    return await store.sample_slices(spread_slices(since, until), NETWORK_SAMPLE)


async def latest_networks(store: Store, last_post: datetime | None) -> list[Network]:
    """The networks of the WINDOW_DAYS before the archive's last post (an imported archive
    may end long before today)."""
    if last_post is None:
        return []
    until = last_post + timedelta(seconds=1)
    return read_networks(await network_sample(store, until - timedelta(days=WINDOW_DAYS), until))


def name_networks(
    networks: Sequence[Network], channels: Mapping[int, Channel]
) -> list[dict[str, Any]]:
    """Each network's name and its channels' labels (the most active first), as JSON."""
    named = []
    for network in networks:
        members = [channels[c] for c, _ in network.posts if c in channels]
        named.append(
            {
                "name": network_name([c.title or c.label for c in members]),
                "channels": [c.label for c in members],
                "channel_ids": [c.id for c in members],
            }
        )
    return named


async def network_of_channels(
    store: Store, channels: Sequence[Channel], last_post: datetime | None
) -> dict[int, str]:
    """Each networked channel's network name, from the networks before the last post."""
    networks = await latest_networks(store, last_post)
    named = name_networks(networks, {c.id: c for c in channels})
    return {channel_id: n["name"] for n in named for channel_id in n["channel_ids"]}

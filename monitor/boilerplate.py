"""Keeping each channel's learned boilerplate (monitor.analysis.boilerplate) in step with its
posts: learned when first needed, learned again as new posts accumulate."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from monitor.analysis.boilerplate import SAMPLE, learn
from monitor.store import Store
from monitor.text import TextPipeline

# New posts after which a channel's boilerplate is learned again: a sign-off that changes
# is then masked after about a third of a sample of the new one.
RELEARN_AFTER = SAMPLE // 3


async def refresh_boilerplate(
    store: Store, pipeline: TextPipeline, channel_ids: Iterable[int], now: datetime
) -> list[int]:
    """Learn the boilerplate of those of the channels that are due; returns them."""
    due = await store.boilerplate_due(channel_ids, RELEARN_AFTER)
    for channel_id in due:
        texts, through = await store.recent_texts(channel_id, SAMPLE)
        await store.save_boilerplate(channel_id, learn(texts, pipeline), through, now)
    return due

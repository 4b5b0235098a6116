"""The single way posts enter the archive, whichever source they come from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.models import Post, PreparedPost, StoreCounts
from monitor.store import Store
from monitor.text import TextPipeline


def prepare(post: Post, pipeline: TextPipeline) -> PreparedPost:
    return PreparedPost(post, pipeline.index_text(post.text))


async def ingest(
    store: Store, pipeline: TextPipeline, channel_id: int, posts: Sequence[Post], now: datetime
) -> StoreCounts:
    """Run the text pipeline over `posts` of one channel and store them in one transaction."""
    if not posts:
        return StoreCounts()
    return await store.store_posts(channel_id, [prepare(post, pipeline) for post in posts], now)

"""The single way posts enter the archive, whichever source they come from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.models import Post, PreparedPost, StoreCounts
from monitor.sentiment.scorer import Scorer
from monitor.store import Store
from monitor.text import TextPipeline


def prepare(post: Post, pipeline: TextPipeline, scorer: Scorer | None = None) -> PreparedPost:
    lemmas = pipeline.lemmas(post.text)
    sentiment = scorer.score_lemmas(lemmas, post.text).score if scorer is not None else None
    return PreparedPost(post, " ".join(lemmas), sentiment)


async def ingest(
    store: Store,
    pipeline: TextPipeline,
    channel_id: int,
    posts: Sequence[Post],
    now: datetime,
    high_water: int | None = None,
    scorer: Scorer | None = None,
) -> StoreCounts:
    """Run the text pipeline over `posts` of one channel and store them in one transaction
    (with the channel's new high-water mark, when the posts come from reading it in order)."""
    if not posts and high_water is None:
        return StoreCounts()
    prepared = [prepare(post, pipeline, scorer) for post in posts]
    return await store.store_posts(channel_id, prepared, now, high_water)

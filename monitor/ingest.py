"""The single way posts enter the archive, whichever source they come from."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from monitor.models import LIVE, Post, PreparedPost, RevisionSource, StoreCounts
from monitor.sentiment.scorer import Scorer
from monitor.sentiment.service import scorer_from
from monitor.store import Store
from monitor.store.watch import WatchPatterns, mentioned_terms
from monitor.text import TextPipeline


def _derive(text: str, pipeline: TextPipeline, scorer: Scorer | None) -> tuple[str, float | None]:
    lemmas = pipeline.lemmas(text)
    sentiment = scorer.score_lemmas(lemmas, text).score if scorer is not None else None
    return " ".join(lemmas), sentiment


def prepare(post: Post, pipeline: TextPipeline, scorer: Scorer | None = None) -> PreparedPost:
    return PreparedPost(post, *_derive(post.text, pipeline, scorer))


@dataclass(frozen=True)
class Analysis:
    """What a worker process needs to derive exactly what this process would: whether to
    score, and the lexicon file merged over the built-in one."""

    score: bool
    lexicon: Path | None = None


_worker: tuple[TextPipeline, Scorer | None] | None = None


def _start_worker(analysis: Analysis) -> None:
    global _worker
    pipeline = TextPipeline()
    _worker = (pipeline, scorer_from(pipeline, None, analysis.lexicon) if analysis.score else None)


def _derive_batch(
    texts: list[str], patterns: WatchPatterns
) -> list[tuple[str, float | None, tuple[int, ...]]]:
    assert _worker is not None, "the worker was started without its pipeline"
    pipeline, scorer = _worker
    derived = []
    for text in texts:
        lemmas, sentiment = _derive(text, pipeline, scorer)
        derived.append((lemmas, sentiment, mentioned_terms(lemmas, patterns)))
    return derived


def default_workers() -> int:
    """One core fewer than there are: the last is the importing process's own, which parses
    and writes (on two cores a second worker made the import slower)."""
    return max(1, (os.cpu_count() or 2) - 1)


class PreparePool:
    """Lemmas and scores for batches of posts in worker processes, so that a big import
    uses every core: the text pipeline is pure Python and holds the interpreter lock."""

    def __init__(self, processes: int, analysis: Analysis) -> None:
        self.processes = processes
        # spawn, not fork: this process already runs the database thread.
        self._executor = ProcessPoolExecutor(
            processes, get_context("spawn"), initializer=_start_worker, initargs=(analysis,)
        )

    async def prepare(self, posts: Sequence[Post], patterns: WatchPatterns) -> list[PreparedPost]:
        """The posts prepared, with their mentions of `patterns` (to hand to store_posts)."""
        texts = [post.text for post in posts]
        derived = await asyncio.wrap_future(self._executor.submit(_derive_batch, texts, patterns))
        return [PreparedPost(post, *found) for post, found in zip(posts, derived, strict=True)]

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)


async def ingest(
    store: Store,
    pipeline: TextPipeline,
    channel_id: int,
    posts: Sequence[Post],
    now: datetime,
    high_water: int | None = None,
    scorer: Scorer | None = None,
    *,
    source: RevisionSource = LIVE,
) -> StoreCounts:
    """Run the text pipeline over `posts` the collector read from one channel and store them
    in one transaction (with the channel's new high-water mark, when the posts come from
    reading it in order), each new version recorded as read from `source`."""
    if not posts and high_water is None:
        return StoreCounts()
    prepared = [prepare(post, pipeline, scorer) for post in posts]
    return await store.store_posts(channel_id, prepared, now, high_water, source=source)

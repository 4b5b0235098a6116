"""What a period's texts alone yield: its copy-paste campaigns and its terms' post counts;
and the channel networks that a sample of the baseline's texts shows.

Kept apart from the digest so that the worker process a busy digest starts imports only
these detectors (the digest module brings the store, the scorer and asyncio with it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from monitor.analysis.campaigns import Campaign, CampaignPost, find_campaigns
from monitor.analysis.emerging import document_frequencies
from monitor.analysis.networks import Network, learn_networks

# channel id, message id, date, lemmas as one string (cheap to send to a worker), forwarded
PeriodRow = tuple[int, int, datetime, str, bool]


@dataclass(frozen=True)
class PeriodTexts:
    campaigns: list[Campaign]
    terms: Counter[str]
    posts: int


def read_texts(rows: list[PeriodRow]) -> PeriodTexts:
    posts = [CampaignPost(channel, message, date, lemmas.split(), forwarded)
             for channel, message, date, lemmas, forwarded in rows]  # fmt: skip
    terms, total = document_frequencies(post.lemmas for post in posts)
    return PeriodTexts(find_campaigns(posts), terms, total)


def read_networks(rows: list[PeriodRow]) -> list[Network]:
    """The channel networks that a sample of the baseline's posts shows."""
    return learn_networks(
        [CampaignPost(channel, message, date, lemmas.split(), forwarded)
         for channel, message, date, lemmas, forwarded in rows]
    )  # fmt: skip

"""Copy-paste campaigns: near-identical texts published in two or more channels within a
window, none of them a forward (a forward is open borrowing; a copy without one is the signal).

Posts are compared by their lemma 3-shingles: MinHash signatures with banded locality-
sensitive hashing find candidate pairs without comparing every pair, the exact Jaccard
similarity of the shingle sets confirms them, and confirmed pairs are joined into clusters.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SHINGLE = 3
MIN_SHINGLES = 6  # shorter texts ("Доброе утро") repeat by chance
PERMUTATIONS = 64
BANDS = 16  # 16 bands of 4 rows: pairs above about 0.5 similarity become candidates
SIMILARITY = 0.6
WINDOW = timedelta(hours=48)
_PRIME = (1 << 61) - 1


@dataclass(frozen=True)
class CampaignPost:
    channel_id: int
    message_id: int
    date: datetime
    lemmas: Sequence[str]
    forwarded: bool = False


@dataclass(frozen=True)
class Campaign:
    posts: tuple[CampaignPost, ...]  # oldest first
    channels: frozenset[int]
    similarity: float  # the lowest confirmed similarity inside the cluster

    @property
    def first(self) -> datetime:
        return self.posts[0].date

    @property
    def last(self) -> datetime:
        return self.posts[-1].date


def shingles(lemmas: Sequence[str]) -> frozenset[int]:
    words = [w for w in lemmas if not w.startswith(("#", "@"))]
    grams = (" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))
    return frozenset(
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams
    )


_rng = random.Random(20241106)
_COEFFICIENTS = [
    (_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(PERMUTATIONS)
]


def signature(items: frozenset[int]) -> tuple[int, ...]:
    return tuple(min((a * x + b) % _PRIME for x in items) for a, b in _COEFFICIENTS)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def find_campaigns(
    posts: Sequence[CampaignPost], window: timedelta = WINDOW, threshold: float = SIMILARITY
) -> list[Campaign]:
    usable = [p for p in posts if not p.forwarded]
    sets = [shingles(p.lemmas) for p in usable]
    keep = [i for i, s in enumerate(sets) if len(s) >= MIN_SHINGLES]
    rows = PERMUTATIONS // BANDS
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for i in keep:
        sig = signature(sets[i])
        for band in range(BANDS):
            buckets[(band, sig[band * rows : (band + 1) * rows])].append(i)

    parent = {i: i for i in keep}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lowest: dict[tuple[int, int], float] = {}
    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                pair = (min(i, j), max(i, j))
                if pair in checked:
                    continue
                checked.add(pair)
                a, b = usable[i], usable[j]
                if a.channel_id == b.channel_id or abs(a.date - b.date) > window:
                    continue
                similarity = jaccard(sets[i], sets[j])
                if similarity >= threshold:
                    parent[root(i)] = root(j)
                    lowest[pair] = similarity

    clusters: dict[int, list[int]] = defaultdict(list)
    for i in keep:
        clusters[root(i)].append(i)
    campaigns = []
    for members in clusters.values():
        channels = frozenset(usable[i].channel_id for i in members)
        if len(channels) < 2:
            continue
        member_set = set(members)
        similarity = min(s for (i, j), s in lowest.items() if i in member_set and j in member_set)
        ordered = tuple(sorted((usable[i] for i in members), key=lambda p: (p.date, p.channel_id)))
        campaigns.append(Campaign(ordered, channels, round(similarity, 3)))
    campaigns.sort(key=lambda c: (-len(c.channels), c.first))
    return campaigns

"""Copy-paste campaigns: near-identical texts published in two or more channels within a
window, none of them a forward (a forward is open borrowing; a copy without one is the signal).

Posts are compared by their lemma 3-shingles: MinHash signatures with banded locality-
sensitive hashing find candidate pairs without comparing every pair, the exact similarity of
the shingle sets confirms them, and confirmed pairs are joined into clusters. The similarity
is Jaccard's with one line's worth of differing shingles forgiven on each side, so that a
copy with its own sign-off, an "⚡️Срочно" header or one changed line is still a copy.
The signatures use one-permutation hashing (each shingle hashed once, its hash choosing the
slot it competes for) with rotation densification for empty slots, so a signature costs one
pass over the shingles instead of one per slot.
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SHINGLE = 3
MIN_SHINGLES = 6  # shorter texts ("Доброе утро") repeat by chance
PERMUTATIONS = 64  # slots of a signature; a power of two, chosen by a hash's low bits
# 21 bands of 3 rows (63 of the slots): pairs above about 0.4 Jaccard become candidates, as
# copies that differ by a line mostly are (16 bands of 4 found half of those at 0.45).
BANDS = 21
ROWS = 3
SIMILARITY = 0.6
LINE = 10  # shingles forgiven per side: a line of about eight words and its two joins
WINDOW = timedelta(hours=48)
_SLOT_BITS = PERMUTATIONS.bit_length() - 1
_SLOT_MASK = PERMUTATIONS - 1


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


class _WordCodes(dict[str, int]):
    """Each word's CRC-32, computed once (a dict lookup costs less than a cached call)."""

    def __missing__(self, word: str) -> int:
        if len(self) >= _MAX_CODES:
            self.clear()
        code = self[word] = zlib.crc32(word.encode())
        return code


_MAX_CODES = 200_000
_word_codes = _WordCodes()


def shingles(lemmas: Sequence[str]) -> frozenset[int]:
    """Hashes of the post's lemma 3-grams (hashtags and mentions left out)."""
    codes = list(map(_word_codes.__getitem__, [w for w in lemmas if w[0] not in "#@"]))
    # Words by CRC-32 and 3-grams by the hash of a tuple of ints: both stable across runs
    # (unlike str hashes), and all of it runs in C.
    return frozenset(map(hash, zip(codes, codes[1:], codes[2:], strict=False)))


def signature(items: frozenset[int]) -> tuple[int, ...]:
    """The minimum per slot, the slot chosen by the hash's low bits; an empty slot takes the
    value of the next filled one to its right, shifted by the distance, so two sets agree
    on a slot with probability close to their Jaccard similarity."""
    if not items:
        return ()
    slots: list[int | None] = [None] * PERMUTATIONS
    for item in items:
        slot, value = item & _SLOT_MASK, item >> _SLOT_BITS
        current = slots[slot]
        if current is None or value < current:
            slots[slot] = value
    densified = []
    for slot in range(PERMUTATIONS):
        distance = 0
        while (filled := slots[(slot + distance) % PERMUTATIONS]) is None:
            distance += 1
        densified.append(filled + (distance << 64))
    return tuple(densified)


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard similarity with up to LINE of each side's own shingles left out, never more
    than half of what the two share: a differing first or last line does not split copies,
    and two texts alike in one phrase only stay apart."""
    shared = len(a & b)
    forgiven = min(LINE, shared // 2)
    own = max(0, len(a) - shared - forgiven) + max(0, len(b) - shared - forgiven)
    return shared / (shared + own) if shared else 0.0


def _shared_bands(keep: list[int], signatures: list[tuple[int, ...]]) -> list[list[int]]:
    """The posts that agree on all rows of some band, band by band: the candidate groups.
    Each band is keyed by the hash of (band number, its rows); keys are made and counted in
    C, and only the few shared by two posts or more are gathered (a hash collision only adds
    a candidate, which the exact similarity then refuses)."""
    used = BANDS * ROWS
    values = itertools.chain.from_iterable(s[:used] for s in signatures)
    keys = list(map(hash, zip(itertools.cycle(range(BANDS)), *[values] * ROWS, strict=False)))
    owners = [i for i in keep for _ in range(BANDS)]
    counts = Counter(keys)
    shared = {key for key, count in counts.items() if count > 1}
    groups: dict[int, list[int]] = defaultdict(list)
    for key, i in itertools.compress(
        zip(keys, owners, strict=True), map(shared.__contains__, keys)
    ):
        groups[key].append(i)
    return list(groups.values())


def find_campaigns(
    posts: Sequence[CampaignPost], window: timedelta = WINDOW, threshold: float = SIMILARITY
) -> list[Campaign]:
    usable = [p for p in posts if not p.forwarded]
    sets = [shingles(p.lemmas) for p in usable]
    keep = [i for i, s in enumerate(sets) if len(s) >= MIN_SHINGLES]
    buckets = _shared_bands(keep, [signature(sets[i]) for i in keep])
    parent = {i: i for i in keep}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lowest: dict[tuple[int, int], float] = {}
    checked: set[tuple[int, int]] = set()
    for members in buckets:
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
                alike = similarity(sets[i], sets[j])
                if alike >= threshold:
                    parent[root(i)] = root(j)
                    lowest[pair] = alike

    clusters: dict[int, list[int]] = defaultdict(list)
    for i in keep:
        clusters[root(i)].append(i)
    campaigns = []
    for members in clusters.values():
        channels = frozenset(usable[i].channel_id for i in members)
        if len(channels) < 2:
            continue
        member_set = set(members)
        least = min(s for (i, j), s in lowest.items() if i in member_set and j in member_set)
        ordered = tuple(sorted((usable[i] for i in members), key=lambda p: (p.date, p.channel_id)))
        campaigns.append(Campaign(ordered, channels, round(least, 3)))
    campaigns.sort(key=lambda c: (-len(c.channels), c.first))
    return campaigns

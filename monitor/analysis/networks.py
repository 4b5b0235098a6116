"""Channel networks: channels that routinely publish each other's posts (one owner's channel,
its "Live" and its "Кибер-" twin), learned from the copies they share in a sample of the
baseline, so that a campaign is text carried by independent voices, not one family's reposts.

A pair of channels is linked when the texts they share (copy-paste clusters of
`find_campaigns`, forwards left out) are at least MIN_SHARED and at least LINKED_SHARE of the
smaller channel's comparable posts. Independent news outlets share far less: agency reports
and officials' words, under 1% of their posts on the real archive of bench/DIGEST_QUALITY.md
(0.3% at most there), so 10% is far above chance. Networks are built by complete linkage:
groups join only when every channel of one is linked to every channel of the other, so an
aggregator that copies from many outlets does not chain them into one network.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.analysis.campaigns import (
    MIN_SHINGLES,
    SHINGLE,
    Campaign,
    CampaignPost,
    find_campaigns,
)

MIN_SHARED = 3
LINKED_SHARE = 0.1
# The baseline is sampled as whole slices of time, so that copies published minutes or hours
# apart are read together (a sample of single posts would keep few pairs of copies).
SLICE = timedelta(hours=6)


@dataclass(frozen=True)
class Network:
    channels: frozenset[int]
    shared: int  # texts shared between its channels in the sample
    posts: tuple[tuple[int, int], ...]  # (channel, comparable posts in the sample), most first


@dataclass(frozen=True)
class Spread:
    """A copy-paste cluster seen through the networks."""

    campaign: Campaign
    voices: int  # independent sources: networks, and channels outside any network


def spread_slices(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The SLICEs of [since, until), in an order that spreads any prefix of them evenly over
    the range (bit-reversed positions: the middle, then the quarters, then the eighths ...),
    so reading them until a budget is spent samples the whole range."""
    count = max(1, -(-(until - since) // SLICE))
    bits = max(1, (count - 1).bit_length())
    order = sorted(range(count), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [(since + SLICE * i, min(until, since + SLICE * (i + 1))) for i in order]


def _comparable(post: CampaignPost) -> bool:
    # Enough words for MIN_SHINGLES 3-grams, as find_campaigns compares (a close bound: it
    # counts distinct shingles without hashtags).
    return not post.forwarded and len(post.lemmas) >= MIN_SHINGLES + SHINGLE - 1


def learn_networks(posts: Sequence[CampaignPost]) -> list[Network]:
    """The networks of the channels whose posts are sampled, largest first."""
    comparable = Counter(p.channel_id for p in posts if _comparable(p))
    shared: Counter[tuple[int, int]] = Counter(
        pair
        for campaign in find_campaigns(posts)
        for pair in itertools.combinations(sorted(campaign.channels), 2)
    )
    links = {
        pair
        for pair, count in shared.items()
        if count >= MIN_SHARED and count >= LINKED_SHARE * min(comparable[c] for c in pair)
    }
    groups: dict[int, frozenset[int]] = {}
    # Strongest links first, so a channel joins the family it shares most with.
    for a, b in sorted(links, key=lambda pair: (-shared[pair], pair)):
        group_a, group_b = groups.get(a, frozenset({a})), groups.get(b, frozenset({b}))
        if group_a == group_b:
            continue
        if all((min(x, y), max(x, y)) in links for x in group_a for y in group_b):
            merged = group_a | group_b
            groups.update(dict.fromkeys(merged, merged))
    networks = {
        Network(
            group,
            sum(n for pair, n in shared.items() if set(pair) <= group),
            tuple(sorted(((c, comparable[c]) for c in group), key=lambda cn: (-cn[1], cn[0]))),
        )
        for group in groups.values()
    }
    return sorted(networks, key=lambda n: (-len(n.channels), -n.shared, min(n.channels)))


def split_by_network(
    campaigns: Sequence[Campaign], networks: Sequence[Network]
) -> tuple[list[Spread], Counter[int]]:
    """The campaigns carried by two independent sources or more (a network with others, or
    two networks, or two channels outside any), and per network (its index) how many texts
    were shared only inside it: reposts in one family, not a campaign."""
    network_of = {channel: i for i, n in enumerate(networks) for channel in n.channels}
    crossing: list[Spread] = []
    inside: Counter[int] = Counter()
    for campaign in campaigns:
        sources = {network_of.get(c, -1 - c) for c in campaign.channels}
        if len(sources) == 1:
            inside[sources.pop()] += 1
        else:
            crossing.append(Spread(campaign, len(sources)))
    return crossing, inside


_WORD = re.compile(r"[^\W\d_]{3,}")


def network_name(titles: Sequence[str]) -> str:
    """What its channels' titles have in common ("Топор", "Топор Live", "Кибер-Топор":
    "Топор"), else the first title (the channel with the most posts)."""
    first, *others = titles
    common = {w.casefold() for w in _WORD.findall(first)}.intersection(
        *({w.casefold() for w in _WORD.findall(title)} for title in others)
    )
    return next((w for w in _WORD.findall(first) if w.casefold() in common), first)

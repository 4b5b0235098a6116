"""The archive. Every SQL statement of the project lives in this package."""

from monitor.store.base import StoreError
from monitor.store.boilerplate import BoilerplateMixin
from monitor.store.bot import BotMixin, DigestPart, DigestProgress, HeldAlert, Subscription
from monitor.store.chain import ChainMixin
from monitor.store.channels import ChannelsMixin
from monitor.store.collection import CollectionMixin
from monitor.store.digest import DigestMixin, EditRecord, PeriodPost
from monitor.store.posts import EXPORT_COLUMNS, PostsMixin
from monitor.store.search import Keyset, SearchMixin, SearchOrder, SearchTimeout, TimeBudget
from monitor.store.watch import WatchMixin, WatchTerm


class Store(
    BoilerplateMixin,
    BotMixin,
    ChainMixin,
    ChannelsMixin,
    CollectionMixin,
    DigestMixin,
    PostsMixin,
    SearchMixin,
    WatchMixin,
):
    """The SQLite archive: channels, posts, revisions, metrics and the search index."""


__all__ = [
    "EXPORT_COLUMNS",
    "DigestPart",
    "DigestProgress",
    "EditRecord",
    "HeldAlert",
    "Keyset",
    "PeriodPost",
    "SearchOrder",
    "SearchTimeout",
    "Store",
    "StoreError",
    "Subscription",
    "TimeBudget",
    "WatchTerm",
]

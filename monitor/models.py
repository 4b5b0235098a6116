"""The project's own plain data types. Nothing here knows about Telethon or SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal


def utc(dt: datetime) -> datetime:
    """The same instant as an aware UTC datetime; naive values are taken as UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def post_url(channel_id: int, username: str | None, message_id: int) -> str:
    """The public link to a post; channels without a username get the t.me/c/ form."""
    if username:
        return f"https://t.me/{username}/{message_id}"
    return f"https://t.me/c/{channel_id}/{message_id}"


@dataclass(frozen=True)
class ChannelInfo:
    """What a source (export file or Telegram) tells us about a channel."""

    id: int
    title: str
    username: str | None = None
    access_hash: int | None = None


@dataclass(frozen=True)
class Channel:
    """A channel as the archive holds it."""

    id: int
    title: str
    username: str | None
    added_at: datetime
    added_by: str
    active: bool
    access_hash: int | None = None
    high_water: int = 0
    backfill_state: str = "none"
    last_error: str | None = None
    backfill_since: datetime | None = None
    state: str = "ok"
    last_read_at: datetime | None = None
    last_error_at: datetime | None = None
    last_swept_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"@{self.username}" if self.username else self.title


@dataclass(frozen=True)
class Post:
    """One channel message, in the form every source is converted to."""

    channel_id: int
    message_id: int
    date: datetime
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    edit_date: datetime | None = None
    media_type: str | None = None
    forward_from: str | None = None
    forward_from_id: int | None = None
    reply_to: int | None = None
    grouped_id: int | None = None
    post_author: str | None = None
    views: int | None = None
    forwards: int | None = None
    replies: int | None = None
    reactions: dict[str, int] | None = None


SourceKind = Literal["live", "backfill", "catch-up", "recheck", "import"]


@dataclass(frozen=True)
class RevisionSource:
    """Where a version of a post was read: by the collector (a live update, the backfill, a
    catch-up pass, a re-check of recent posts) or from an export file, named with its SHA-256."""

    kind: SourceKind
    file: str | None = None
    sha256: str | None = None

    @property
    def collected(self) -> bool:
        """Read from Telegram by the collector, not taken from a file someone handed over."""
        return self.kind != "import"


LIVE = RevisionSource("live")
BACKFILL = RevisionSource("backfill")
CATCH_UP = RevisionSource("catch-up")
RECHECK = RevisionSource("recheck")


@dataclass(frozen=True)
class MetricSnapshot:
    channel_id: int
    message_id: int
    captured_at: datetime
    views: int | None
    forwards: int | None
    replies: int | None
    reactions: int | None


@dataclass(frozen=True)
class PreparedPost:
    """A post with what the text pipeline derived from it, ready for the store."""

    post: Post
    lemmas: str
    sentiment: float | None = None
    # Watched terms the lemmas mention, found against `WatchPatterns` given with the batch;
    # None: not looked for (the store then looks itself).
    mentions: tuple[int, ...] | None = None


@dataclass(frozen=True)
class StoreCounts:
    """What one write did: new posts, posts with a new revision, posts already known."""

    new: int = 0
    revised: int = 0
    unchanged: int = 0

    def __add__(self, other: StoreCounts) -> StoreCounts:
        return StoreCounts(
            self.new + other.new,
            self.revised + other.revised,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class StoredPost:
    """A post read back from the archive, with its channel's names for display."""

    id: int
    channel_id: int
    channel_username: str | None
    channel_title: str
    message_id: int
    date: datetime
    text: str
    edit_date: datetime | None
    deleted_at: datetime | None

    @property
    def url(self) -> str:
        return post_url(self.channel_id, self.channel_username, self.message_id)

    @property
    def channel_label(self) -> str:
        return f"@{self.channel_username}" if self.channel_username else self.channel_title


@dataclass(frozen=True)
class SearchHit:
    post: StoredPost
    # The extract shown for the hit: pieces of text, True where the query matched.
    snippet: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class ChannelStats:
    channel_id: int
    label: str
    posts: int
    first_post: datetime | None
    last_post: datetime | None
    deleted: int
    revised: int  # posts with two or more stored versions: edits the archive saw
    # Posts Telegram marks edited whose one stored version is already the edited one: the
    # edit came before the archive first read them, so the earlier text is unknown.
    edited_before_read: int = 0


@dataclass(frozen=True)
class ChainHead:
    """A channel's latest hash, to publish: anyone can later check it is still in the chain."""

    channel_id: int
    channel_label: str
    head: str
    revisions: int
    at: datetime | None  # when the latest revision was stored


@dataclass(frozen=True)
class ChainBreak:
    """The first place where a channel's stored history no longer matches its hashes."""

    channel_id: int
    channel_label: str
    message_id: int | None  # None: the channel as a whole
    revision_id: int | None
    reason: str

    def describe(self) -> str:
        where = f"revision {self.revision_id} of " if self.revision_id else ""
        post = f"message {self.message_id} in " if self.message_id is not None else ""
        return f"{where}{post}{self.channel_label} (channel id {self.channel_id}): {self.reason}"


def now_utc() -> datetime:
    return datetime.now(UTC)

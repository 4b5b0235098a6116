"""The collector: follows channels with a user account and keeps the archive complete.

Live updates only make new posts appear sooner. The source of truth is reading each channel
forward from its high-water mark (at start, after adding, and every CATCHUP_MINUTES): the
mark is raised in the same transaction as the posts it covers, so whatever Telegram dropped,
or arrived while the process was down, is read on the next pass and stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from telethon import TelegramClient, errors, events, utils
from telethon.tl import functions, types

from monitor.clock import Clock
from monitor.ingest import ingest
from monitor.models import (
    BACKFILL,
    CATCH_UP,
    LIVE,
    RECHECK,
    Channel,
    MetricSnapshot,
    Post,
    RevisionSource,
)
from monitor.refs import ChannelRef, parse_channel_ref
from monitor.sentiment.scorer import Scorer
from monitor.store import Store, StoreError
from monitor.telegram.convert import channel_info, is_broadcast_channel, to_post
from monitor.telegram.pacing import FloodWaitTooLong, Pacer
from monitor.text import TextPipeline

log = logging.getLogger(__name__)

PAGE = 100  # Telegram's largest history page
METRIC_MILESTONES = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
    timedelta(hours=72),
)
Progress = Callable[[int, int], None]  # posts read so far, posts expected


class ChannelError(Exception):
    """A channel cannot be added, read or removed; the message says why in one sentence."""


class StalledHistory(Exception):
    """Telegram answered a page of history with nothing above the high-water mark: asked
    again, it would answer the same, for ever."""


@dataclass(frozen=True)
class AddResult:
    channel: Channel
    rejoined: bool  # it was in the archive before (imported or removed earlier)


def _parse_ref(text: str) -> ChannelRef:
    try:
        return parse_channel_ref(text)
    except ValueError as error:
        raise ChannelError(str(error)) from None


def _state_of(error: Exception) -> tuple[str, str]:
    """How a failed read leaves a channel: its state and a sentence for the record."""
    if isinstance(error, errors.ChannelPrivateError):
        return "inaccessible", "the channel is private now or the account was removed from it"
    if isinstance(error, errors.ChannelInvalidError):
        return "gone", "Telegram no longer knows the channel (deleted?)"
    if isinstance(error, FloodWaitTooLong | StalledHistory):
        return "ok", str(error)
    return "ok", f"{type(error).__name__}: {error}"


def history_start(now: datetime, days: int) -> datetime | None:
    """Where reading `days` of history starts; None (all of it) for 0, or for more days than
    the calendar holds before now (`/add @x 99999999`)."""
    try:
        return now - timedelta(days=days) if days else None
    except OverflowError:
        return None


class Collector:
    def __init__(
        self,
        client: TelegramClient,
        store: Store,
        pipeline: TextPipeline,
        clock: Clock,
        *,
        pacer: Pacer | None = None,
        backfill_days: int = 30,
        sweep_days: int = 7,
        added_by: str = "cli",
        scorer: Scorer | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.pipeline = pipeline
        self.clock = clock
        self.pacer = pacer or Pacer(clock)
        self.backfill_days = backfill_days
        self.sweep_days = sweep_days
        self.added_by = added_by
        self.scorer = scorer
        self._following: dict[int, Channel] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._handlers_installed = False
        self.live_stored = 0

    # ---- following ----------------------------------------------------------------------

    async def load(self) -> list[Channel]:
        channels = await self.store.following()
        self._following = {c.id: c for c in channels}
        return channels

    async def _resolve(self, ref_text: str) -> Any:
        ref = _parse_ref(ref_text)
        known = await self.store.channel_by_ref(ref)
        if known is not None and known.access_hash is not None:
            # Resolved before: reuse id and access hash, no username look-up spent.
            peer = types.InputPeerChannel(known.id, known.access_hash)
            try:
                return await self.pacer.call("history", lambda: self.client.get_entity(peer))
            except (errors.ChannelPrivateError, errors.ChannelInvalidError):
                if not ref.username:
                    raise
        if ref.username:
            try:
                return await self.pacer.call(
                    "resolve", lambda: self.client.get_entity(ref.username)
                )
            except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError, ValueError):
                raise ChannelError(f"No channel is called @{ref.username} on Telegram.") from None
        try:
            return await self.client.get_entity(types.PeerChannel(ref.channel_id or 0))
        except ValueError:
            raise ChannelError(
                f"Channel {ref} is unknown to this account; add it once by its @username or link."
            ) from None

    async def add(self, ref_text: str, days: int | None = None) -> AddResult:
        """Resolve, join and start following a channel. Raises ChannelError with one
        sentence for every way this can fail, and then stores nothing."""
        try:
            entity = await self._resolve(ref_text)
        except errors.ChannelPrivateError:
            raise ChannelError(
                f"{ref_text} is private: the account needs an invite link first."
            ) from None
        except errors.ChannelInvalidError:
            raise ChannelError(f"{ref_text} no longer exists on Telegram.") from None
        if isinstance(entity, types.User):
            kind = "a bot" if entity.bot else "a user"
            raise ChannelError(f"{ref_text} is {kind}, not a channel.")
        if isinstance(entity, types.ChannelForbidden):
            raise ChannelError(f"{ref_text} is private: the account needs an invite link first.")
        if not is_broadcast_channel(entity):
            raise ChannelError(f"{ref_text} is a group, not a channel; only channels are followed.")
        info = channel_info(entity)
        existing = await self.store.channel(info.id)
        if existing is not None and existing.active:
            raise ChannelError(f"{existing.label} is already followed.")
        try:
            await self.pacer.call(
                "join", lambda: self.client(functions.channels.JoinChannelRequest(entity))
            )
        except errors.UserAlreadyParticipantError:
            pass  # joined before (in the app, or by an earlier run): following is what was asked
        except errors.ChannelsTooMuchError:
            raise ChannelError(
                "The account already follows 500 channels, Telegram's limit; "
                "follow more with a second account."
            ) from None
        except errors.ChannelPrivateError:
            raise ChannelError(
                f"{ref_text} is private: the account needs an invite link first."
            ) from None
        now = self.clock.now()
        since = history_start(now, self.backfill_days if days is None else days)
        await self.store.save_channel(info, self.added_by, now)
        await self.store.follow_channel(info.id, since, now)
        channel = await self.store.channel(info.id)
        assert channel is not None
        self._following[channel.id] = channel
        return AddResult(channel, rejoined=existing is not None)

    async def remove(self, ref_text: str) -> Channel:
        """Stop following; the archive keeps everything stored so far."""
        ref = _parse_ref(ref_text)
        channel = await self.store.channel_by_ref(ref)
        if channel is None or not channel.active:
            raise ChannelError(f"{ref} is not followed.")
        if channel.access_hash is not None:
            peer = types.InputChannel(channel.id, channel.access_hash)
            # Gone or already left: following stops all the same.
            with contextlib.suppress(
                errors.ChannelPrivateError,
                errors.ChannelInvalidError,
                errors.UserNotParticipantError,
            ):
                await self.pacer.call(
                    "join", lambda: self.client(functions.channels.LeaveChannelRequest(peer))
                )
        await self.store.unfollow_channel(channel.id)
        self._following.pop(channel.id, None)
        return channel

    # ---- reading forward from the high-water mark -------------------------------------------

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._locks.setdefault(channel_id, asyncio.Lock())

    async def read_forward(
        self, channel: Channel, on_progress: Progress | None = None, *, source: RevisionSource
    ) -> int:
        """Store every post after the channel's high-water mark, a page at a time, oldest
        first, the mark raised with each page, as read from `source` (the backfill or a
        catch-up pass). Returns how many posts were read."""
        async with self._lock(channel.id):
            current = await self.store.channel(channel.id)
            assert current is not None and current.access_hash is not None
            peer = types.InputPeerChannel(current.id, current.access_hash)
            high_water = current.high_water
            read = 0
            while True:
                page, total = await self._page(peer, high_water, current.backfill_since)
                messages = [m for m in page if m is not None]
                if not messages:
                    break
                # Only what lies above the mark is new. A page with nothing above it ends the
                # pass: asked again, a server that ignores the offset would answer the same.
                messages = [m for m in messages if m.id > high_water]
                if not messages:
                    raise StalledHistory(
                        f"Telegram sent only posts already stored when asked for those after "
                        f"message {high_water}; the next catch-up asks again"
                    )
                newest = max(m.id for m in messages)
                posts = [p for p in (to_post(m, current.id) for m in messages) if p is not None]
                await ingest(
                    self.store,
                    self.pipeline,
                    current.id,
                    posts,
                    self.clock.now(),
                    newest,
                    self.scorer,
                    source=source,
                )
                await self._notice_rename(current, messages)
                read += len(posts)
                high_water = newest
                if on_progress is not None:
                    on_progress(read, read + max(0, total - high_water))
            await self.store.record_read(current.id, self.clock.now())
            return read

    async def _page(
        self, peer: Any, high_water: int, since: datetime | None
    ) -> tuple[list[Any], int]:
        """The next page after `high_water`, oldest first, and the channel's message count.

        When a page comes back short, Telethon asks again at once (some channels return fewer
        messages than asked). A flood wait on that second request must not throw away the
        page already received: retried, the pair of requests would meet the same wait again,
        and a channel's last page would never be stored while Telegram limits the rate. The
        wait is recorded instead, and the next request sits it out."""
        if high_water:
            options: dict[str, Any] = {"min_id": high_water}
        elif since is not None:
            options = {"offset_date": since}
        else:
            options = {}

        async def read() -> tuple[list[Any], int]:
            messages = self.client.iter_messages(peer, limit=PAGE, reverse=True, **options)
            page: list[Any] = []
            try:
                async for message in messages:
                    page.append(message)
            except errors.FloodWaitError as error:
                if not page:
                    raise
                self.pacer.flood("history", int(error.seconds))
            return page, int(messages.total or 0)

        return await self.pacer.call("history", read)

    async def _notice_rename(self, channel: Channel, messages: Sequence[Any]) -> None:
        chat = getattr(messages[-1], "chat", None)
        if chat is None:
            return
        username = getattr(chat, "username", None)
        if username != channel.username or chat.title != channel.title:
            before = channel.label
            after = f"@{username}" if username else chat.title
            await self.store.rename_channel(
                channel.id,
                username,
                chat.title,
                f"renamed from {before} to {after}",
                self.clock.now(),
            )

    async def backfill(self, channel: Channel, on_progress: Progress | None = None) -> int:
        """Read the history `add` asked for; returns how many posts were read. A channel that
        fails on the way (deleted, made private) raises ChannelError, its reason recorded on
        it and what was read kept, for catch-up passes to go on from."""
        await self.store.set_backfill_state(channel.id, "running")
        read = await self.guarded(
            channel, lambda: self.read_forward(channel, on_progress, source=BACKFILL)
        )
        if read is None:
            # Not running any more: the next catch-up pass goes on from the mark.
            await self.store.set_backfill_state(channel.id, "pending")
            failed = await self.store.channel(channel.id)
            reason = failed.last_error if failed is not None else None
            raise ChannelError(
                f"{channel.label} could not be read to the end: {reason or 'unknown error'}; "
                "what was read is kept."
            )
        await self.store.set_backfill_state(channel.id, "done")
        return read

    async def guarded(self, channel: Channel, work: Callable[[], Awaitable[int]]) -> int | None:
        """Run one channel's work; a channel-level failure is recorded on the channel and the
        caller goes on with the others. Network loss is not a channel failure: it propagates."""
        try:
            return await work()
        except (ConnectionError, OSError, asyncio.CancelledError):
            raise
        except (errors.RPCError, FloodWaitTooLong, StalledHistory, ValueError) as error:
            state, sentence = _state_of(error)
            log.warning("channel %s: %s", channel.id, sentence)
            await self.store.record_channel_error(channel.id, state, sentence, self.clock.now())
            return None

    async def catch_up(self) -> int:
        """One pass over every followed channel from its high-water mark."""
        total = 0
        for channel in await self.load():
            # A backfill that never finished (stopped, or added without reading) goes on here.
            backfilling = channel.backfill_state in ("pending", "running")
            source = BACKFILL if backfilling else CATCH_UP
            read = await self.guarded(channel, partial(self.read_forward, channel, source=source))
            total += read or 0
            if read is not None and backfilling:
                await self.store.set_backfill_state(channel.id, "done")
        return total

    # ---- re-checking recent posts -----------------------------------------------------------

    async def _fetch(self, channel: Channel, message_ids: Sequence[int]) -> dict[int, Any]:
        """The messages that still exist among `message_ids`, keyed by their own id: Telegram
        does not promise the order of the answer, so position means nothing."""
        assert channel.access_hash is not None
        peer = types.InputPeerChannel(channel.id, channel.access_hash)
        found: dict[int, Any] = {}
        for start in range(0, len(message_ids), PAGE):
            batch = list(message_ids[start : start + PAGE])
            result = await self.pacer.call(
                "messages", partial(self.client.get_messages, peer, ids=batch)
            )
            for message in result:
                if isinstance(message, types.Message | types.MessageService):
                    found[message.id] = message
        return found

    async def _recheck(self, channel: Channel, message_ids: Sequence[int], snapshot: bool) -> int:
        found = await self._fetch(channel, message_ids)
        now = self.clock.now()
        posts = [p for p in (to_post(m, channel.id) for m in found.values()) if p is not None]
        await ingest(
            self.store, self.pipeline, channel.id, posts, now, scorer=self.scorer, source=RECHECK
        )
        if snapshot:
            await self.store.add_metric_snapshots([_snapshot(post, now) for post in posts])
        missing = [i for i in message_ids if i not in found]
        deleted = (
            await self.store.mark_deleted(channel.id, missing, now, source=RECHECK)
            if missing
            else 0
        )
        return deleted

    async def sweep_deletions(self, swept_before: datetime | None = None) -> int:
        """Re-check the posts of the last `sweep_days`; mark those Telegram no longer has.
        With `swept_before`, only the channels not swept since then."""
        now = self.clock.now()
        deleted = 0
        for channel in await self.load():
            swept = channel.last_swept_at
            if swept_before is None or swept is None or swept <= swept_before:
                found = await self.guarded(channel, partial(self._sweep, channel, now))
                deleted += found or 0
        return deleted

    async def _sweep(self, channel: Channel, now: datetime) -> int:
        since = now - timedelta(days=self.sweep_days)
        ids = await self.store.recent_message_ids(channel.id, since)
        deleted = await self._recheck(channel, ids, False) if ids else 0
        await self.store.record_swept(channel.id, now)
        return deleted

    async def snapshot_metrics(self) -> int:
        """Views, forwards, replies and reactions of posts that passed a milestone."""
        due = await self.store.due_for_metrics(self.clock.now(), METRIC_MILESTONES)
        taken = 0
        for channel in await self.load():
            ids = due.get(channel.id)
            if ids:
                done = await self.guarded(channel, partial(self._recheck, channel, ids, True))
                taken += len(ids) if done is not None else 0
        return taken

    # ---- live updates ----------------------------------------------------------------------

    def install_handlers(self) -> None:
        if self._handlers_installed:
            return
        self.client.add_event_handler(self._on_message, events.NewMessage())
        self.client.add_event_handler(self._on_message, events.MessageEdited())
        self.client.add_event_handler(self._on_deleted, events.MessageDeleted())
        self._handlers_installed = True

    def _followed_id(self, marked_id: int | None) -> int | None:
        """The followed channel an update comes from, else None. Telegram numbers users, basic
        groups and channels apart, so the bare id alone would take a private message from a
        user whose id equals a channel's for that channel's post. A deletion in a private chat
        or basic group names no chat at all (None here): its message ids are the account's."""
        if marked_id is None:
            return None
        channel_id, peer_type = utils.resolve_id(marked_id)
        if peer_type is not types.PeerChannel:
            return None
        return channel_id if channel_id in self._following else None

    async def _on_message(self, event: Any) -> None:
        channel_id = self._followed_id(event.chat_id)
        if channel_id is None:
            return
        post = to_post(event.message, channel_id)
        if post is None:
            return
        await self.store_live(channel_id, [post])

    async def store_live(self, channel_id: int, posts: list[Post]) -> None:
        # The high-water mark is left alone: posts between it and this one may have been
        # dropped, and the next catch-up must still read them.
        try:
            await ingest(
                self.store, self.pipeline, channel_id, posts, self.clock.now(),
                scorer=self.scorer, source=LIVE,
            )  # fmt: skip
            self.live_stored += len(posts)
        except StoreError as error:
            log.error(
                "live post of channel %s not stored now (catch-up will): %s", channel_id, error
            )

    async def _on_deleted(self, event: Any) -> None:
        channel_id = self._followed_id(event.chat_id)
        if channel_id is None:
            return
        try:
            await self.store.mark_deleted(
                channel_id, list(event.deleted_ids), self.clock.now(), source=LIVE
            )
        except StoreError as error:
            log.error(
                "deletion in channel %s not recorded now (the sweep will): %s", channel_id, error
            )

    # ---- connection ------------------------------------------------------------------------

    async def ensure_connected(self, max_delay: float = 300.0, attempts: int | None = None) -> bool:
        """Connect, retrying with exponential backoff; False after `attempts` failures."""
        delay = 1.0
        tried = 0
        while not self.client.is_connected():
            try:
                await self.client.connect()
            except (ConnectionError, OSError) as error:
                tried += 1
                if attempts is not None and tried >= attempts:
                    return False
                log.warning("cannot reach Telegram (%s); retrying in %.0f s", error, delay)
                await self.clock.sleep(delay)
                delay = min(max_delay, delay * 2)
        return True


def _snapshot(post: Post, now: datetime) -> MetricSnapshot:
    reactions = sum(post.reactions.values()) if post.reactions is not None else None
    return MetricSnapshot(
        post.channel_id, post.message_id, now, post.views, post.forwards, post.replies, reactions
    )

"""The bot: answers commands from people, sends daily digests and alerts to chats.

Telethon's public API only (events, send_message, send_file, get_permissions). Every
command gets an answer in one or a few sentences; failures are logged without secrets and
answered politely; nothing a user types reaches SQL or HTML unescaped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from telethon import Button, TelegramClient, errors, events

from monitor.bot import render
from monitor.bot.commands import MAX_ARGUMENT_CHARS, Command, parse_command
from monitor.bot.delivery import TREND_DAYS, Delivery, access_lost, trend_chart
from monitor.bot.paging import PER_PAGE, SEARCH_SECONDS, search_page
from monitor.bot.policy import AlertRules, RateLimiter, RefusalMemory, may_use
from monitor.clock import Clock
from monitor.config import Settings, is_time_zone, parse_clock
from monitor.digest import build_digest
from monitor.health import health_by_channel
from monitor.quoting import quoted
from monitor.search.query import QueryError
from monitor.sentiment.scorer import Scorer
from monitor.store import SearchTimeout, Store, TimeBudget
from monitor.telegram.collector import ChannelError, Collector
from monitor.text import TextPipeline
from monitor.watch import WatchError, add_term, remove_term

log = logging.getLogger(__name__)

PRIVATE = "Sorry, this bot is private."
EXPIRED = "This search has expired; send /search again."
MAX_TREND_DAYS = 365
SHOWN_IN_STATUS = 10  # channels or chats named in a line of /status

# Numbers in commands and button data: ASCII digits ("²" and "١" pass str.isdigit, but
# int() refuses "²"), and what SQLite stores as an integer.
_DIGITS = re.compile(r"[0-9]+")
_SQLITE_MAX = 2**63 - 1


def _number(text: str) -> int | None:
    return int(text) if _DIGITS.fullmatch(text) else None


def _chat_id(text: str) -> int | None:
    """A chat id as /subscriptions shows it: a user's is positive, a group's negative."""
    number = _number(text.removeprefix("-"))
    if number is None or not 0 < number <= _SQLITE_MAX:
        return None
    return -number if text.startswith("-") else number


class Refusal(Exception):
    """A command cannot be done as asked; the message is the one sentence to answer."""


Handler = Callable[[events.NewMessage.Event, Command], Awaitable[None]]


@dataclass(frozen=True)
class CommandInfo:
    name: str
    usage: str
    example: str
    summary: str
    admin: bool = False


COMMANDS = (
    CommandInfo("help", "/help", "/help", "this list"),
    CommandInfo(
        "search",
        "/search QUERY",
        '/search Трамп "мирные переговоры" -Байден since:2024-11-01',
        'search the archive: words in any form, "phrases", OR, -word, channel:@x, since:/until:',
    ),
    CommandInfo(
        "trend",
        "/trend TERM [DAYS]",
        "/trend Трамп 60",
        "a chart of daily mentions in the top channels, with their mean sentiment",
    ),
    CommandInfo("digest", "/digest", "/digest", "the digest of the last 24 hours, now"),
    CommandInfo(
        "subscribe",
        "/subscribe [HH:MM] [TIMEZONE]",
        "/subscribe 08:00 Europe/Berlin",
        "a daily digest in this chat (in a group, for its admins)",
    ),
    CommandInfo("unsubscribe", "/unsubscribe", "/unsubscribe", "no more daily digests here"),
    CommandInfo(
        "alerts",
        "/alerts on|off",
        "/alerts on",
        "keyword spikes and sentiment shifts pushed here as they happen",
    ),
    CommandInfo(
        "channels",
        "/channels",
        "/channels",
        "the channels, followed or only archived, and their health",
    ),
    CommandInfo(
        "add",
        "/add REF [DAYS]",
        "/add @rybar 30",
        "follow a channel and read its history",
        admin=True,
    ),
    CommandInfo(
        "remove",
        "/remove REF",
        "/remove @rybar",
        "stop following (the archive is kept)",
        admin=True,
    ),
    CommandInfo(
        "watch",
        "/watch TERM [ALIASES...]",
        "/watch Бахмут Артёмовск",
        "count a term (all its forms) and alert on it",
        admin=True,
    ),
    CommandInfo("unwatch", "/unwatch TERM", "/unwatch Бахмут", "stop watching a term", admin=True),
    CommandInfo("watchlist", "/watchlist", "/watchlist", "the watched terms", admin=True),
    CommandInfo(
        "allow", "/allow USER_ID", "/allow 123456789", "let a user use the bot", admin=True
    ),
    CommandInfo("deny", "/deny USER_ID", "/deny 123456789", "take that back", admin=True),
    CommandInfo(
        "status",
        "/status",
        "/status",
        "collector lag, errors, database size, last digest, chats failing or stopped",
        admin=True,
    ),
    CommandInfo(
        "subscriptions",
        "/subscriptions, /unsubscribe CHAT_ID",
        "/unsubscribe -1001234567890",
        "every subscribed chat: who subscribed it, when, its last delivery and error; and stop one",
        admin=True,
    ),
)
_INFO = {info.name: info for info in COMMANDS}


class BotService:
    def __init__(
        self,
        client: TelegramClient,
        store: Store,
        settings: Settings,
        pipeline: TextPipeline,
        scorer: Scorer,
        clock: Clock,
        collector: Collector | None = None,
        alert_rules: AlertRules | None = None,
        search_budget: TimeBudget | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.pipeline = pipeline
        self.scorer = scorer
        self.clock = clock
        self.collector = collector
        self.alert_rules = alert_rules or AlertRules(
            cooldown=timedelta(hours=settings.alert_cooldown_hours),
            per_hour=settings.alerts_per_hour,
            quiet=settings.quiet_hours,
        )
        self.zone = ZoneInfo(settings.timezone)
        self.delivery = Delivery(client, store, settings, pipeline, scorer, clock, self.alert_rules)
        self.username: str | None = None
        self.limiter = RateLimiter(limit=settings.commands_per_minute)
        self.refusals = RefusalMemory()
        self.search_budget = search_budget or TimeBudget(SEARCH_SECONDS)
        self._background: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "start": self.cmd_help, "help": self.cmd_help, "search": self.cmd_search,
            "trend": self.cmd_trend, "digest": self.cmd_digest, "subscribe": self.cmd_subscribe,
            "unsubscribe": self.cmd_unsubscribe, "alerts": self.cmd_alerts,
            "channels": self.cmd_channels, "add": self.cmd_add, "remove": self.cmd_remove,
            "watch": self.cmd_watch, "unwatch": self.cmd_unwatch, "watchlist": self.cmd_watchlist,
            "allow": self.cmd_allow, "deny": self.cmd_deny, "status": self.cmd_status,
            "subscriptions": self.cmd_subscriptions,
        }  # fmt: skip

    async def start(self) -> None:
        """Learn our own username (for /cmd@name in groups) and listen."""
        me = await self.client.get_me()
        self.username = getattr(me, "username", None)
        self.client.add_event_handler(self.on_message, events.NewMessage(incoming=True))
        self.client.add_event_handler(self.on_callback, events.CallbackQuery())

    async def wait_for_background(self) -> None:
        """Let the work commands started (backfills after /add) finish."""
        await asyncio.gather(*self._background, return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    # ---- incoming ----------------------------------------------------------------------------

    async def on_message(self, event: events.NewMessage.Event) -> None:
        command = parse_command(event.raw_text or "", self.username)
        user_id = event.sender_id
        if command is None or user_id is None:
            return
        now = self.clock.now()
        # Access first: a stranger is told once an hour and costs no replies in between,
        # and only people who may use the bot take room in the limiter.
        if not await self._may_use(user_id):
            if self.refusals.should_answer(user_id, now):
                await self._answer(event, PRIVATE)
            return
        verdict = self.limiter.check(user_id, now)
        if verdict == "drop":
            return
        if verdict == "warn":
            await self._answer(event, "You are sending commands too fast; please wait a minute.")
            return
        handler = self._handlers.get(command.name)
        if handler is None:
            await self._answer(
                event, f"I do not know /{render.escape(command.name)}; /help lists what I can do."
            )
            return
        info = _INFO.get(command.name)
        if info is not None and info.admin and user_id not in self.settings.admin_ids:
            await self._answer(event, f"Only administrators can use /{command.name}.")
            return
        try:
            await handler(event, command)
        except Refusal as refusal:
            await self._answer(event, render.escape(str(refusal)))
        except errors.RPCError as error:
            log.warning("command /%s failed at Telegram: %s", command.name, type(error).__name__)
            await self._answer(event, "Telegram refused that just now; please try again later.")
        except Exception:
            log.exception("command /%s failed", command.name)
            await self._answer(event, "Something went wrong with that command; it has been logged.")

    async def on_callback(self, event: events.CallbackQuery.Event) -> None:
        """Search paging buttons: `p:<saved search id>:<page>`. Every press is answered (a
        silent answer stops the button's spinner and costs no message)."""
        user_id, now = event.sender_id, self.clock.now()
        if not await self._may_use(user_id):
            await event.answer(PRIVATE if self.refusals.should_answer(user_id, now) else None)
            return
        # Presses share the commands' limit: each one runs a search.
        verdict = self.limiter.check(user_id, now)
        if verdict != "ok":
            await event.answer(
                "You are pressing buttons too fast; please wait a minute."
                if verdict == "warn" else None
            )  # fmt: skip
            return
        parts = (event.data or b"").decode("ascii", "replace").split(":")
        search_id, page = (
            (_number(parts[1]), _number(parts[2])) if len(parts) == 3 else (None, None)
        )
        if (
            parts[0] != "p" or search_id is None or page is None
            or search_id > _SQLITE_MAX or page >= _SQLITE_MAX
        ):  # fmt: skip
            await event.answer("This button is no longer valid.")
            return
        saved = await self.store.saved_search(search_id)
        if saved is None or saved[0] != event.chat_id:
            await event.answer(EXPIRED)
            return
        try:
            text, buttons = await self._search_page(search_id, saved[2], page)
        except Refusal as refusal:
            await event.answer(str(refusal))
            return
        try:
            await event.edit(text, parse_mode="html", buttons=buttons, link_preview=False)
        except errors.MessageNotModifiedError:
            log.debug("page %s of search %s pressed again; it is already shown", page, search_id)
        await event.answer()

    async def _may_use(self, user_id: int) -> bool:
        allowed = await self.store.allowed_users() if self.settings.access != "open" else ()
        return may_use(user_id, self.settings.admin_ids, self.settings.access, allowed)

    async def _answer(self, event: events.NewMessage.Event, html: str, **options: object) -> None:
        await event.respond(html, parse_mode="html", link_preview=False, **options)

    async def _require_chat_admin(self, event: events.NewMessage.Event) -> None:
        """In a group, only its admins (or ours) may change what the group receives."""
        if event.is_private or event.sender_id in self.settings.admin_ids:
            return
        permissions = await self.client.get_permissions(event.chat_id, event.sender_id)
        if not (permissions.is_admin or permissions.is_creator):
            raise Refusal("Only this group's admins can change its subscription.")

    # ---- commands for everyone -------------------------------------------------------------

    async def cmd_help(self, event: events.NewMessage.Event, command: Command) -> None:
        admin = event.sender_id in self.settings.admin_ids
        shown = [info for info in COMMANDS if admin or not info.admin]
        await self._answer(event, render.render_help(shown))

    async def cmd_search(self, event: events.NewMessage.Event, command: Command) -> None:
        if command.too_long:
            raise Refusal(f"Queries are limited to {MAX_ARGUMENT_CHARS:,} characters.")
        if not command.text:
            raise Refusal("Tell me what to look for, e.g. /search Трамп санкции")
        search_id = await self.store.save_search(
            event.chat_id, event.sender_id, command.text, self.clock.now()
        )
        text, buttons = await self._search_page(search_id, command.text, 0)
        await self._answer(event, text, buttons=buttons)

    async def _search_page(
        self, search_id: int, query: str, page: int
    ) -> tuple[str, list[Button] | None]:
        try:
            result = await search_page(
                self.store, self.pipeline, search_id, query, page, self.zone, self.search_budget
            )
        except QueryError as error:
            raise Refusal(str(error)) from None
        except SearchTimeout:
            raise Refusal(
                "That search took too long; add a word, or a channel: or since: filter, to narrow it."
            ) from None
        if result is None:
            raise Refusal(EXPIRED)
        text = render.render_search_page(result.hits, page, PER_PAGE, result.has_more, self.zone)
        buttons = []
        if page > 0:
            buttons.append(Button.inline("◀ newer", f"p:{search_id}:{page - 1}".encode()))
        if result.has_more:
            buttons.append(Button.inline("older ▶", f"p:{search_id}:{page + 1}".encode()))
        return text, buttons or None

    async def cmd_trend(self, event: events.NewMessage.Event, command: Command) -> None:
        words = command.words()
        days = TREND_DAYS
        if len(words) > 1 and (number := _number(words[-1])) is not None:
            days = number
            words.pop()
            if not 1 <= days <= MAX_TREND_DAYS:
                raise Refusal(f"DAYS goes from 1 to {MAX_TREND_DAYS}.")
        term = " ".join(words)
        if not self.pipeline.lemmas(term):
            raise Refusal("Tell me a term, e.g. /trend Трамп 30")
        picture, caption = await trend_chart(
            self.store, self.pipeline, term, days, self.clock.now(), self.zone
        )
        await self.client.send_file(
            event.chat_id, picture, caption=render.escape(caption), parse_mode="html"
        )

    async def cmd_digest(self, event: events.NewMessage.Event, command: Command) -> None:
        now = self.clock.now()
        digest = await build_digest(self.store, self.scorer, now - timedelta(days=1), now, now)
        for part in render.render_digest(digest, self.zone):
            await self._answer(event, part)

    async def cmd_subscribe(self, event: events.NewMessage.Event, command: Command) -> None:
        await self._require_chat_admin(event)
        at, zone_name = self.settings.digest_time, self.settings.timezone
        for word in command.words():
            clock = parse_clock(word)
            if clock is not None:
                at = clock
                continue
            if not is_time_zone(word):
                raise Refusal(
                    f"{quoted(word)} is neither a time (HH:MM) nor a time zone such as Europe/Berlin."
                )
            zone_name = word
        current = await self.store.subscription(event.chat_id)
        await self.store.save_subscription(
            event.chat_id, digest_time=at, timezone=zone_name,
            alerts=bool(current and current.active and current.alerts),
            by=event.sender_id, now=self.clock.now(),
        )  # fmt: skip
        await self._answer(
            event, f"Daily digest for this chat at {at:%H:%M} {render.escape(zone_name)}."
        )

    async def cmd_unsubscribe(self, event: events.NewMessage.Event, command: Command) -> None:
        if command.text:
            await self._unsubscribe_other(event, command)
            return
        await self._require_chat_admin(event)
        current = await self.store.subscription(event.chat_id)
        if current is None or current.digest_time is None:
            raise Refusal("This chat has no daily digest.")
        await self.store.save_subscription(
            event.chat_id, digest_time=None, timezone=current.timezone,
            alerts=current.alerts, by=event.sender_id, now=self.clock.now(), subscribing=False,
        )  # fmt: skip
        await self._answer(event, "No more daily digests here.")

    async def _unsubscribe_other(self, event: events.NewMessage.Event, command: Command) -> None:
        """/unsubscribe CHAT_ID: an admin stops the digests and alerts of any chat."""
        if event.sender_id not in self.settings.admin_ids:
            raise Refusal("Only administrators can use /unsubscribe CHAT_ID.")
        chat_id = _chat_id(command.text)
        if chat_id is None:
            raise Refusal(
                "Say /unsubscribe CHAT_ID with a chat id from /subscriptions, "
                "e.g. /unsubscribe -1001234567890"
            )
        current = await self.store.subscription(chat_id)
        if current is None or not current.active:
            raise Refusal(f"Chat {chat_id} receives nothing; /subscriptions lists those that do.")
        await self.store.deactivate_chat(
            chat_id, f"unsubscribed by administrator {event.sender_id}", self.clock.now()
        )
        await self._answer(event, f"Chat {chat_id} receives no more digests or alerts.")

    async def cmd_alerts(self, event: events.NewMessage.Event, command: Command) -> None:
        words = [w.lower() for w in command.words()]
        if words not in (["on"], ["off"]):
            raise Refusal("Say /alerts on or /alerts off.")
        await self._require_chat_admin(event)
        current = await self.store.subscription(event.chat_id)
        keep = current if current is not None and current.active else None
        await self.store.save_subscription(
            event.chat_id, digest_time=keep.digest_time if keep else None,
            timezone=keep.timezone if keep else self.settings.timezone,
            alerts=words == ["on"], by=event.sender_id, now=self.clock.now(),
            subscribing=words == ["on"],
        )  # fmt: skip
        await self._answer(event, "Alerts on." if words == ["on"] else "Alerts off.")

    async def cmd_channels(self, event: events.NewMessage.Event, command: Command) -> None:
        now = self.clock.now()
        health = await health_by_channel(self.store, now)
        rows = [
            render.ChannelLine(c.label, health[c.id].posts_per_day, health[c.id].state,
                               health[c.id].last_post, c.active)
            for c in await self.store.channels()
        ]  # fmt: skip
        for part in render.render_channels(rows, self.zone):
            await self._answer(event, part)

    # ---- admin commands ---------------------------------------------------------------------

    def _collector(self) -> Collector:
        if self.collector is None:
            raise Refusal("Collecting is not running in this process; start it with run.")
        return self.collector

    async def cmd_add(self, event: events.NewMessage.Event, command: Command) -> None:
        words = command.words()
        days = _number(words[1]) if len(words) == 2 else None
        if not words or len(words) > 2 or (len(words) == 2 and days is None):
            raise Refusal("Say /add REF [DAYS], e.g. /add @rybar 30")
        collector = self._collector()
        try:
            added = await collector.add(words[0], days)
        except ChannelError as error:
            raise Refusal(str(error)) from None
        title = render.escape(added.channel.title)
        await self._answer(event, f"Following <b>{title}</b>; reading its history now.")
        task = asyncio.create_task(self._backfill_and_report(event.chat_id, added.channel.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _backfill_and_report(self, chat_id: int, channel_id: int) -> None:
        collector = self._collector()
        channel = await self.store.channel(channel_id)
        if channel is None:
            return
        try:
            read = await collector.backfill(channel)
        except (ConnectionError, OSError) as error:
            log.warning("backfill of %s interrupted: %s", channel.label, error)
            await self.client.send_message(
                chat_id, f"Reading {render.escape(channel.title)} was interrupted; the next "
                "catch-up pass continues it.", parse_mode="html",
            )  # fmt: skip
            return
        except ChannelError as error:
            await self.client.send_message(chat_id, render.escape(str(error)), parse_mode="html")
            return
        await self.client.send_message(
            chat_id, f"Done reading <b>{render.escape(channel.title)}</b>: {read:,} posts.",
            parse_mode="html",
        )  # fmt: skip

    async def cmd_remove(self, event: events.NewMessage.Event, command: Command) -> None:
        if not command.text:
            raise Refusal("Say /remove REF, e.g. /remove @rybar")
        try:
            channel = await self._collector().remove(command.text)
        except ChannelError as error:
            raise Refusal(str(error)) from None
        await self._answer(
            event, f"Stopped following <b>{render.escape(channel.title)}</b>; its archive is kept."
        )

    async def cmd_watch(self, event: events.NewMessage.Event, command: Command) -> None:
        words = command.words()
        if not words:
            raise Refusal("Say /watch TERM [ALIASES...], e.g. /watch Бахмут Артёмовск")
        try:
            term = await add_term(
                self.store, self.pipeline, words[0], words[1:], None,
                f"bot:{event.sender_id}", self.clock.now(),
            )  # fmt: skip
        except WatchError as error:
            raise Refusal(str(error)) from None
        total = sum((await self.store.watch_counts(term.id)).values())
        names = ", ".join(render.escape(a) for a in term.aliases)
        await self._answer(event, f"Watching {names}: {total:,} posts so far.")

    async def cmd_unwatch(self, event: events.NewMessage.Event, command: Command) -> None:
        if not command.text:
            raise Refusal("Say /unwatch TERM")
        try:
            term = await remove_term(self.store, command.text, None)
        except WatchError as error:
            raise Refusal(str(error)) from None
        await self._answer(event, f"No longer watching {render.escape(term.term)}.")

    async def cmd_watchlist(self, event: events.NewMessage.Event, command: Command) -> None:
        terms = await self.store.watch_terms()
        if not terms:
            raise Refusal("No terms are watched; add one with /watch TERM.")
        lines = []
        for term in terms:
            total = sum((await self.store.watch_counts(term.id)).values())
            lines.append(f"• {', '.join(render.escape(a) for a in term.aliases)}: {total:,} posts")
        await self._answer(event, "\n".join(lines))

    async def _user_id_argument(self, command: Command, verb: str) -> int:
        user_id = _number(command.text)
        if user_id is None or not 0 < user_id <= _SQLITE_MAX:
            raise Refusal(
                f"Say /{verb} USER_ID with the numeric Telegram id, e.g. /{verb} 123456789"
            )
        return user_id

    async def cmd_allow(self, event: events.NewMessage.Event, command: Command) -> None:
        user_id = await self._user_id_argument(command, "allow")
        added = await self.store.allow_user(user_id, event.sender_id, self.clock.now())
        await self._answer(
            event, f"{user_id} may use the bot{'' if added else ' (already could)'}."
        )

    async def cmd_deny(self, event: events.NewMessage.Event, command: Command) -> None:
        user_id = await self._user_id_argument(command, "deny")
        removed = await self.store.deny_user(user_id)
        note = "" if removed else " (was not on the list)"
        if user_id in self.settings.admin_ids:
            note = " (an admin from ADMIN_IDS keeps access)"
        elif not await self._may_use(user_id):
            # Delivery checks this too; ending them now shows the admin what stopped.
            ended = await self.store.end_subscriptions_of(
                user_id, access_lost(user_id), self.clock.now()
            )
            if ended:
                chats = "chats" if len(ended) > 1 else "chat"
                note += f"; digests and alerts stopped in {chats} {', '.join(map(str, ended))}"
        await self._answer(event, f"{user_id} may no longer use the bot{note}.")

    async def cmd_status(self, event: events.NewMessage.Event, command: Command) -> None:
        now = self.clock.now()
        channels = [c for c in await self.store.channels() if c.active]
        reads = [c.last_read_at for c in channels if c.last_read_at is not None]
        lag = f"{(now - min(reads)).total_seconds() / 60:.0f} min" if reads else "never read"
        troubled = [c for c in channels if c.state != "ok"]
        size = sum(
            path.stat().st_size
            for path in (self.settings.db_path, self.settings.db_path.with_name(self.settings.db_path.name + "-wal"))
            if path.exists()
        )  # fmt: skip
        last_digest = await self.store.bot_state("last_digest") or "none yet"
        chats = await self.store.all_subscriptions()
        failing = [
            f"{s.chat_id} ({s.last_error}, {s.failures} in a row)"
            for s in chats
            if s.active and s.failures
        ]
        stopped = [f"{s.chat_id} ({s.inactive_reason})" for s in chats if not s.active]
        lines = [
            f"Channels followed: {len(channels)}; oldest read {lag} ago.",
            f"Channels with problems: {len(troubled)}"
            + (": " + ", ".join(render.escape(f"{c.label} ({c.state})") for c in troubled[:SHOWN_IN_STATUS]) if troubled else "."),
            f"Database: {size / 2**20:,.1f} MB.",
            f"Last digest sent: {render.escape(last_digest)}.",
            f"Chats failing: {len(failing)}"
            + (": " + render.escape(", ".join(failing[:SHOWN_IN_STATUS])) if failing else "."),
            f"Chats no longer served: {len(stopped)}"
            + (": " + render.escape(", ".join(stopped[:SHOWN_IN_STATUS])) if stopped else "."),
        ]  # fmt: skip
        await self._answer(event, "\n".join(lines))

    async def cmd_subscriptions(self, event: events.NewMessage.Event, command: Command) -> None:
        chats = await self.store.all_subscriptions()
        for part in render.render_subscriptions(chats, self.zone):
            await self._answer(event, part)

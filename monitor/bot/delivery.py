"""Digests and alerts out to the subscribed chats.

Each chat is served on its own: a chat that refuses a message (a group that forbids plain
text, a closed topic, a chat that is gone) has the error recorded on it and the others go on;
one that keeps refusing rests longer each time (policy.Backoff) and is at last no longer
served, said why. Rights are checked at every delivery, not only when subscribing: a chat is
served while the user who subscribed it (in a private chat, that user) may use the bot.
A digest is done only when every part, chart included, has arrived; until then each run
resumes it at the first part not sent, with the parts it began with.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telethon import TelegramClient, errors

from monitor.bot import render
from monitor.bot.chart import TrendDay, build_trend, render_png, summary
from monitor.bot.policy import (
    AlertDecision,
    AlertRules,
    Backoff,
    decide_alert,
    digest_periods,
    in_quiet_hours,
    may_use,
)
from monitor.clock import Clock
from monitor.config import Settings
from monitor.digest import alert_findings, build_digest
from monitor.sentiment.scorer import Scorer
from monitor.store import DigestPart, Store, Subscription
from monitor.text import TextPipeline

log = logging.getLogger(__name__)

TREND_DAYS = 30
# A chat is given up on at once for these: it blocked the bot or no longer exists.
CHAT_GONE = (
    errors.UserIsBlockedError,
    errors.InputUserDeactivatedError,
    errors.ChatWriteForbiddenError,
    errors.ChannelPrivateError,
    errors.ChatIdInvalidError,
    errors.PeerIdInvalidError,
    errors.UserDeactivatedError,
    errors.ChannelInvalidError,
)
# A flood wait up to this long is sat out (on the service's clock) and the message sent
# again; a longer one leaves the rest for the next run.
MAX_FLOOD_WAIT = 60
SEND_ATTEMPTS = 3


def access_lost(user_id: int) -> str:
    """Why a chat is no longer served when the user it is served for lost access."""
    return f"subscribed by {user_id}, who may no longer use the bot"


def _reason(error: Exception) -> str:
    """A refusal in Telegram's words: the error's name (UserIsBlocked), or Telegram's own
    message for one Telethon has no class for (TOPIC_CLOSED)."""
    if not isinstance(error, errors.RPCError):
        return "unknown to the bot's session"  # Telethon's ValueError for an unseen peer
    if type(error).__module__ == errors.RPCError.__module__:  # a generic BadRequestError ...
        return str(error.message)
    return type(error).__name__.removesuffix("Error")


async def trend_chart(
    store: Store, pipeline: TextPipeline, term: str, days: int, until: datetime, zone: ZoneInfo
) -> tuple[io.BytesIO, str]:
    """The PNG chart of `term` over the `days` local days up to `until`, and its summary."""
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    first = last - timedelta(days=days - 1)
    since = datetime.combine(first, time(0), tzinfo=zone)
    labels = {channel.id: channel.label for channel in await store.channels()}
    rows = [
        TrendDay(labels.get(channel_id, str(channel_id)), date.fromisoformat(day), posts, mean)
        for channel_id, day, posts, mean in await store.daily_mentions(
            [" ".join(pipeline.lemmas(term))], since, until
        )
    ]
    trend = build_trend(term, [first + timedelta(days=i) for i in range(days)], rows)
    picture = io.BytesIO(await asyncio.to_thread(render_png, trend))
    picture.name = "trend.png"  # the name tells Telegram it is a picture
    return picture, summary(trend)


class Delivery:
    def __init__(
        self,
        client: TelegramClient,
        store: Store,
        settings: Settings,
        pipeline: TextPipeline,
        scorer: Scorer,
        clock: Clock,
        alert_rules: AlertRules,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.pipeline = pipeline
        self.scorer = scorer
        self.clock = clock
        self.alert_rules = alert_rules
        self.backoff = Backoff()
        self.zone = ZoneInfo(settings.timezone)

    async def served(self) -> list[Subscription]:
        """The active subscriptions to serve now: not resting after a failure. One whose
        subscriber may no longer use the bot is ended here, and says so."""
        now = self.clock.now()
        settings = self.settings
        allowed = await self.store.allowed_users() if settings.access != "open" else set()
        chats = []
        for subscription in await self.store.subscriptions():
            if not may_use(
                subscription.subscribed_by, settings.admin_ids, settings.access, allowed
            ):
                log.info(
                    "chat %s is no longer served: its subscriber lost access", subscription.chat_id
                )
                await self.store.deactivate_chat(
                    subscription.chat_id, access_lost(subscription.subscribed_by), now
                )
            elif subscription.retry_at is None or subscription.retry_at <= now:
                chats.append(subscription)
        return chats

    # ---- digests -------------------------------------------------------------------------------

    async def send_due_digests(self) -> int:
        """Send every digest that is due (missed and unfinished ones included); the number of
        digests completed."""
        completed = 0
        now = self.clock.now()
        for subscription in await self.served():
            if subscription.digest_time is None:
                continue
            zone = ZoneInfo(subscription.timezone)
            # Nothing from before the subscription began: a chat subscribed again after it
            # was stopped gets no backlog of the days in between.
            last = await self.store.last_digest_end(subscription.chat_id)
            after = max(last, subscription.since) if last else subscription.since
            for start, end in digest_periods(subscription.digest_time, zone, after, now):
                if not await self._deliver(subscription.chat_id, start, end, zone):
                    break
                completed += 1
        return completed

    async def _plan(self, start: datetime, end: datetime, zone: ZoneInfo) -> list[DigestPart]:
        digest = await build_digest(self.store, self.scorer, start, end, self.clock.now())
        plan = [DigestPart(html=part) for part in render.render_digest(digest, zone)]
        # The chart follows the text: the term that spiked, else the first watched one.
        charted = [s["term"] for s in digest["spikes"]] + [
            t.term for t in await self.store.watch_terms()
        ]
        if charted:
            plan.append(DigestPart(chart_term=charted[0]))
        return plan

    async def _deliver(self, chat: int, start: datetime, end: datetime, zone: ZoneInfo) -> bool:
        """Send one digest from its first part not yet delivered; False when a part did not
        go (the chat refused it, or Telegram asked for a longer wait): the next run goes on
        from there."""
        progress = await self.store.digest_progress(chat, start)
        if progress is None:
            await self.store.begin_digest(chat, start, end, await self._plan(start, end, zone))
            progress = await self.store.digest_progress(chat, start)
            assert progress is not None
        for index in range(progress.parts_sent, len(progress.plan)):
            part = progress.plan[index]
            if part.chart_term is not None:
                picture, caption = await trend_chart(
                    self.store, self.pipeline, part.chart_term, TREND_DAYS, end, zone
                )
                delivered = await self._send(chat, render.escape(caption), picture)
            else:
                delivered = await self._send(chat, part.html or "")
            if not delivered:
                return False
            await self.store.digest_part_sent(chat, start, index + 1, self.clock.now())
        await self.store.set_bot_state(
            "last_digest", f"{end.astimezone(self.zone):%Y-%m-%d %H:%M %Z} to chat {chat}"
        )
        return True

    # ---- sending -------------------------------------------------------------------------------

    async def _send(self, chat_id: int, html: str, picture: io.BytesIO | None = None) -> bool:
        """Send a message (or a picture with `html` as its caption); False when it did not go:
        the chat refused it (recorded on the chat) or Telegram asked for a long wait."""
        for _ in range(SEND_ATTEMPTS):
            try:
                if picture is None:
                    await self.client.send_message(
                        chat_id, html, parse_mode="html", link_preview=False
                    )
                else:
                    picture.seek(0)  # a retry uploads it again from the start
                    await self.client.send_file(chat_id, picture, caption=html, parse_mode="html")
            except errors.FloodWaitError as error:
                if error.seconds > MAX_FLOOD_WAIT:
                    break
                log.info(
                    "flood wait of %s s while sending to chat %s; waiting", error.seconds, chat_id
                )
                await self.clock.sleep(error.seconds)
                continue
            except CHAT_GONE as error:
                await self._refused(chat_id, error, gone=True)
                return False
            except (errors.RPCError, ValueError) as error:
                await self._refused(chat_id, error, gone=False)
                return False
            await self.store.delivered(chat_id, self.clock.now())
            return True
        log.warning("chat %s: Telegram asks for a longer wait; the rest goes next run", chat_id)
        return False

    async def _refused(self, chat_id: int, error: Exception, gone: bool) -> None:
        """Record a refusal on the chat: it rests before the next try, or when it is gone
        or has failed too often in a row, it is no longer served."""
        now = self.clock.now()
        reason = _reason(error)
        failures = await self.store.delivery_failed(chat_id, reason, now)
        retry = None if gone else self.backoff.retry_at(failures, now)
        if retry is None:
            why = reason if gone else f"{reason}, {failures} failures in a row"
            log.info("chat %s is no longer served (%s)", chat_id, why)
            await self.store.deactivate_chat(chat_id, why, now)
        else:
            log.warning("chat %s refused a message (%s); next try %s", chat_id, reason, retry)
            await self.store.retry_chat_at(chat_id, retry)

    # ---- alerts --------------------------------------------------------------------------------

    async def check_alerts(self) -> int:
        """Push new findings to chats with alerts on (or hold them), then release held ones
        whose quiet hours or hourly cap have passed. The number of alerts sent."""
        chats = [s for s in await self.served() if s.alerts]
        if not chats:
            return 0
        now = self.clock.now()
        findings = await alert_findings(self.store, self.scorer, now)
        sent = 0
        for chat in chats:
            sent += await self._alert(chat, findings, now)
        return sent

    async def _alert(
        self, chat: Subscription, findings: list[dict[str, Any]], now: datetime
    ) -> int:
        """The findings for one chat, then its held alerts; stops at the chat's first refusal."""
        zone = ZoneInfo(chat.timezone)
        recent = await self.store.alerts_sent_since(chat.chat_id, now - self.alert_rules.cooldown)
        sent = 0
        for finding in findings:
            key = finding["key"]
            if await self.store.is_alert_held(chat.chat_id, key):
                continue
            decision = decide_alert(key, now, recent, self.alert_rules, zone)
            if decision is AlertDecision.SKIP:
                continue
            text = render.render_alert(finding, zone)
            if decision is AlertDecision.HOLD:
                await self.store.record_alert(chat.chat_id, key, text, now, None)
                continue
            if not await self._send(chat.chat_id, text):
                return sent
            await self.store.record_alert(chat.chat_id, key, text, now, now)
            recent.append((key, now))
            sent += 1
        return sent + await self._release_held(chat, zone, now)

    async def _release_held(self, chat: Subscription, zone: ZoneInfo, now: datetime) -> int:
        if in_quiet_hours(self.alert_rules.quiet, zone, now):
            return 0
        recent = await self.store.alerts_sent_since(chat.chat_id, now - timedelta(hours=1))
        room = self.alert_rules.per_hour - len(recent)
        released = 0
        for held in (await self.store.held_alerts(chat.chat_id))[: max(room, 0)]:
            if not await self._send(chat.chat_id, held.text):
                break
            await self.store.mark_alert_sent(held.id, now)
            released += 1
        return released

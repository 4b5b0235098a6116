"""Who may use the bot, how often, when digests are due and whether an alert goes out now.

Pure functions and small state objects, `now` passed in: the bot's handlers and jobs ask
these and do the I/O themselves.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

# ---- access --------------------------------------------------------------------------------


def may_use(user_id: int, admins: frozenset[int], access: str, allowed: Iterable[int]) -> bool:
    """By numeric id only: usernames change hands, ids do not."""
    return access == "open" or user_id in admins or user_id in set(allowed)


# How many users the limiter and the refusal memory keep at most: past it the least recently
# seen are forgotten, so a crowd of accounts costs bounded memory (the worst it buys is a
# fresh allowance or a second refusal for the oldest of them).
MAX_TRACKED_USERS = 10_000


@dataclass
class _Usage:
    last: datetime  # the latest check, accepted or not
    seen: deque[datetime] = field(default_factory=deque)  # accepted, within the window
    warned: datetime | None = None


@dataclass
class RateLimiter:
    """At most `limit` commands and button presses per user in any `window`; the first
    refused one in a window gets a polite answer, the rest are ignored so a flood costs no
    replies. Users not seen for a window are forgotten, and at most `max_users` are kept."""

    limit: int = 20
    window: timedelta = timedelta(minutes=1)
    max_users: int = MAX_TRACKED_USERS
    # Least recently seen first: forgetting takes from the front.
    _users: OrderedDict[int, _Usage] = field(default_factory=OrderedDict)

    def check(self, user_id: int, now: datetime) -> str:
        """ "ok", "warn" (refuse with a sentence) or "drop" (refuse silently)."""
        # Nothing of a user last seen a window ago matters any more.
        while self._users and now - next(iter(self._users.values())).last >= self.window:
            self._users.popitem(last=False)
        usage = self._users.pop(user_id, None) or _Usage(now)
        self._users[user_id] = usage
        while len(self._users) > self.max_users:
            self._users.popitem(last=False)
        usage.last = now
        while usage.seen and now - usage.seen[0] >= self.window:
            usage.seen.popleft()
        if len(usage.seen) < self.limit:
            usage.seen.append(now)
            return "ok"
        if usage.warned is not None and now - usage.warned < self.window:
            return "drop"
        usage.warned = now
        return "warn"

    def __len__(self) -> int:
        return len(self._users)


@dataclass
class RefusalMemory:
    """Whom the bot told "this bot is private" lately: a stranger hears it once per `quiet`,
    so writing to the bot again and again costs it no replies. Bounded like the limiter."""

    quiet: timedelta = timedelta(hours=1)
    max_users: int = MAX_TRACKED_USERS
    # When each was refused, oldest first (entries are only ever added at the end).
    _refused: OrderedDict[int, datetime] = field(default_factory=OrderedDict)

    def should_answer(self, user_id: int, now: datetime) -> bool:
        """True (and remembered) when `user_id` has not been refused within `quiet`."""
        while self._refused and now - next(iter(self._refused.values())) >= self.quiet:
            self._refused.popitem(last=False)
        if user_id in self._refused:
            return False
        self._refused[user_id] = now
        while len(self._refused) > self.max_users:
            self._refused.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._refused)


# ---- digests --------------------------------------------------------------------------------

MAX_MISSED_DIGESTS = 7


def digest_periods(
    at: time, zone: ZoneInfo, after: datetime, now: datetime, limit: int = MAX_MISSED_DIGESTS
) -> list[tuple[datetime, datetime]]:
    """The digest periods due by `now` whose end is later than `after` (the end of the last
    one sent, or when the subscription began), oldest first, at most the latest `limit`.

    A period is the local day before a digest time: from `at` on one local date to `at` on
    the next, so a daylight-saving change gives a 23- or 25-hour period rather than a
    shifted send time. Returned in UTC."""
    local_now = now.astimezone(zone)
    ends: list[datetime] = []
    day = local_now.date()
    while len(ends) < limit:
        end = datetime.combine(day, at, tzinfo=zone)
        if end <= local_now:
            if end <= after.astimezone(zone):
                break
            ends.append(end)
        day -= timedelta(days=1)
    periods = []
    for end in reversed(ends):
        start = datetime.combine(end.date() - timedelta(days=1), at, tzinfo=zone)
        periods.append((start.astimezone(now.tzinfo), end.astimezone(now.tzinfo)))
    return periods


def next_digest_at(at: time, zone: ZoneInfo, now: datetime) -> datetime:
    """The next moment (UTC) the local clock in `zone` shows `at`, after `now`."""
    local_now = now.astimezone(zone)
    day = local_now.date()
    while (candidate := datetime.combine(day, at, tzinfo=zone)) <= local_now:
        day += timedelta(days=1)
    return candidate.astimezone(now.tzinfo)


# ---- failed deliveries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """How long a chat that refused a delivery rests before the next try: `first`, doubled
    with each failure in a row up to `longest`; after `give_up_after` failures in a row
    (about eleven hours of tries with the defaults) it is no longer served."""

    first: timedelta = timedelta(minutes=5)
    longest: timedelta = timedelta(hours=6)
    give_up_after: int = 8

    def retry_at(self, failures: int, now: datetime) -> datetime | None:
        """When to try the chat again after its `failures`-th failure in a row; None: give up."""
        if failures >= self.give_up_after:
            return None
        # The exponent is bounded so a long run of failures cannot overflow the timedelta.
        return now + min(self.first * (1 << min(max(failures - 1, 0), 20)), self.longest)


# ---- alerts ----------------------------------------------------------------------------------


class AlertDecision(Enum):
    SEND = "send"
    HOLD = "hold"  # quiet hours or this hour's cap: send later, never drop
    SKIP = "skip"  # the same finding went out within the cool-down


@dataclass(frozen=True)
class AlertRules:
    cooldown: timedelta = timedelta(hours=6)
    per_hour: int = 5
    quiet: tuple[time, time] | None = (time(23, 0), time(7, 0))  # local, may span midnight


def in_quiet_hours(quiet: tuple[time, time] | None, zone: ZoneInfo, now: datetime) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    clock = now.astimezone(zone).time()
    return start <= clock < end if start <= end else clock >= start or clock < end


def decide_alert(
    key: str,
    now: datetime,
    sent: list[tuple[str, datetime]],
    rules: AlertRules,
    zone: ZoneInfo,
) -> AlertDecision:
    """Whether the finding `key` (kind, term and channel) goes to a chat now, given what was
    sent to that chat recently (`sent`: key and time)."""
    if any(k == key and now - at < rules.cooldown for k, at in sent):
        return AlertDecision.SKIP
    if in_quiet_hours(rules.quiet, zone, now):
        return AlertDecision.HOLD
    if sum(1 for _, at in sent if now - at < timedelta(hours=1)) >= rules.per_hour:
        return AlertDecision.HOLD
    return AlertDecision.SEND

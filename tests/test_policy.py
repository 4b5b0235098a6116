"""Access, rate limits, digest periods and the alert gate, table by table with `now` given."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.bot.policy import (
    AlertDecision,
    AlertRules,
    Backoff,
    RateLimiter,
    RefusalMemory,
    decide_alert,
    digest_periods,
    in_quiet_hours,
    may_use,
    next_digest_at,
)

UTC_ZONE = ZoneInfo("UTC")
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("user", "access", "allowed", "expected"),
    [
        (1, "allowlist", [], True),  # an admin
        (2, "allowlist", [], False),
        (2, "allowlist", [2], True),
        (3, "open", [], True),
    ],
)
def test_may_use(user: int, access: str, allowed: list[int], expected: bool) -> None:
    assert may_use(user, frozenset({1}), access, allowed) is expected


def test_rate_limiter_answers_once_then_drops_until_the_window_moves() -> None:
    limiter = RateLimiter(limit=3, window=timedelta(minutes=1))
    now = at("2024-11-06T09:00:00")
    assert [limiter.check(7, now) for _ in range(5)] == ["ok", "ok", "ok", "warn", "drop"]
    assert limiter.check(8, now) == "ok"  # per user
    assert limiter.check(7, now + timedelta(seconds=61)) == "ok"


def test_rate_limiter_forgets_users_gone_quiet_and_keeps_at_most_its_cap() -> None:
    limiter = RateLimiter(limit=3, window=timedelta(minutes=1), max_users=100)
    now = at("2024-11-06T09:00:00")
    for user in range(50):
        limiter.check(user, now)
    assert len(limiter) == 50
    later = now + timedelta(seconds=30)
    limiter.check(1, later)
    # A window after the crowd, only the one seen since is still tracked.
    assert limiter.check(999, now + timedelta(seconds=60)) == "ok" and len(limiter) == 2
    for user in range(1000, 1500):
        limiter.check(user, later + timedelta(seconds=45))
    assert len(limiter) == 100


def test_rate_limiter_keeps_a_flooding_user_refused_while_others_come_and_go() -> None:
    limiter = RateLimiter(limit=2, window=timedelta(minutes=1), max_users=3)
    now = at("2024-11-06T09:00:00")
    answers = []
    for second in range(10):
        answers.append(limiter.check(7, now + timedelta(seconds=second)))
        limiter.check(100 + second, now + timedelta(seconds=second))  # one newcomer a second
    # The newcomers push out one another, not the user seen most recently.
    assert answers == ["ok", "ok", "warn", *["drop"] * 7]


def test_a_stranger_is_refused_once_an_hour() -> None:
    memory = RefusalMemory(quiet=timedelta(hours=1))
    now = at("2024-11-06T09:00:00")
    assert [memory.should_answer(5, now + timedelta(minutes=m)) for m in (0, 1, 59)] == [
        True, False, False,
    ]  # fmt: skip
    assert memory.should_answer(6, now + timedelta(minutes=2))  # per user
    assert memory.should_answer(5, now + timedelta(minutes=60))
    assert not memory.should_answer(5, now + timedelta(minutes=61))


def test_the_refusal_memory_forgets_after_the_hour_and_keeps_at_most_its_cap() -> None:
    memory = RefusalMemory(quiet=timedelta(hours=1), max_users=100)
    now = at("2024-11-06T09:00:00")
    for user in range(500):
        memory.should_answer(user, now)
    assert len(memory) == 100
    assert memory.should_answer(0, now)  # pushed out by the crowd: refused once more
    memory.should_answer(1, now + timedelta(minutes=30))
    assert memory.should_answer(2, now + timedelta(hours=1)) and len(memory) == 2


@pytest.mark.parametrize(
    ("clock", "zone", "after", "now", "expected"),
    [
        # Due today at 08:00 UTC, nothing sent yet since yesterday evening.
        ("08:00", UTC_ZONE, "2024-11-05T20:00:00", "2024-11-06T08:00:00",
         [("2024-11-05T08:00:00", "2024-11-06T08:00:00")]),
        # Not yet due.
        ("08:00", UTC_ZONE, "2024-11-05T20:00:00", "2024-11-06T07:59:59", []),
        # Already sent today.
        ("08:00", UTC_ZONE, "2024-11-06T08:00:00", "2024-11-06T12:00:00", []),
        # Down for three days: the three missed periods, oldest first.
        ("08:00", UTC_ZONE, "2024-11-03T08:00:00", "2024-11-06T09:00:00",
         [("2024-11-03T08:00:00", "2024-11-04T08:00:00"), ("2024-11-04T08:00:00", "2024-11-05T08:00:00"),
          ("2024-11-05T08:00:00", "2024-11-06T08:00:00")]),
        # 08:00 in Moscow is 05:00 UTC.
        ("08:00", MOSCOW, "2024-11-05T06:00:00", "2024-11-06T05:30:00",
         [("2024-11-05T05:00:00", "2024-11-06T05:00:00")]),
        # The night Berlin leaves summer time: a 25-hour period, still sent at 08:00 local.
        ("08:00", BERLIN, "2024-10-26T06:00:00", "2024-10-27T07:30:00",
         [("2024-10-26T06:00:00", "2024-10-27T07:00:00")]),
    ],
)  # fmt: skip
def test_digest_periods(
    clock: str, zone: ZoneInfo, after: str, now: str, expected: list[tuple[str, str]]
) -> None:
    periods = digest_periods(time.fromisoformat(clock), zone, at(after), at(now))
    assert periods == [(at(a), at(b)) for a, b in expected]


def test_a_long_outage_sends_only_the_latest_missed_digests() -> None:
    periods = digest_periods(
        time(8), UTC_ZONE, at("2024-10-01T00:00:00"), at("2024-11-06T09:00:00")
    )
    assert len(periods) == 7 and periods[-1][1] == at("2024-11-06T08:00:00")


@pytest.mark.parametrize(
    ("clock", "zone", "now", "expected"),
    [
        ("08:00", UTC_ZONE, "2024-11-06T07:00:00", "2024-11-06T08:00:00"),
        ("08:00", UTC_ZONE, "2024-11-06T08:00:00", "2024-11-07T08:00:00"),
        ("08:00", MOSCOW, "2024-11-06T06:00:00", "2024-11-07T05:00:00"),
    ],
)
def test_next_digest_at(clock: str, zone: ZoneInfo, now: str, expected: str) -> None:
    assert next_digest_at(time.fromisoformat(clock), zone, at(now)) == at(expected)


@pytest.mark.parametrize(
    ("quiet", "now", "expected"),
    [
        ((time(23), time(7)), "2024-11-06T23:30:00", True),
        ((time(23), time(7)), "2024-11-06T06:59:00", True),
        ((time(23), time(7)), "2024-11-06T07:00:00", False),
        ((time(13), time(14)), "2024-11-06T13:10:00", True),
        (None, "2024-11-06T03:00:00", False),
    ],
)
def test_quiet_hours(quiet: tuple[time, time] | None, now: str, expected: bool) -> None:
    assert in_quiet_hours(quiet, UTC_ZONE, at(now)) is expected


NOON = at("2024-11-06T12:00:00")
RULES = AlertRules(cooldown=timedelta(hours=6), per_hour=2, quiet=(time(23), time(7)))


@pytest.mark.parametrize(
    ("key", "now", "sent", "expected"),
    [
        ("spike:трамп:1", NOON, [], AlertDecision.SEND),
        ("spike:трамп:1", NOON, [("spike:трамп:1", NOON - timedelta(hours=5))], AlertDecision.SKIP),
        ("spike:трамп:1", NOON, [("spike:трамп:1", NOON - timedelta(hours=6))], AlertDecision.SEND),
        ("spike:трамп:1", NOON, [("a", NOON - timedelta(minutes=5)), ("b", NOON - timedelta(minutes=50))],
         AlertDecision.HOLD),  # the hour's cap
        ("spike:трамп:1", NOON, [("a", NOON - timedelta(minutes=61)), ("b", NOON - timedelta(minutes=70))],
         AlertDecision.SEND),
        ("spike:трамп:1", at("2024-11-06T23:15:00"), [], AlertDecision.HOLD),  # quiet hours
    ],
)  # fmt: skip
def test_decide_alert(
    key: str, now: datetime, sent: list[tuple[str, datetime]], expected: AlertDecision
) -> None:
    assert decide_alert(key, now, sent, RULES, UTC_ZONE) is expected


@pytest.mark.parametrize(
    ("failures", "rest"),
    [(1, timedelta(minutes=5)), (2, timedelta(minutes=10)), (3, timedelta(minutes=20)),
     (6, timedelta(minutes=160)), (7, timedelta(hours=5, minutes=20)), (8, None), (50, None)],
)  # fmt: skip
def test_a_failing_chat_rests_twice_as_long_each_time_then_is_given_up(
    failures: int, rest: timedelta | None
) -> None:
    now = at("2024-11-06T09:00:00")
    retry = Backoff().retry_at(failures, now)
    assert (None if retry is None else retry - now) == rest


def test_the_rest_is_capped_and_a_long_run_of_failures_does_not_overflow() -> None:
    now = at("2024-11-06T09:00:00")
    patient = Backoff(first=timedelta(days=1), longest=timedelta(days=3), give_up_after=10**6)
    assert [patient.retry_at(n, now) for n in (1, 2, 3, 10**5)] == [
        now + timedelta(days=d) for d in (1, 2, 3, 3)
    ]

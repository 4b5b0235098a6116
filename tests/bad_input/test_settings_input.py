"""Any settings, from the environment or a .env file as bytes: they load into settings the
program can run with, or stop it with one sentence that names the setting (or the file) and
never repeats a secret. tests/test_config.py covers the messages one by one and random text
for a dozen names; these cover every setting, hostile values, and broken .env files."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import event, example, given
from hypothesis import strategies as st

from monitor.config import ConfigError, Settings, load_settings
from monitor.telegram.collector import history_start
from tests.bad_input.conftest import LARGE_REPORTS, examples
from tests.bad_input.strategies import hostile_text, one_sentence

pytestmark = LARGE_REPORTS

NOW = datetime(2024, 11, 20, tzinfo=UTC)
# Secrets carry a marker no other generated value can contain, so a leak is found wherever
# it lands in a message.
MARKER = "Qz7SECRETzQ7"
GOOD_HASH = "5ec2e75ec2e75ec2e75ec2e75ec2e75e"
GOOD_TOKEN = "123456:AAH" + MARKER * 3
SECRETS = {
    "TG_API_HASH": st.sampled_from([GOOD_HASH, MARKER, f"{MARKER}-not-hex", f" {GOOD_HASH}x"]),
    "TG_BOT_TOKEN": st.sampled_from([GOOD_TOKEN, MARKER, f"12:{MARKER}", f"{GOOD_TOKEN}\u200b"]),
    "TG_SESSION": st.sampled_from([f"1BV{MARKER}", f"  {MARKER}  ", MARKER + "\u202e"]),
}
SECRET_VALUES = (GOOD_HASH, MARKER)

INTEGERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "1", " 5 ", "5.0", "1_000", "٥", "²", "0x10", "1e3", "-0", "9" * 5000,
                     "2147483648", "525601", "8761", "99999999999"]),
)  # fmt: skip
ZONES = st.sampled_from(["UTC", "Europe/Moscow", "Europe", "Europe/", "../etc/passwd", "a" * 5000,
                         "posix/Europe/Kyiv", "zone.tab", "Etc/GMT+14", "Mars/Olympus", "utc",
                         " Europe/Kyiv ", "Europe/Kyiv\u200f"])  # fmt: skip
CLOCKS = st.sampled_from(["08:00", "8:0", "24:00", "23:59", "-1:00", "08:00:00", "٠٨:٠٠", "8",
                          "08.00", "08:00 PM", "", "none"])  # fmt: skip
PATHS = st.sampled_from(["~", "~nosuchuser/x", "a" * 5000, "/", "data/\x00x", "/tmp/x\udcff",
                         "относительный/путь", "/proc/self/status", "~/" + "b" * 300, "."])  # fmt: skip
VALUES = {
    "DATA_DIR": PATHS, "DB_PATH": PATHS, "SENTIMENT_LEXICON": PATHS, "SENTIMENT_MODEL": PATHS,
    "TG_API_ID": INTEGERS, "BACKFILL_DAYS": INTEGERS, "CATCHUP_MINUTES": INTEGERS,
    "COMMANDS_PER_MINUTE": INTEGERS, "ALERT_COOLDOWN_HOURS": INTEGERS, "ALERTS_PER_HOUR": INTEGERS,
    "TIMEZONE": ZONES, "DIGEST_TIME": CLOCKS,
    "QUIET_HOURS": st.tuples(CLOCKS, st.sampled_from(["-", "–", " - ", ""]), CLOCKS).map("".join),
    "ADMIN_IDS": st.lists(INTEGERS, max_size=4).flatmap(
        lambda ids: st.sampled_from([", ", " ", ",", ";"]).map(lambda sep: sep.join(ids))
    ),
    "ACCESS": st.sampled_from(["allowlist", "OPEN", "Open ", "everyone", "allow list"]),
    "LOG_LEVEL": st.sampled_from(["debug", "INFO", "warning", "Error", "TRACE", "loud"]),
}  # fmt: skip
NAMES = sorted([*VALUES, *SECRETS])


@st.composite
def settings_values(draw: st.DrawFn) -> dict[str, str]:
    chosen = draw(st.sets(st.sampled_from(NAMES), max_size=8))
    return {
        name: draw(
            st.one_of(SECRETS[name])
            if name in SECRETS
            else st.one_of(VALUES[name], VALUES[name], hostile_text(surrogates=True))
        )
        for name in chosen
    }


@st.composite
def dotenv_bytes(draw: st.DrawFn, values: dict[str, str]) -> bytes:
    """`values` as a .env file: quoted or not, with comments, odd line ends, and damage."""
    lines = [b"# settings"]
    for name, value in values.items():
        raw = value.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes not UTF-8
        quote = draw(st.sampled_from([b"", b"", b'"', b"'"]))
        export = draw(st.sampled_from([b"", b"export "]))
        lines.append(export + name.encode() + b"=" + quote + raw + quote)
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + end.join(lines) + end
    if draw(st.booleans()):
        where = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b'"', b"'", b"\\", b"=", b"\n="]))
        data = data[:where] + junk + data[where:]
    return data


def assert_usable(loaded: Settings) -> None:
    """What `run` builds from the settings can be built."""
    ZoneInfo(loaded.timezone)
    assert loaded.api_id is None or 0 < loaded.api_id < 2**31  # a 32-bit int on the wire
    IntervalTrigger(minutes=loaded.catchup_minutes).get_next_fire_time(None, NOW)
    assert NOW + timedelta(hours=loaded.alert_cooldown_hours) > NOW - timedelta(days=1)
    history_start(NOW, loaded.backfill_days)
    assert loaded.quiet_hours is None or loaded.quiet_hours[0] != loaded.quiet_hours[1]
    assert min(loaded.commands_per_minute, loaded.alerts_per_hour, loaded.catchup_minutes) >= 1
    assert all(value > 0 for value in loaded.admin_ids)


def assert_one_named_sentence(message: str, dotenv: Path | None) -> None:
    named = [name for name in NAMES if message.startswith(name + " ")]
    assert named or (dotenv is not None and message.startswith(str(dotenv))), message[:300]
    assert one_sentence(message, limit=300 + len(str(dotenv or ""))), message[:400]
    assert not any(secret in message for secret in SECRET_VALUES), message[:300]


_files = itertools.count()


@examples(300)
@given(values=settings_values(), via=st.sampled_from(["environment", "dotenv", "both"]),
       data=st.data())  # fmt: skip
@example(values={"TIMEZONE": "Europe"}, via="environment", data=None)
@example(values={"TIMEZONE": "a" * 5000}, via="environment", data=None)
@example(values={"TIMEZONE": "a." * 600 + "/x"}, via="environment", data=None)
@example(values={"SENTIMENT_LEXICON": "a" * 5000}, via="environment", data=None)
@example(values={"TG_API_ID": "99999999999"}, via="environment", data=None)
@example(values={"ALERT_COOLDOWN_HOURS": "99999999999"}, via="environment", data=None)
@example(values={"CATCHUP_MINUTES": "99999999999"}, via="environment", data=None)
@example(values={"BACKFILL_DAYS": "99999999999"}, via="environment", data=None)
@example(values={"DIGEST_TIME": "x" * 100_000}, via="environment", data=None)
@example(values={"TIMEZONE": "\udcff\udcfe"}, via="dotenv", data=None)  # bytes not UTF-8
def test_any_settings_load_usably_or_stop_with_one_sentence(
    tmp_path: Path, values: dict[str, str], via: str, data: st.DataObject | None
) -> None:
    dotenv = None
    environ = values if via != "dotenv" else {}
    if via != "environment":
        dotenv = tmp_path / f"{next(_files)}.env"
        dotenv.write_bytes(
            data.draw(dotenv_bytes(values))
            if data is not None
            else "".join(f"{k}={v}\n" for k, v in values.items()).encode("utf-8", "surrogatepass")
        )
    try:
        loaded = load_settings(environ, dotenv_path=dotenv)
    except ConfigError as error:
        assert_one_named_sentence(str(error), dotenv)
        event("a sentence")
        return
    event("loaded")
    assert_usable(loaded)
    for secret in SECRET_VALUES:
        assert secret not in repr(loaded)

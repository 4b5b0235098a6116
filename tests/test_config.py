"""Settings: defaults, environment over .env, and one sentence naming each bad value."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import ConfigError, Settings, load_settings

GOOD_HASH = "0123456789abcdef0123456789abcdef"
GOOD_TOKEN = "123456:" + "A" * 35


def test_defaults(tmp_path: Path) -> None:
    loaded = load_settings({}, dotenv_path=tmp_path / "missing.env")
    assert loaded == Settings()
    assert loaded.db_path == Path("data/monitor.db")


def test_environment_wins_over_dotenv_and_empty_means_unset(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TG_API_ID=111\nTIMEZONE=Europe/Berlin\nBACKFILL_DAYS=\nDATA_DIR=/srv/tg\n")
    loaded = load_settings({"TG_API_ID": "222"}, dotenv_path=dotenv)
    assert loaded.api_id == 222
    assert loaded.timezone == "Europe/Berlin"
    assert loaded.backfill_days == 30
    assert loaded.db_path == Path("/srv/tg/monitor.db")


def test_every_setting_parses() -> None:
    loaded = load_settings(
        {
            "TG_API_ID": "12345", "TG_API_HASH": GOOD_HASH, "TG_BOT_TOKEN": GOOD_TOKEN,
            "TG_SESSION": "1BVtsOK...", "DB_PATH": "/tmp/x.db", "BACKFILL_DAYS": "0",
            "CATCHUP_MINUTES": "5", "TIMEZONE": "Europe/Kyiv", "DIGEST_TIME": "7:30",
            "ADMIN_IDS": "1, 22 333", "ACCESS": "OPEN", "LOG_LEVEL": "debug",
            "COMMANDS_PER_MINUTE": "5", "ALERT_COOLDOWN_HOURS": "0", "ALERTS_PER_HOUR": "2",
            "QUIET_HOURS": "22:30-06:00",
        },
        dotenv_path=None,
    )  # fmt: skip
    assert loaded.api_id == 12345
    assert loaded.db_path == Path("/tmp/x.db")
    assert loaded.backfill_days == 0
    assert loaded.digest_time == time(7, 30)
    assert loaded.admin_ids == frozenset({1, 22, 333})
    assert (loaded.access, loaded.log_level) == ("open", "DEBUG")
    assert (loaded.commands_per_minute, loaded.alert_cooldown_hours, loaded.alerts_per_hour) == (
        5,
        0,
        2,
    )
    assert loaded.quiet_hours == (time(22, 30), time(6, 0))
    assert load_settings({"QUIET_HOURS": "None"}, dotenv_path=None).quiet_hours is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TG_API_ID", "abc", "TG_API_ID must be an integer, got 'abc'"),
        ("TG_API_ID", "-5", "TG_API_ID must be at least 1, got '-5'"),
        ("BACKFILL_DAYS", "-1", "BACKFILL_DAYS must be at least 0, got '-1'"),
        ("CATCHUP_MINUTES", "0", "CATCHUP_MINUTES must be at least 1, got '0'"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE must be an IANA time zone such as Europe/Berlin, got 'Mars/Olympus'"),
        ("DIGEST_TIME", "25:00", "DIGEST_TIME must be a time of day as HH:MM, got '25:00'"),
        ("ADMIN_IDS", "12,@boss", "ADMIN_IDS must be an integer, got '@boss'"),
        ("ACCESS", "everyone", "ACCESS must be one of allowlist, open, got 'everyone'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got 'loud'"),
        ("QUIET_HOURS", "23:00", "QUIET_HOURS must be two times as HH:MM-HH:MM (or none), got '23:00'"),
        ("QUIET_HOURS", "07:00-07:00", "QUIET_HOURS must be two times as HH:MM-HH:MM (or none), got '07:00-07:00'"),
        ("ALERTS_PER_HOUR", "0", "ALERTS_PER_HOUR must be at least 1, got '0'"),
        ("SENTIMENT_LEXICON", "/nonexistent/lex.tsv", "SENTIMENT_LEXICON points to '/nonexistent/lex.tsv', which does not exist"),
    ],
)  # fmt: skip
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value}, dotenv_path=None)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("name", "secret"), [("TG_API_HASH", "not-a-hash-SECRET"), ("TG_BOT_TOKEN", "SECRET")]
)
def test_bad_secrets_are_described_without_being_repeated(name: str, secret: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: secret}, dotenv_path=None)
    assert name in str(raised.value)
    assert secret not in str(raised.value)


def test_secrets_stay_out_of_repr() -> None:
    loaded = load_settings(
        {"TG_API_HASH": GOOD_HASH, "TG_BOT_TOKEN": GOOD_TOKEN, "TG_SESSION": "SESSIONSTRING"},
        dotenv_path=None,
    )
    text = repr(loaded)
    assert GOOD_HASH not in text and GOOD_TOKEN not in text and "SESSIONSTRING" not in text


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().api_id = 5  # type: ignore[misc]


NAMES = ["TG_API_ID", "TG_API_HASH", "TG_BOT_TOKEN", "BACKFILL_DAYS", "CATCHUP_MINUTES",
         "TIMEZONE", "DIGEST_TIME", "ADMIN_IDS", "ACCESS", "LOG_LEVEL", "DB_PATH", "DATA_DIR"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES), st.text(max_size=50)))
def test_any_environment_loads_or_gives_one_sentence(environ: dict[str, str]) -> None:
    try:
        load_settings(environ, dotenv_path=None)
    except ConfigError as error:
        message = str(error)
        assert message.split(" ")[0] in NAMES
        assert "\n" not in message

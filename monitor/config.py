"""Settings: read once from the environment and `.env`, validated, then frozen.

This is the only module that reads the environment. Every error names the variable and
the value it got, so a typo in `.env` is fixed in one look.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from monitor.quoting import quoted

T = TypeVar("T")

ACCESS_MODES = ("allowlist", "open")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting has a value this program cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/monitor.db")
    data_dir: Path = Path("data")
    api_id: int | None = None
    # Secrets stay out of repr() so a logged Settings object leaks nothing.
    api_hash: str | None = field(default=None, repr=False)
    bot_token: str | None = field(default=None, repr=False)
    session_string: str | None = field(default=None, repr=False)
    backfill_days: int = 30
    catchup_minutes: int = 10
    timezone: str = "UTC"
    digest_time: time = time(8, 0)
    admin_ids: frozenset[int] = frozenset()
    access: str = "allowlist"
    commands_per_minute: int = 20
    alert_cooldown_hours: int = 6
    alerts_per_hour: int = 5
    quiet_hours: tuple[time, time] | None = (time(23, 0), time(7, 0))
    log_level: str = "INFO"
    sentiment_lexicon: Path | None = None
    sentiment_model: Path | None = None

    def with_db(self, path: str | Path | None) -> Settings:
        """The same settings with the database path a command line `--db` asked for."""
        return self if path is None else replace(self, db_path=Path(path))


def _integer(name: str, raw: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {quoted(raw)}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {quoted(raw)}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum:,}, got {quoted(raw)}")
    return value


def _positive_id(name: str, raw: str) -> int:
    return _integer(name, raw, minimum=1)


# Bounds past which a value cannot be used: Telegram sends the api_id as a 32-bit integer,
# and intervals are added to dates (a year already means "practically never").
API_ID_MAX = 2**31 - 1
MINUTES_IN_A_YEAR = 525_600
HOURS_IN_A_YEAR = 8_760


def _timezone(name: str, raw: str) -> str:
    zone = raw.strip()
    if not is_time_zone(zone):
        raise ConfigError(
            f"{name} must be an IANA time zone such as Europe/Berlin, got {quoted(raw)}"
        )
    return zone


# IANA names: ASCII words joined by "/", the longest 32 characters. Anything else is refused
# before ZoneInfo, which imports a module per dot (600 dots exhaust the recursion limit).
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,3}")


def is_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone. Shared with the bot's /subscribe."""
    if len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe"), or
        return False  # a name longer than a file name may be
    return True


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_clock(raw: str) -> time | None:
    """`08:00` -> time(8, 0); anything else -> None. Shared with the bot's /subscribe."""
    match = _CLOCK.fullmatch(raw.strip())
    return time(int(match[1]), int(match[2])) if match else None


def _clock(name: str, raw: str) -> time:
    parsed = parse_clock(raw)
    if parsed is None:
        raise ConfigError(f"{name} must be a time of day as HH:MM, got {quoted(raw)}")
    return parsed


def _id_list(name: str, raw: str) -> frozenset[int]:
    parts = [part for part in re.split(r"[,\s]+", raw.strip()) if part]
    return frozenset(_positive_id(name, part) for part in parts)


def _choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        for option in options:
            if value.lower() == option.lower():
                return option
        raise ConfigError(f"{name} must be one of {', '.join(options)}, got {quoted(raw)}")

    return parse


def _existing_path(name: str, raw: str) -> Path:
    path = _path(name, raw)
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        raise ConfigError(f"{name} cannot be used: {error.strerror} ({quoted(raw)})") from None
    if not exists:
        raise ConfigError(f"{name} points to {quoted(raw)}, which does not exist")
    return path


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _path(name: str, raw: str) -> Path:
    if "\x00" in raw:
        raise ConfigError(f"{name} must be a file path, got {quoted(raw)}")
    try:
        return Path(raw.strip()).expanduser()
    except RuntimeError:  # ~user of a user this machine does not have
        raise ConfigError(
            f"{name} names a home folder that does not exist: {quoted(raw)}"
        ) from None


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Build Settings from `environ` (default: the process environment) over `.env`.

    A variable set in the environment wins over the same one in `.env`; an empty value
    counts as unset, so `TG_SESSION=` in a copied example file changes nothing.
    """
    merged: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        merged.update(_dotenv(Path(dotenv_path)))
    merged.update(os.environ if environ is None else environ)

    values: dict[str, object] = {}

    def take(name: str, attr: str, parse: Callable[[str, str], T]) -> None:
        raw = merged.get(name, "")
        if raw.strip():
            values[attr] = parse(name, raw)

    take("DATA_DIR", "data_dir", _path)
    take("DB_PATH", "db_path", _path)
    if "db_path" not in values:
        values["db_path"] = Path(values.get("data_dir", Settings.data_dir)) / "monitor.db"  # type: ignore[arg-type]
    take("TG_API_ID", "api_id", lambda n, r: _integer(n, r, minimum=1, maximum=API_ID_MAX))
    take("TG_API_HASH", "api_hash", _api_hash)
    take("TG_BOT_TOKEN", "bot_token", _bot_token)
    take("TG_SESSION", "session_string", _text)
    take("BACKFILL_DAYS", "backfill_days", lambda n, r: _integer(n, r, minimum=0))
    take("CATCHUP_MINUTES", "catchup_minutes",
         lambda n, r: _integer(n, r, minimum=1, maximum=MINUTES_IN_A_YEAR))  # fmt: skip
    take("TIMEZONE", "timezone", _timezone)
    take("DIGEST_TIME", "digest_time", _clock)
    take("ADMIN_IDS", "admin_ids", _id_list)
    take("ACCESS", "access", _choice(ACCESS_MODES))
    take("COMMANDS_PER_MINUTE", "commands_per_minute", lambda n, r: _integer(n, r, minimum=1))
    take("ALERT_COOLDOWN_HOURS", "alert_cooldown_hours",
         lambda n, r: _integer(n, r, minimum=0, maximum=HOURS_IN_A_YEAR))  # fmt: skip
    take("ALERTS_PER_HOUR", "alerts_per_hour", lambda n, r: _integer(n, r, minimum=1))
    take("QUIET_HOURS", "quiet_hours", _quiet_hours)
    take("LOG_LEVEL", "log_level", _choice(LOG_LEVELS))
    take("SENTIMENT_LEXICON", "sentiment_lexicon", _existing_path)
    take("SENTIMENT_MODEL", "sentiment_model", _existing_path)
    return Settings(**values)  # type: ignore[arg-type]


def _dotenv(path: Path) -> dict[str, str]:
    """The variables a .env file sets. Read here, not by python-dotenv, whose decoding error
    would surface as a traceback."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be read); save it as UTF-8"
        ) from None
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def _quiet_hours(name: str, raw: str) -> tuple[time, time] | None:
    if raw.strip().lower() == "none":
        return None
    start, _, end = raw.partition("-")
    first, last = parse_clock(start), parse_clock(end)
    if first is None or last is None or first == last:
        raise ConfigError(f"{name} must be two times as HH:MM-HH:MM (or none), got {quoted(raw)}")
    return first, last


def _api_hash(name: str, raw: str) -> str:
    value = raw.strip()
    # The value itself is a secret: the message describes it without quoting it.
    if not re.fullmatch(r"[0-9a-fA-F]{32}", value):
        raise ConfigError(f"{name} must be the 32 hexadecimal characters from my.telegram.org")
    return value


def _bot_token(name: str, raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{30,}", value):
        raise ConfigError(f"{name} must look like 123456:ABC... as given by @BotFather")
    return value

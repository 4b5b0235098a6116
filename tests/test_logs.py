"""Log lines are key=value and never carry a secret or a phone number."""

from __future__ import annotations

import io
import logging

from monitor.config import Settings
from monitor.logs import MASK, configure_logging

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"
HASH = "0123456789abcdef0123456789abcdef"


def test_lines_are_key_value_and_secrets_are_masked() -> None:
    stream = io.StringIO()
    settings = Settings(
        api_hash=HASH, bot_token=TOKEN, session_string="1BSESSIONSTRING", log_level="INFO"
    )
    configure_logging(settings, stream)
    try:
        log = logging.getLogger("monitor.test")
        log.info("signed in with %s and %s, phone +7 (912) 345-67-89", TOKEN, HASH)
        log.warning('session "1BSESSIONSTRING" used\nsecond line')
        log.debug("not shown at INFO")
    finally:
        configure_logging(Settings(), io.StringIO())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("time=") and " level=" in line and " logger=monitor.test msg=" in line
        for line in lines
    )
    text = stream.getvalue()
    for secret in (TOKEN, HASH, "1BSESSIONSTRING", "345-67-89"):
        assert secret not in text
    assert text.count(MASK) == 4 and "\\nsecond line" in lines[1]


def test_ids_are_not_mistaken_for_phone_numbers() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_level="INFO"), stream)
    try:
        logging.getLogger("monitor.test").info("chat -1001700000002 is unreachable")
    finally:
        configure_logging(Settings(), io.StringIO())
    assert "-1001700000002" in stream.getvalue()

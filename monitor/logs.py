"""Logging for the service: one `key=value` line per event (easy to grep and to parse), with
every secret the settings hold, and anything shaped like an international phone number, masked before a
line is written."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import TextIO

from monitor.config import Settings

_PHONE = re.compile(r"\+\d[\d ()-]{8,}\d")  # international format, as Telegram shows them
MASK = "[redacted]"


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _PHONE.sub(MASK, text)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        # json.dumps quotes the message: spaces, quotes and line breaks stay inside one value.
        return (
            f"time={moment} level={record.levelname} logger={record.name} "
            f"msg={json.dumps(self.redact(message), ensure_ascii=False)}"
        )


def configure_logging(settings: Settings, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        RedactingFormatter(
            [s for s in (settings.api_hash, settings.bot_token, settings.session_string) if s]
        )
    )
    root = logging.getLogger()
    # Replace only our own handler: others (a test runner's capture) stay.
    for old in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    logging.getLogger("telethon").setLevel(logging.WARNING)

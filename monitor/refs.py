"""Channel references as people type them: @name, name, t.me/name, https://t.me/name/123,
https://t.me/s/name, t.me/c/123/45, or a numeric id (also in the -100... form of the Bot API)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.quoting import quoted

# Telegram usernames: 5-32 characters, a letter first, letters, digits and underscores.
_USERNAME = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_LINK = re.compile(
    rf"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?(?P<name>{_USERNAME})(?:/\d+)?/?(?:\?.*)?",
    re.IGNORECASE,
)
_PRIVATE_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/c/(?P<id>\d{1,20})(?:/\d+)?/?", re.IGNORECASE
)
_NAME = re.compile(rf"@?(?P<name>{_USERNAME})")
_ID = re.compile(r"(?P<id>-?\d{1,20})")
# Ids are stored as SQLite integers; a longer number names no channel.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class ChannelRef:
    username: str | None = None
    channel_id: int | None = None

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else str(self.channel_id)


def parse_channel_ref(text: str) -> ChannelRef:
    """Raise ValueError with one sentence when `text` names no channel."""
    ref = text.strip()
    if match := _ID.fullmatch(ref):
        number = int(match["id"])
        # Bot API ids of channels are -100 followed by the channel id.
        if number < 0:
            digits = str(-number)
            number = int(digits[3:]) if digits.startswith("100") and len(digits) > 3 else -number
        if not 0 < number <= _MAX_ID:
            raise ValueError(f"{quoted(text)} is not a channel id")
        return ChannelRef(channel_id=number)
    for pattern in (_LINK, _NAME):
        if match := pattern.fullmatch(ref):
            name = match["name"]
            if name.lower() in {"joinchat", "addstickers", "share", "proxy", "c", "s"}:
                break
            return ChannelRef(username=name)
    if (match := _PRIVATE_LINK.fullmatch(ref)) and 0 < int(match["id"]) <= _MAX_ID:
        return ChannelRef(channel_id=int(match["id"]))
    if ref.startswith(("https://t.me/+", "t.me/+", "https://t.me/joinchat")):
        raise ValueError(
            f"{quoted(text)} is an invite link; give the channel's public username or id"
        )
    raise ValueError(f"{quoted(text)} is not a channel: use @name, t.me/name or a numeric id")

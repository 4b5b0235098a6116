"""Reading a bot command out of a message: `/name`, `/name@botname`, then its arguments.

Pure: no Telethon here. What comes in is hostile text, so every oddity (a command for
another bot, control characters, a megabyte of arguments) gives a defined answer.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass

MAX_ARGUMENT_CHARS = 1000
# Telegram command names: letters, digits and underscores, up to 32 of them.
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?=\s|$)")


@dataclass(frozen=True)
class Command:
    name: str  # lower case, without the slash
    text: str  # everything after the command, cleaned and trimmed
    too_long: bool = False  # the arguments were cut at MAX_ARGUMENT_CHARS

    def words(self) -> list[str]:
        """The arguments split like a shell would ("мирные переговоры" stays one), or on
        spaces when the quotes do not pair up."""
        try:
            return shlex.split(self.text)
        except ValueError:
            return self.text.split()


def _visible(text: str) -> str:
    """The text without control and format characters (NUL, zero-width joiners, direction
    marks), which only hide what a command says; line breaks become spaces."""
    return "".join(
        " " if char in "\n\r\t" else char
        for char in unicodedata.normalize("NFC", text)
        if char in "\n\r\t" or unicodedata.category(char) not in ("Cc", "Cf")
    )


def parse_command(text: str, bot_username: str | None) -> Command | None:
    """The command a message gives this bot, or None: not a command, or one addressed to
    another bot (`/help@otherbot` in a group)."""
    stripped = _visible(text).lstrip()
    match = _COMMAND.match(stripped)
    if match is None:
        return None
    addressee = match.group(2)
    if addressee is not None and (
        bot_username is None or addressee.lower() != bot_username.lower()
    ):
        return None
    rest = stripped[match.end() :].strip()
    too_long = len(rest) > MAX_ARGUMENT_CHARS
    return Command(match.group(1).lower(), rest[:MAX_ARGUMENT_CHARS], too_long)

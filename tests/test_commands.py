"""Reading commands out of hostile message text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.bot.commands import MAX_ARGUMENT_CHARS, Command, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", Command("start", "")),
        ("/HELP", Command("help", "")),
        ("/search Трамп санкции", Command("search", "Трамп санкции")),
        ("/search@monitor_bot Трамп", Command("search", "Трамп")),
        ("/search@MONITOR_BOT Трамп", Command("search", "Трамп")),
        ("/search@other_bot Трамп", None),
        ("/trend\nТрамп 30", Command("trend", "Трамп 30")),
        ("\u200f\u200d/add @rybar", Command("add", "@rybar")),  # RTL mark and ZWJ first
        ("/watch Бах\u200dмут", Command("watch", "Бахмут")),
        ("/search a\x00b", Command("search", "ab")),
        ("hello /start", None),
        ("/", None),
        ("/привет", None),
        ("/searching_too_long_a_name_for_a_telegram_cmd x", None),
        ("🔥🔥🔥", None),
        ("", None),
    ],
)
def test_parse_command(text: str, expected: Command | None) -> None:
    assert parse_command(text, "monitor_bot") == expected


def test_long_arguments_are_cut_and_flagged() -> None:
    command = parse_command("/search " + "я" * 100_000, "monitor_bot")
    assert command is not None and command.too_long and len(command.text) == MAX_ARGUMENT_CHARS


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"мирные переговоры" Зеленский', ["мирные переговоры", "Зеленский"]),
        ('"unpaired quote', ['"unpaired', "quote"]),
        ("", []),
    ],
)
def test_words(text: str, words: list[str]) -> None:
    assert Command("watch", text).words() == words


@given(st.text(max_size=2000))
def test_any_text_gives_a_command_or_none(text: str) -> None:
    command = parse_command(text, "monitor_bot")
    if command is not None:
        assert command.name.isascii() and len(command.text) <= MAX_ARGUMENT_CHARS
        assert isinstance(command.words(), list)

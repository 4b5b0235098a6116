from __future__ import annotations

import pytest

from monitor.refs import ChannelRef, parse_channel_ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("@fighter_bomber", ChannelRef(username="fighter_bomber")),
        ("rybar", ChannelRef(username="rybar")),
        ("t.me/rybar", ChannelRef(username="rybar")),
        ("https://t.me/rybar/123", ChannelRef(username="rybar")),
        ("https://t.me/s/rybar", ChannelRef(username="rybar")),
        ("http://telegram.me/rybar/", ChannelRef(username="rybar")),
        ("https://t.me/rybar?embed=1", ChannelRef(username="rybar")),
        (" @rybar ", ChannelRef(username="rybar")),
        ("1234567890", ChannelRef(channel_id=1234567890)),
        ("-1001234567890", ChannelRef(channel_id=1234567890)),
        ("https://t.me/c/1234567890/55", ChannelRef(channel_id=1234567890)),
    ],
)
def test_reference_forms(text: str, ref: ChannelRef) -> None:
    assert parse_channel_ref(text) == ref


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a channel"),
        ("@ab", "is not a channel"),  # too short for a username
        ("0", "is not a channel id"),
        ("https://t.me/+AbCdEf123", "invite link"),
        ("https://example.com/rybar", "is not a channel"),
        ("t.me/joinchat", "is not a channel"),
        ("рыбарь", "is not a channel"),
    ],
)
def test_bad_references(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_channel_ref(text)

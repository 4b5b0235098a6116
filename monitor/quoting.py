"""What someone typed, quoted inside an error sentence: a pasted page must not turn the one
sentence that explains a mistake into a screenful."""

from __future__ import annotations

QUOTE_CHARS = 40


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """`repr(text)`, or for long text its start and its length: 'aaaa'... (100,000 characters)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"

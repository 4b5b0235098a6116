"""What someone typed, quoted inside an error sentence: a pasted page must not turn the one
sentence that explains a mistake into a screenful."""

from __future__ import annotations

QUOTE_CHARS = 40


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """`repr(text)`, or when that is long its start and the text's length:
    'aaaa... (100,000 characters). repr, so invisible and control characters show."""
    shown = repr(text)
    if len(shown) <= limit + 2:
        return shown
    return f"{shown[: limit + 1]}... ({len(text):,} characters)"

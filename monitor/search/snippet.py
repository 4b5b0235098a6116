"""A short extract of a post around the words a query matched, with those words marked."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from monitor.text.pipeline import Token

Segment = tuple[str, bool]  # a piece of text and whether it is a match
_SPACES = re.compile(r"\s+")


def snippet_segments(
    text: str, tokens: list[Token], terms: Collection[str], width: int = 200
) -> list[Segment]:
    """Up to about `width` characters of `text` around the first matched token."""
    matched = [t for t in tokens if any(term in terms for term in t.terms)]
    first = matched[0].start if matched else 0
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    if start > 0:  # begin at a word boundary
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and first - space < width // 2 else start
    if end < len(text):
        space = text.find(" ", end)
        end = space if 0 <= space - end < 20 else end
    segments: list[Segment] = [("…", False)] if start > 0 else []
    position = start
    for token in matched:
        if token.start < start or token.end > end:
            continue
        segments.append((text[position : token.start], False))
        segments.append((text[token.start : token.end], True))
        position = token.end
    segments.append((text[position:end], False))
    if end < len(text):
        segments.append(("…", False))
    return [(_SPACES.sub(" ", piece), hit) for piece, hit in segments if piece]


def render_segments(
    segments: list[Segment],
    mark: Callable[[str], str] = lambda s: f"**{s}**",
    plain: Callable[[str], str] = lambda s: s,
) -> str:
    return "".join(mark(piece) if hit else plain(piece) for piece, hit in segments).strip()

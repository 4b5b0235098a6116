"""Watchlists as the command line and the bot use them: terms become lemma patterns through
the one text pipeline (so Бахмута matches Бахмут, Tрамп with a Latin T matches Трамп), aliases
join spellings and names (Бахмут and Артёмовск, Трамп and Trump)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.refs import parse_channel_ref
from monitor.store import Store, WatchTerm
from monitor.text import TextPipeline

MAX_TERM_WORDS = 8
MAX_ALIASES = 20


class WatchError(ValueError):
    """A watchlist request cannot be done; the message says why in one sentence."""


def patterns(pipeline: TextPipeline, term: str, aliases: Sequence[str]) -> list[tuple[str, str]]:
    """(alias, lemma pattern) for the term and each alias, duplicates dropped."""
    if len(aliases) > MAX_ALIASES:
        raise WatchError(f"A term takes at most {MAX_ALIASES} aliases.")
    found: list[tuple[str, str]] = []
    for text in (term, *aliases):
        lemmas = pipeline.lemmas(text.strip())
        if not lemmas:
            raise WatchError(
                f"{text.strip()!r} has no words to watch (emoji and links are not indexed)."
            )
        if len(lemmas) > MAX_TERM_WORDS:
            raise WatchError(
                f"{text.strip()[:40]!r} is too long; watch at most {MAX_TERM_WORDS} words."
            )
        pattern = " ".join(lemmas)
        if pattern not in (p for _, p in found):
            found.append((text.strip(), pattern))
    return found


async def _channel_id(store: Store, ref: str | None) -> int | None:
    if ref is None:
        return None
    try:
        parsed = parse_channel_ref(ref)
    except ValueError as error:
        raise WatchError(str(error)) from None
    channel = await store.channel_by_ref(parsed)
    if channel is None:
        raise WatchError(f"No archived channel is called {parsed}.")
    return channel.id


async def add_term(
    store: Store,
    pipeline: TextPipeline,
    term: str,
    aliases: Sequence[str],
    channel: str | None,
    added_by: str,
    now: datetime,
) -> WatchTerm:
    term = " ".join(term.split())
    found = patterns(pipeline, term, aliases)
    channel_id = await _channel_id(store, channel)
    if await store.watch_term(term, channel_id) is not None:
        where = f" in {channel}" if channel else ""
        raise WatchError(f"{term!r} is already watched{where}.")
    return await store.add_watch_term(term, channel_id, found, added_by, now)


async def remove_term(store: Store, term: str, channel: str | None) -> WatchTerm:
    term = " ".join(term.split())
    existing = await store.watch_term(term, await _channel_id(store, channel))
    if existing is None:
        raise WatchError(f"{term!r} is not watched{' in ' + channel if channel else ''}.")
    await store.remove_watch_term(existing.id)
    return existing

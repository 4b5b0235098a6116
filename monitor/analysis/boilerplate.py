"""A channel's boilerplate: the lines and trailing phrases it repeats in a large share of its
posts (sign-offs, subscription calls, ad footers). Learned from a sample of the channel's
recent posts and masked out of the lemma sequences the detectors read, so a sign-off is
neither an emerging term nor what makes two reports look alike; the archive keeps the text
whole.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.text.pipeline import TextPipeline, Token, is_ukrainian

# Recent posts with text a channel's boilerplate is learned from.
SAMPLE = 300
# A line or trailing phrase is boilerplate when this share of the sampled posts (and at
# least MIN_POSTS of them) hold it: far above what the same line of news reaches, low enough
# for a channel that alternates two sign-offs.
SHARE = 0.15
MIN_POSTS = 5
# Shorter phrases would mask ordinary words wherever they occur.
MIN_WORDS = 2
MAX_TRAILING = 12


@dataclass(frozen=True)
class Boilerplate:
    lemmas: str  # space-joined, as posts.lemmas holds them
    text: str  # as the channel writes it most often
    posts: int  # sampled posts holding it
    sampled: int


def _language(text: str) -> str:
    # Lines are read in their post's language, so their lemmas are the post's own.
    return "uk" if is_ukrainian(text) else "ru"


def _lemmas(tokens: Sequence[Token]) -> tuple[str, ...]:
    return tuple(term for token in tokens for term in token.terms)


def learn(texts: Sequence[str], pipeline: TextPipeline) -> list[Boilerplate]:
    """The boilerplate of a channel whose recent posts are `texts`: each line, and each
    trailing phrase of a post's last line, held by enough posts of two lines or more; a phrase inside a longer
    one found is left out (masking the longer one removes it). Most frequent first."""
    holders: dict[tuple[str, ...], set[int]] = defaultdict(set)
    written: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for index, text in enumerate(texts):
        language = _language(text)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            continue  # boilerplate stands around what a post says, never alone
        for number, line in enumerate(lines):
            tokens = pipeline.tokens(line, language)
            found = {_lemmas(tokens): line}
            if number == len(lines) - 1:
                for size in range(MIN_WORDS, min(MAX_TRAILING, len(tokens) - 1) + 1):
                    found[_lemmas(tokens[-size:])] = line[tokens[-size].start :]
            for lemmas, surface in found.items():
                if len(lemmas) >= MIN_WORDS:
                    holders[lemmas].add(index)
                    written[lemmas][surface] += 1
    needed = max(MIN_POSTS, SHARE * len(texts))
    frequent = sorted(
        (lemmas for lemmas, posts in holders.items() if len(posts) >= needed),
        key=lambda lemmas: (-len(lemmas), -len(holders[lemmas]), lemmas),
    )
    kept: list[Boilerplate] = []
    for lemmas in frequent:
        joined = " ".join(lemmas)
        if any(f" {joined} " in f" {longer.lemmas} " for longer in kept):
            continue
        surface = written[lemmas].most_common(1)[0][0]
        kept.append(Boilerplate(joined, surface, len(holders[lemmas]), len(texts)))
    return sorted(kept, key=lambda b: (-b.posts, b.lemmas))


def mask(lemmas: str, phrases: Sequence[str]) -> str:
    """`lemmas` (space-joined) without any occurrence of the phrases, longest given first."""
    padded = f" {lemmas} "
    for phrase in phrases:
        target = f" {phrase} "
        while target in padded:
            padded = padded.replace(target, " ")
    return padded[1:-1]

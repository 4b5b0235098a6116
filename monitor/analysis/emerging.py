"""Emerging terms: lemmas and two-word phrases used in unusually many posts of the period
compared with the baseline, across all channels.

Each term is counted once per post (a post repeating a word ten times is one voice), and
ranked by Dunning's log-likelihood G2, which stays sensible for rare terms where a plain
ratio explodes. Stopwords, numbers, mentions, hashtag duplicates and link or markdown
fragments are left out (links are never indexed).

What is shown is said as people write it: a ranked term grows into the phrase its posts
write around it ("средний дальность" -> "ракета средний дальность"), terms that are parts of
one phrase are shown once, and each is spelled as most of its posts spell it ("ракета
средней дальности"; a Ukrainian stem as its word).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from dataclasses import dataclass

from monitor.text.pipeline import Token
from monitor.text.stopwords import is_stopword

MIN_POSTS = 5
MIN_LENGTH = 3
# A phrase grows by the word next to it in this share of its posts, up to MAX_WORDS words.
GROW_SHARE = 0.8
MAX_WORDS = 6
# Posts read again (tokenised) to see how a shown term is written.
WRITTEN_SAMPLE = 30


@dataclass(frozen=True)
class EmergingTerm:
    term: str
    posts: int  # posts of the period using it
    baseline_posts: int
    ratio: float  # its share of period posts over its share of baseline posts
    score: float  # log-likelihood G2


@dataclass(frozen=True)
class ShownTerm:
    found: EmergingTerm  # what was counted and ranked
    lemmas: str  # its phrase, grown to the words its posts write around it
    written: str  # as most of those posts write it


def _usable(lemma: str) -> bool:
    return (
        len(lemma) >= MIN_LENGTH
        and lemma[0] not in "#@"
        and not lemma.isdigit()
        # Markdown and usernames: "bbcrussian__", "____bit", "headlines_for_trad".
        and "_" not in lemma
        and not is_stopword(lemma)
    )


class _UsableWords(dict[str, str | None]):
    """Each lemma, or None when it is noise; judged once (a dict lookup costs less than a
    cached call, and a digest looks up a million)."""

    def __missing__(self, lemma: str) -> str | None:
        if len(self) >= _MAX_JUDGED:
            self.clear()
        word = self[lemma] = lemma if _usable(lemma) else None
        return word


_MAX_JUDGED = 500_000
_usable_words = _UsableWords()


def post_terms(lemmas: Sequence[str]) -> set[str]:
    """The lemmas and two-word phrases one post contributes."""
    words = list(map(_usable_words.__getitem__, lemmas))
    terms: set[str | None] = set(words)
    terms.update(f"{a} {b}" for a, b in itertools.pairwise(words) if a and b and a != b)
    terms.discard(None)
    return terms  # type: ignore[return-value]  # None is gone


def document_frequencies(posts: Iterable[Sequence[str]]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for lemmas in posts:
        counts.update(post_terms(lemmas))
        total += 1
    return counts, total


def log_likelihood(a: int, b: int, n1: int, n2: int) -> float:
    """Dunning's G2 for a term in `a` of `n1` period posts and `b` of `n2` baseline posts."""
    expected_a = n1 * (a + b) / (n1 + n2)
    expected_b = n2 * (a + b) / (n1 + n2)
    total = 0.0
    if a:
        total += a * math.log(a / expected_a)
    if b:
        total += b * math.log(b / expected_b)
    return 2 * total


def emerging_terms(
    period: Counter[str],
    period_posts: int,
    baseline: Counter[str],
    baseline_posts: int,
    top: int = 10,
    min_posts: int = MIN_POSTS,
    excluded: Set[str] = frozenset(),
    named: Callable[[str], bool] | None = None,
) -> list[EmergingTerm]:
    """The `top` terms, highest G2 first; terms with a word in `excluded` (channels' own
    names) are left out; on equal scores, terms with a word `named` holds (people, places,
    organisations) come first, then phrases."""
    if not period_posts or not baseline_posts:
        return []
    found = []
    for term, a in period.items():
        if a < min_posts:
            continue
        b = baseline.get(term, 0)
        period_share, baseline_share = a / period_posts, (b + 0.5) / baseline_posts
        if period_share <= baseline_share:
            continue
        if not excluded.isdisjoint(term.split()):
            continue
        score = log_likelihood(a, b, period_posts, baseline_posts)
        found.append(
            EmergingTerm(term, a, b, round(period_share / baseline_share, 2), round(score, 2))
        )
    found.sort(key=lambda t: (-t.score, -t.term.count(" "), t.term))  # phrases first on a tie
    # A phrase and its own words say the same thing: keep the phrase when it ranks above them.
    shown: list[EmergingTerm] = []
    for candidate in _named_first(found, named):
        if any(candidate.term in other.term.split() for other in shown if " " in other.term):
            continue
        shown.append(candidate)
        if len(shown) == top:
            break
    return shown


def _named_first(
    ranked: list[EmergingTerm], named: Callable[[str], bool] | None
) -> Iterator[EmergingTerm]:
    """`ranked` with named terms first among equal scores; judged only as far as it is read,
    since a day has thousands of candidates and naming one takes a dictionary parse."""
    for _, group in itertools.groupby(ranked, key=lambda t: t.score):
        tied = list(group)
        if named is not None and len(tied) > 1:
            tied.sort(key=lambda t: not any(map(named, t.term.split())))  # stable
        yield from tied


def _starts(lemmas: Sequence[str], words: Sequence[str]) -> list[int]:
    """Where `words` occurs in `lemmas`."""
    size = len(words)
    return [
        i for i, lemma in enumerate(lemmas)
        if lemma == words[0] and tuple(lemmas[i : i + size]) == tuple(words)
    ]  # fmt: skip


def _neighbour(words: tuple[str, ...], posts: list[list[str]], before: bool) -> str | None:
    """The word GROW_SHARE of `posts` write right before (or after) `words`, if any."""
    counts: Counter[str] = Counter()
    for lemmas in posts:
        near = set()
        for start in _starts(lemmas, words):
            at = start - 1 if before else start + len(words)
            if 0 <= at < len(lemmas) and (word := _usable_words[lemmas[at]]) is not None:
                near.add(word)
        counts.update(near)
    if counts:
        word, count = counts.most_common(1)[0]
        if count >= GROW_SHARE * len(posts) and word not in words:
            return word
    return None


def grow(words: tuple[str, ...], posts: list[list[str]]) -> tuple[str, ...]:
    """`words` with the words that nearly all `posts` (those holding it) write around it."""
    while len(words) < MAX_WORDS:
        grown = words
        for before in (True, False):
            word = _neighbour(grown, posts, before)
            if word is not None and len(grown) < MAX_WORDS:
                grown = (word, *grown) if before else (*grown, word)
                posts = [lemmas for lemmas in posts if _starts(lemmas, grown)]
        if grown == words:
            break
        words = grown
    return words


def _within(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    return f" {' '.join(part)} " in f" {' '.join(whole)} "


_BREAKS = re.compile(r"[|()\[\]{}:;,/\\.!?…]| [-–—] ")


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or not (before[-1].isalnum() or before[-1] in ",;:«»\"'()-–—")


def written_form(
    words: Sequence[str], texts: Iterable[str], tokens: Callable[[str], Sequence[Token]]
) -> str:
    """How `texts` most often write the lemma sequence `words`: the commonest spelling,
    with the capitals it has inside sentences (a sentence's first word says nothing)."""
    spellings: Counter[str] = Counter()
    capitals: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        flat = [(term, token) for token in tokens(text) for term in token.terms]
        for i in _starts([term for term, _ in flat], words):
            first, last = flat[i][1], flat[i + len(words) - 1][1]
            written = " ".join(text[first.start : last.end].split())
            if _BREAKS.search(written):
                continue  # the words stand in different parts of the text
            spellings[written.lower()] += 1
            if not _sentence_start(text, first.start):
                capitals[written.lower()][written] += 1
    if not spellings:
        return " ".join(words)
    spelling = min(spellings, key=lambda s: (-spellings[s], s))
    return capitals[spelling].most_common(1)[0][0] if capitals[spelling] else spelling


def shown_terms(
    ranked: Sequence[EmergingTerm],
    posts: Sequence[tuple[str, str]],
    tokens: Callable[[str], Sequence[Token]],
    top: int = 10,
) -> list[ShownTerm]:
    """The first `top` of `ranked` as people write them: each grown into its phrase, one
    whose phrase is part of (or holds) one shown before left out, each spelled as its
    posts spell it. `posts` are the period's (lemmas, text)."""
    padded = [f" {lemmas} " for lemmas, _ in posts]
    shown: list[ShownTerm] = []
    phrases: list[tuple[str, ...]] = []
    for term in ranked:
        holders = [i for i, text in enumerate(padded) if f" {term.term} " in text]
        words = grow(tuple(term.term.split()), [padded[i].split() for i in holders])
        if any(_within(words, other) or _within(other, words) for other in phrases):
            continue
        writing = [posts[i][1] for i in holders if f" {' '.join(words)} " in padded[i]]
        written = written_form(words, writing[:WRITTEN_SAMPLE], tokens)
        shown.append(ShownTerm(term, " ".join(words), written))
        phrases.append(words)
        if len(shown) == top:
            break
    return shown

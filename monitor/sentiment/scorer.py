"""The lexicon scorer: word polarities, shifted by negation, intensifiers, softeners and a
contrast ("но", "but"), plus emoji; a compound score in [-1, 1] and a label.

Target-aware mode scores only the words near each mention of a term, weighted by distance,
for questions such as "how do they speak of Трамп".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.text import TextPipeline

NEGATORS = ("не", "ни", "нет", "без", "ні", "not", "no", "never", "nor", "без")
INTENSIFIERS = (
    "очень", "крайне", "весьма", "абсолютно", "совершенно", "чрезвычайно", "максимально",
    "сильно", "слишком", "особенно", "невероятно", "страшно", "жутко", "предельно", "полностью",
    "дуже", "надзвичайно", "вкрай", "very", "extremely", "really", "totally", "highly",
)  # fmt: skip
SOFTENERS = (
    "немного", "слегка", "чуть", "отчасти", "несколько", "частично", "трохи", "ледве",
    "slightly", "somewhat", "partly", "barely",
)  # fmt: skip
CONTRASTS = ("но", "однако", "зато", "проте", "але", "but", "however")
EMOJI = {
    "😡": -0.7, "🤬": -0.8, "😠": -0.6, "🤡": -0.6, "💩": -0.7, "👎": -0.6, "😢": -0.5,
    "😭": -0.5, "😱": -0.4, "💔": -0.6, "🖕": -0.8, "☠": -0.5, "💀": -0.4, "😞": -0.5,
    "👍": 0.5, "❤": 0.6, "🔥": 0.3, "💪": 0.5, "🙏": 0.4, "😊": 0.6, "😁": 0.5, "😂": 0.2,
    "🥰": 0.7, "👏": 0.5, "✅": 0.3, "🎉": 0.6, "🏆": 0.6, "😍": 0.7, "🤝": 0.4,
}  # fmt: skip

NEGATION_WINDOW = 3
MODIFIER_WINDOW = 2
NEGATION_FACTOR = -0.7
INTENSIFIER_FACTOR = 1.4
SOFTENER_FACTOR = 0.6
TARGET_WINDOW = 8
# Squashes a sum of polarities into (-1, 1): one clear word gives about 0.6.
ALPHA = 1.5

# Label thresholds (negative at or below the first, positive at or above the second), tuned
# for the mean F1 of positive and negative on the development set (bench/sentiment_eval.py).
WHOLE_TEXT_THRESHOLDS = (-0.02, 0.42)
TARGET_THRESHOLDS = (-0.02, 0.22)


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str  # positive, neutral, negative
    hits: int  # lexicon words and emoji that counted
    # Those words (lemmas) and emoji with what each added to the sum (the lexicon scorer's
    # only: a model names no words); a shift's evidence names the ones that moved it.
    words: tuple[tuple[str, float], ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 4), "hits": self.hits}


class Scorer(Protocol):
    """What the archive needs of a sentiment scorer: the lexicon one or a model on disk."""

    # The pipeline it reads texts with: the one that made the stored lemmas.
    pipeline: TextPipeline

    def score(self, text: str, target: str | None = None) -> Sentiment: ...

    def score_lemmas(
        self, lemmas: Sequence[str], text: str = "", target: Sequence[str] | None = None
    ) -> Sentiment: ...

    def score_many(self, texts: list[str]) -> list[Sentiment]: ...


def label_for(score: float, thresholds: tuple[float, float]) -> str:
    negative, positive = thresholds
    if score >= positive:
        return "positive"
    if score <= negative:
        return "negative"
    return "neutral"


def compound(total: float) -> float:
    return total / math.sqrt(total * total + ALPHA)


class LexiconScorer:
    def __init__(
        self,
        pipeline: TextPipeline,
        lexicon: Mapping[str, float],
        thresholds: tuple[float, float] = WHOLE_TEXT_THRESHOLDS,
        target_thresholds: tuple[float, float] = TARGET_THRESHOLDS,
    ) -> None:
        self.pipeline = pipeline
        self.lexicon = lexicon
        self.thresholds = thresholds
        self.target_thresholds = target_thresholds
        self._negators = self._keys(NEGATORS)
        self._intensifiers = self._keys(INTENSIFIERS)
        self._softeners = self._keys(SOFTENERS)
        self._contrasts = self._keys(CONTRASTS)

    def _keys(self, words: tuple[str, ...]) -> frozenset[str]:
        return frozenset(lemma for word in words for lemma in self.pipeline.lemmas(word))

    def _word_values(self, lemmas: Sequence[str]) -> list[float]:
        """Each word's contribution after its modifiers (0 for words outside the lexicon)."""
        values = [0.0] * len(lemmas)
        found = [(i, v) for i, v in enumerate(map(self.lexicon.get, lemmas)) if v is not None]
        if not found:
            return values
        contrast = -1
        if not self._contrasts.isdisjoint(lemmas):
            contrast = max(i for i, lemma in enumerate(lemmas) if lemma in self._contrasts)
        for i, value in found:
            negation_start = i - NEGATION_WINDOW if i > NEGATION_WINDOW else 0
            if not self._negators.isdisjoint(lemmas[negation_start:i]):
                value *= NEGATION_FACTOR
            near = lemmas[i - MODIFIER_WINDOW if i > MODIFIER_WINDOW else 0 : i]
            if not self._intensifiers.isdisjoint(near):
                value *= INTENSIFIER_FACTOR
            elif not self._softeners.isdisjoint(near):
                value *= SOFTENER_FACTOR
            if contrast >= 0:
                value *= 1.5 if i > contrast else 0.5
            values[i] = value
        return values

    def score(self, text: str, target: str | None = None) -> Sentiment:
        target_lemmas = self.pipeline.lemmas(target) if target is not None else None
        return self.score_lemmas(self.pipeline.lemmas(text), text, target_lemmas)

    def score_many(self, texts: list[str]) -> list[Sentiment]:
        return [self.score(text) for text in texts]

    def score_lemmas(
        self, lemmas: Sequence[str], text: str = "", target: Sequence[str] | None = None
    ) -> Sentiment:
        """Score a lemma sequence the text pipeline already made (`posts.lemmas`), with the
        emoji of `text`; `target` is the lemma sequence of the term to score around."""
        if target is None:
            values = self._word_values(lemmas)
            # Counting each emoji with str.count is several times faster than a regex scan.
            emoji = [(symbol, value) for symbol, value in EMOJI.items()
                     for _ in range(text.count(symbol))]  # fmt: skip
            words = [(lemmas[i], v) for i, v in enumerate(values) if v] + emoji
            return self._result(sum(v for _, v in words), words, self.thresholds)
        mentions = _occurrences(lemmas, list(target))
        size = len(target)
        if not mentions:
            return Sentiment(0.0, "neutral", 0)
        # Only the stretch around the mentions can count (with room for its words' modifiers).
        start = max(0, mentions[0] - TARGET_WINDOW - NEGATION_WINDOW)
        values = self._word_values(lemmas[start : mentions[-1] + size + TARGET_WINDOW])
        words = []
        for i, value in enumerate(values, start):
            if not value or any(m <= i < m + size for m in mentions):
                continue  # the target's own words say nothing about it
            distance = min(abs(i - m) for m in mentions)
            if distance <= TARGET_WINDOW:
                words.append((lemmas[i], value * (1 - distance / (TARGET_WINDOW + 1))))
        return self._result(sum(v for _, v in words), words, self.target_thresholds)

    @staticmethod
    def _result(
        total: float, words: list[tuple[str, float]], thresholds: tuple[float, float]
    ) -> Sentiment:
        score = compound(total) if words else 0.0
        return Sentiment(score, label_for(score, thresholds), len(words), tuple(words))


def _occurrences(lemmas: Sequence[str], wanted: list[str]) -> list[int]:
    """Where `wanted` starts in `lemmas`; its first word is found by index(), in C."""
    found: list[int] = []
    if not wanted:
        return found
    words = lemmas if isinstance(lemmas, list) else list(lemmas)
    end = len(words) - len(wanted) + 1
    at = -1
    while True:
        try:
            at = words.index(wanted[0], at + 1, max(end, 0))
        except ValueError:
            return found
        if words[at : at + len(wanted)] == wanted:
            found.append(at)

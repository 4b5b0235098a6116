"""The scorer the settings ask for: the built-in lexicon, with the user's merged over it."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Settings
from monitor.sentiment.lexicon import LexiconError, build_lexicon, builtin_entries, user_entries
from monitor.sentiment.model import ModelError, load_model
from monitor.sentiment.scorer import LexiconScorer, Scorer
from monitor.text import TextPipeline


class SentimentSetupError(ValueError):
    """The sentiment settings cannot be used; the message says why in one sentence."""


def load_scorer(pipeline: TextPipeline, settings: Settings) -> Scorer:
    return scorer_from(pipeline, settings.sentiment_model, settings.sentiment_lexicon)


def scorer_from(pipeline: TextPipeline, model: Path | None, lexicon: Path | None) -> Scorer:
    """The model at `model` when given, else the built-in lexicon with `lexicon` merged."""
    if model is not None:
        try:
            return load_model(model, pipeline)
        except ModelError as error:
            raise SentimentSetupError(f"SENTIMENT_MODEL: {error}") from None
    entries = builtin_entries()
    if lexicon is not None:
        try:
            entries += user_entries(lexicon)
        except LexiconError as error:
            raise SentimentSetupError(f"SENTIMENT_LEXICON: {error}") from None
    return LexiconScorer(pipeline, build_lexicon(pipeline, entries))

"""A sentiment model the user keeps on disk (`SENTIMENT_MODEL`), in place of the lexicon.

Two kinds of folder are understood: a HuggingFace folder (config.json with the weights,
read by transformers with local files only) and an ONNX export (a `.onnx` file beside its
`tokenizer.json` and `config.json`, run by onnxruntime). The labels come from the model's
own `id2label`. Nothing here downloads: transformers is told to stay offline before it is
imported, and only files in the given folder are opened.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from monitor.sentiment.scorer import TARGET_WINDOW, Sentiment
from monitor.text import TextPipeline

# Probabilities per label name, one mapping per text.
Classifier = Callable[[list[str]], list[dict[str, float]]]

MAX_TOKENS = 512
_LABELS = ("neutral", "positive", "negative")


class ModelError(ValueError):
    """The model on disk cannot be used; the message says why in one sentence."""


def polarity_names(id2label: dict[int, str]) -> dict[int, str]:
    """Map the model's label ids to positive / negative / neutral where the names say so
    (POSITIVE, pos, Negative, neu, ...); other labels (skip, speech) stay unmapped."""
    mapped = {}
    for index, name in id2label.items():
        lowered = name.strip().lower()
        for prefix, polarity in (("pos", "positive"), ("neg", "negative"), ("neu", "neutral")):
            if lowered.startswith(prefix):
                mapped[index] = polarity
    if {"positive", "negative"} - set(mapped.values()):
        names = ", ".join(sorted(id2label.values()))
        raise ModelError(
            f"the model's id2label ({names}) does not name a positive and a negative label"
        )
    return mapped


def softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [x / total for x in exps]


class ModelScorer:
    """Scores with a classifier: the score is P(positive) - P(negative), the label the most
    probable of the three. Target-aware mode classifies the words around each mention."""

    def __init__(self, pipeline: TextPipeline, classify: Classifier) -> None:
        self.pipeline = pipeline
        self.classify = classify

    def score(self, text: str, target: str | None = None) -> Sentiment:
        target_lemmas = self.pipeline.lemmas(target) if target is not None else None
        return self.score_lemmas((), text, target_lemmas)

    def score_lemmas(
        self, lemmas: Sequence[str], text: str = "", target: Sequence[str] | None = None
    ) -> Sentiment:
        # The model reads the text itself; the lemmas only serve the lexicon scorer.
        if target is not None:
            text = self.around(text, list(target))
        if not text.strip():
            return Sentiment(0.0, "neutral", 0)
        return self._result(self.classify([text])[0])

    def score_many(self, texts: list[str]) -> list[Sentiment]:
        """Whole-text scores of many texts in one pass through the model."""
        results = [Sentiment(0.0, "neutral", 0)] * len(texts)
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        for i, probabilities in zip(wanted, self.classify([texts[i] for i in wanted]), strict=True):
            results[i] = self._result(probabilities)
        return results

    def around(self, text: str, target: list[str]) -> str:
        """The words within TARGET_WINDOW of each mention of `target`, joined ("" if none)."""
        tokens = self.pipeline.tokens(text)
        size = len(target)
        spans: list[tuple[int, int]] = []
        for i in range(len(tokens) - size + 1):
            if size and all(target[k] in tokens[i + k].terms for k in range(size)):
                first = tokens[max(0, i - TARGET_WINDOW)]
                last = tokens[min(len(tokens) - 1, i + size - 1 + TARGET_WINDOW)]
                if spans and first.start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], last.end)
                else:
                    spans.append((first.start, last.end))
        return " … ".join(text[start:end] for start, end in spans)

    @staticmethod
    def _result(probabilities: dict[str, float]) -> Sentiment:
        score = probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0)
        best = max(probabilities.get(name, 0.0) for name in _LABELS)
        top = [name for name in _LABELS if probabilities.get(name, 0.0) == best]
        return Sentiment(max(-1.0, min(1.0, score)), top[0] if len(top) == 1 else "neutral", 1)


def _id2label(config_path: Path) -> dict[int, str]:
    try:
        config = json.loads(config_path.read_text("utf-8"))
        return {int(index): str(name) for index, name in config["id2label"].items()}
    except FileNotFoundError:
        raise ModelError(f"{config_path.parent} has no config.json with the labels") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelError(f"{config_path} has no readable id2label") from None


def _summed(row: Sequence[float], labels: dict[int, str]) -> dict[str, float]:
    """Probabilities of the polarities, from one row of logits."""
    probabilities: dict[str, float] = {}
    for index, p in enumerate(softmax(row)):
        name = labels.get(index)
        if name is not None:
            probabilities[name] = probabilities.get(name, 0.0) + p
    return probabilities


def _onnx_classifier(model_file: Path, batch_size: int) -> Classifier:
    try:
        import numpy as np
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError:
        raise ModelError(
            "an ONNX model needs the packages onnxruntime and tokenizers "
            "(pip install 'tg-channel-monitor[models]')"
        ) from None
    folder = model_file.parent
    labels = polarity_names(_id2label(folder / "config.json"))
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # tokenizers raises its own untyped exceptions
        raise ModelError(f"{folder} has no readable tokenizer.json beside the model") from None
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    try:
        session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"{model_file} is not an ONNX model onnxruntime can run") from None
    inputs = {item.name for item in session.get_inputs()}

    def classify(texts: list[str]) -> list[dict[str, float]]:
        results = []
        for start in range(0, len(texts), batch_size):
            encoded = tokenizer.encode_batch(texts[start : start + batch_size])
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            logits = session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
            results += [_summed(row.tolist(), labels) for row in logits]
        return results

    return classify


def _transformers_classifier(folder: Path, batch_size: int) -> Classifier:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise ModelError(
            "a HuggingFace model needs the packages transformers and torch "
            "(pip install 'tg-channel-monitor[models]' torch)"
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"{folder} cannot be loaded as a HuggingFace model: {first}") from None
    model.eval()
    labels = polarity_names({int(i): str(n) for i, n in model.config.id2label.items()})

    def classify(texts: list[str]) -> list[dict[str, float]]:
        results = []
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt",
            )  # fmt: skip
            with torch.no_grad():
                logits = model(**batch).logits
            results += [_summed(row, labels) for row in logits.tolist()]
        return results

    return classify


def load_model(path: Path, pipeline: TextPipeline, batch_size: int = 16) -> ModelScorer:
    """A scorer over the model at `path`: an .onnx file, a folder holding one, or a
    HuggingFace folder."""
    if path.is_file() and path.suffix == ".onnx":
        return ModelScorer(pipeline, _onnx_classifier(path, batch_size))
    if not path.is_dir():
        raise ModelError(f"{path} is neither a model folder nor an .onnx file")
    onnx_files = sorted(path.glob("*.onnx"))
    if len(onnx_files) > 1:
        raise ModelError(f"{path} holds several .onnx files; name the one to use")
    if onnx_files:
        return ModelScorer(pipeline, _onnx_classifier(onnx_files[0], batch_size))
    if (path / "config.json").is_file():
        return ModelScorer(pipeline, _transformers_classifier(path, batch_size))
    raise ModelError(f"{path} has neither an .onnx file nor a HuggingFace config.json")

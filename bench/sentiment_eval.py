"""Measure the sentiment scorer on a labelled file (tab-separated `sentence`, `entity`, ...,
`label` in -1/0/1, such as the RuSentNE development set kept outside this repository).

    python -m bench.sentiment_eval ../shared/data/sentiment-dev/rusentne2023_train.tsv [--tune]

Reports macro-F1 over the three classes and the mean F1 of positive and negative, for
whole-text and target-aware scoring; `--tune` searches the label thresholds on the file.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path

from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import (
    TARGET_THRESHOLDS,
    WHOLE_TEXT_THRESHOLDS,
    LexiconScorer,
    label_for,
)
from monitor.text import TextPipeline

LABELS = {"-1": "negative", "0": "neutral", "1": "positive"}
CLASSES = ("negative", "neutral", "positive")


def f1_scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    scores = {}
    for cls in CLASSES:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == cls)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == cls and t != cls)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == cls and p != cls)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores[cls] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return scores


def summary(truth: list[str], predicted: list[str]) -> dict[str, float]:
    f1 = f1_scores(truth, predicted)
    return {
        "macro_f1": round(sum(f1.values()) / 3, 4),
        "pos_neg_f1": round((f1["positive"] + f1["negative"]) / 2, 4),
        **{f"f1_{cls}": round(value, 4) for cls, value in f1.items()},
    }


def tune(truth: list[str], scores: list[float]) -> tuple[tuple[float, float], dict[str, float]]:
    grid = [round(x * 0.02, 2) for x in range(0, 40)]
    best: tuple[tuple[float, float], dict[str, float]] | None = None
    for negative, positive in itertools.product(grid, grid):
        thresholds = (-negative, positive)
        result = summary(truth, [label_for(s, thresholds) for s in scores])
        if best is None or result["pos_neg_f1"] > best[1]["pos_neg_f1"]:
            best = (thresholds, result)
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--tune", action="store_true")
    args = parser.parse_args()
    with args.path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    pipeline = TextPipeline()
    lexicon = build_lexicon(pipeline, builtin_entries())
    scorer = LexiconScorer(pipeline, lexicon)
    truth = [LABELS[row["label"]] for row in rows]
    report: dict[str, object] = {"rows": len(rows), "lexicon_lemmas": len(lexicon)}
    for mode in ("whole_text", "target"):
        scores = [
            scorer.score(row["sentence"], row["entity"] if mode == "target" else None).score
            for row in rows
        ]
        thresholds = TARGET_THRESHOLDS if mode == "target" else WHOLE_TEXT_THRESHOLDS
        report[mode] = summary(truth, [label_for(s, thresholds) for s in scores])
        if args.tune:
            best, tuned = tune(truth, scores)
            report[f"{mode}_tuned"] = {"thresholds": best, **tuned}
    json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    main()

"""Emerging terms with a planted term, and quiet on stationary text."""

from __future__ import annotations

import random

from monitor.analysis.emerging import (
    document_frequencies,
    emerging_terms,
    log_likelihood,
    post_terms,
)

VOCABULARY = [
    "фронт",
    "дрон",
    "удар",
    "оборона",
    "позиция",
    "штурм",
    "снаряд",
    "город",
    "село",
    "бригада",
]


def corpus(
    posts: int, seed: int, planted: list[str] | None = None, share: float = 0.0
) -> list[list[str]]:
    rng = random.Random(seed)
    docs = []
    for _ in range(posts):
        doc = [rng.choice(VOCABULARY) for _ in range(12)] + ["и", "в", "2024", "#фронт", "@rybar"]
        if planted and rng.random() < share:
            doc += planted
        docs.append(doc)
    return docs


def test_post_terms_leave_out_noise() -> None:
    assert post_terms(["и", "мирный", "переговоры", "2024", "#сво", "сво", "@rybar", "мирный"]) == {
        "мирный", "переговоры", "сво", "мирный переговоры",
    }  # fmt: skip


def test_a_planted_phrase_emerges_first() -> None:
    baseline, n2 = document_frequencies(corpus(2000, 1))
    period, n1 = document_frequencies(corpus(200, 2, planted=["мирный", "переговоры"], share=0.3))
    top = emerging_terms(period, n1, baseline, n2)
    assert top[0].term == "мирный переговоры"
    assert top[0].baseline_posts == 0 and top[0].posts > 40
    assert all(t.term not in ("мирный", "переговоры") for t in top)  # not repeated as words


def test_stationary_text_brings_nothing_up() -> None:
    baseline, n2 = document_frequencies(corpus(2000, 3))
    period, n1 = document_frequencies(corpus(200, 4))
    assert all(t.score < 15 for t in emerging_terms(period, n1, baseline, n2))


def test_log_likelihood_is_zero_when_shares_match() -> None:
    assert log_likelihood(10, 100, 100, 1000) == 0.0
    assert log_likelihood(50, 10, 100, 1000) > log_likelihood(20, 10, 100, 1000) > 0

"""Emerging terms with a planted term, and quiet on stationary text."""

from __future__ import annotations

import random
from collections import Counter

from monitor.analysis.emerging import (
    document_frequencies,
    emerging_terms,
    log_likelihood,
    post_terms,
    shown_terms,
    written_form,
)
from monitor.text import TextPipeline

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


def test_link_markdown_and_username_fragments_are_no_terms() -> None:
    assert post_terms(["____bit", "bbcrussian__", "headlines_for_trad", "ракета"]) == {"ракета"}


def test_pieces_of_one_phrase_are_one_term_spelled_as_written(pipeline: TextPipeline) -> None:
    text = "Удар ракетой средней дальности по складу"
    lemmas = pipeline.lemmas(text)
    filler = [(" ".join(doc), " ".join(doc)) for doc in corpus(100, 5)]
    posts = [(" ".join(lemmas), text)] * 30 + filler
    period, n1 = document_frequencies(lemmas.split() for lemmas, _ in posts)
    baseline, n2 = document_frequencies(corpus(2000, 1))
    ranked = emerging_terms(period, n1, baseline, n2, top=40)
    assert {"ракета средний", "средний дальность", "удар ракета"} <= {t.term for t in ranked}
    shown = shown_terms(ranked, posts, pipeline.tokens)
    assert [(t.lemmas, t.written) for t in shown[:2]] == [
        ("удар ракета средний дальность", "удар ракетой средней дальности"),
        ("склад", "складу"),
    ]
    pieces = {"ракета", "средний", "ракета средний", "средний дальность", "удар ракета"}
    assert not pieces & {t.lemmas for t in shown}  # one phrase, one item


def test_a_term_is_spelled_as_its_posts_spell_it_inside_sentences(pipeline: TextPipeline) -> None:
    texts = ["Переговоры прошли в Анкаре.", "Встреча в Анкаре завершилась.", "В Анкаре тепло."]
    assert written_form(["анкара"], texts, pipeline.tokens) == "Анкаре"
    assert written_form(["переговоры"], texts, pipeline.tokens) == "переговоры"  # sentence start
    ukrainian = ["Зустріч відбулася 5 березня у Києві."] * 2
    assert (
        written_form([pipeline.lemmas("березня", "uk")[0]], ukrainian, pipeline.tokens) == "березня"
    )


def test_named_things_come_first_on_equal_scores() -> None:
    period = Counter({"арбуз": 10, "москва": 10})
    baseline = Counter({"фронт": 10})
    assert [t.term for t in emerging_terms(period, 100, baseline, 1000)] == ["арбуз", "москва"]
    named = emerging_terms(period, 100, baseline, 1000, named={"москва"}.__contains__)
    assert [t.term for t in named] == ["москва", "арбуз"]
    channels = emerging_terms(period, 100, baseline, 1000, excluded={"москва"})
    assert [t.term for t in channels] == ["арбуз"]

"""The text pipeline, table by table: normalisation, homoglyphs, tokens, lemmas."""

from __future__ import annotations

import pytest

from monitor.text import TextPipeline
from monitor.text.lemmas import ukrainian_stem
from monitor.text.normalise import clean, fold_homoglyphs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Трамп", "трамп"),
        ("ЁЛКА", "елка"),
        ("Тра\u0301мп", "трамп"),  # stress mark
        ("Тр\u200bамп", "трамп"),  # zero-width space
        ("Тр\u00adамп", "трамп"),  # soft hyphen
        ("\u200fТрамп\u200e", "трамп"),  # directional marks
        ("\ufeffТрамп", "трамп"),  # byte-order mark
        ("Трамп\u2060", "трамп"),  # word joiner
        ("и\u0306", "й"),  # decomposed й is composed, not stripped
        ("е\u0308лка", "елка"),  # decomposed ё
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("tрамп", "трамп"),  # Latin t in a Cyrillic word
        ("трамп", "трамп"),
        ("trump", "trump"),
        ("trumр", "trump"),  # Cyrillic р in a Latin word
        ("вoйна", "война"),  # Latin o
        ("pоссия", "россия"),
        ("cоо", "соо"),  # only look-alikes, Cyrillic majority
        ("сoo", "coo"),  # only look-alikes, Latin majority
        ("abc", "abc"),
        ("2024", "2024"),
    ],
)
def test_fold_homoglyphs(word: str, expected: str) -> None:
    assert fold_homoglyphs(word) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Трамп", ["трамп"]),
        ("Трампа Трампу Трампом Трампе", ["трамп"] * 4),
        ("Tрамп", ["трамп"]),  # Latin capital T
        ("санкций санкциями", ["санкция", "санкция"]),
        ("мирных переговоров", ["мирный", "переговоры"]),
        ("Артёмовск", ["артемовск"]),
        ("#Бахмут", ["#бахмут", "бахмут"]),
        ("@rybar пишет", ["@rybar", "писать"]),
        ("см. https://t.me/rybar/123 и www.example.com", ["смотреть", "и"]),
        ("Trump wins elections", ["trump", "win", "elect"]),
        ("Україна перемагає", ["україн", "перемага"]),
        ("м'ясо м’ясо", ["мясо", "мясо"]),
        ("F-16 летят", ["f", "16", "лететь"]),
        ("🔥🔥🔥 !!!", []),
        ("___ --- ...", []),
        ("", []),
    ],
)
def test_lemmas(pipeline: TextPipeline, text: str, expected: list[str]) -> None:
    assert pipeline.lemmas(text) == expected


def test_tokens_keep_offsets_in_the_original_text(pipeline: TextPipeline) -> None:
    text = "Вчера Тр\u200bампа видели. #Бахмут"
    tokens = pipeline.tokens(text)
    assert [text[t.start : t.end] for t in tokens] == ["Вчера", "Тр\u200bампа", "видели", "#Бахмут"]
    assert tokens[1].terms == ("трамп",)
    assert tokens[3].terms == ("#бахмут", "бахмут")


def test_query_terms_offer_every_reading_of_an_ambiguous_form(pipeline: TextPipeline) -> None:
    (options,) = pipeline.query_terms("стали")
    assert options[0] == pipeline.lemmas("стали")[0]
    assert {"стать", "сталь"} <= set(options)


@pytest.mark.parametrize(
    ("word", "stem"),
    [("україна", "україн"), ("україни", "україн"), ("україною", "україн"), ("війна", "війн"),
     ("війни", "війн"), ("зброєю", "збро"), ("він", "він")],
)  # fmt: skip
def test_ukrainian_stem_joins_forms(word: str, stem: str) -> None:
    assert ukrainian_stem(word) == stem

"""The lexicon scorer table by table, lexicon files, the sentiment and rescore commands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.config import Settings
from monitor.sentiment.lexicon import LexiconError, build_lexicon, builtin_entries, parse_entries
from monitor.sentiment.scorer import LexiconScorer, _occurrences
from monitor.sentiment.service import SentimentSetupError, load_scorer
from monitor.text import TextPipeline
from tests.test_cli import SAMPLE


@pytest.fixture(scope="module")
def scorer() -> LexiconScorer:
    pipeline = TextPipeline()
    return LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Наши бойцы одержали блестящую победу.", "positive"),
        ("Героический подвиг десантников восхищает.", "positive"),
        ("Противник понёс тяжёлые потери, город в руинах, погибли мирные жители.", "negative"),
        ("Очередная ложь и провокация киевского режима.", "negative"),
        ("Заседание назначено на вторник.", "neutral"),
        ("", "neutral"),
        ("🔥🔥🔥", "positive"),
        ("🤡🤡", "negative"),
        ("Україна здобула важливу перемогу.", "positive"),
        ("Окупанти знову обстрілюють місто, є загиблі.", "negative"),
        ("A great victory and a wonderful day.", "positive"),
        ("Another massacre and more killing.", "negative"),
    ],
)
def test_labels(scorer: LexiconScorer, text: str, label: str) -> None:
    assert scorer.score(text).label == label


@pytest.mark.parametrize(
    ("stronger", "weaker"),
    [
        ("очень хороший результат", "хороший результат"),
        ("хороший результат", "немного хороший результат"),
        ("крайне плохой результат", "плохой результат"),
    ],
)
def test_intensifiers_and_softeners(scorer: LexiconScorer, stronger: str, weaker: str) -> None:
    assert abs(scorer.score(stronger).score) > abs(scorer.score(weaker).score) > 0


@pytest.mark.parametrize(
    ("plain", "negated"),
    [("хороший результат", "не хороший результат"), ("это победа", "это не победа"),
     ("a good result", "not a good result"),
     ("добрий результат для України", "не добрий результат для України")],
)  # fmt: skip
def test_negation_flips(scorer: LexiconScorer, plain: str, negated: str) -> None:
    assert scorer.score(plain).score > 0 > scorer.score(negated).score


def test_what_follows_but_weighs_more(scorer: LexiconScorer) -> None:
    assert scorer.score("Было тяжело, но мы победили").score > 0
    assert scorer.score("Мы победили, но потери огромны и это трагедия").score < 0


def test_target_aware_scores_only_the_words_near_the_term(scorer: LexiconScorer) -> None:
    text = (
        "Путин — мудрый и сильный лидер. "
        + "Совещание продлилось до вечера. " * 3
        + "Трамп — лжец и провокатор."
    )
    assert scorer.score(text, "Путин").label == "positive"
    assert scorer.score(text, "Трампа").label == "negative"  # any form of the term
    absent = scorer.score(text, "Байден")
    assert (absent.label, absent.hits) == ("neutral", 0)


def test_a_score_names_the_words_that_made_it(scorer: LexiconScorer) -> None:
    """What a shift's evidence is built from: each hit with what it added, the modifiers
    applied, emoji included; around a term, only the words near it, weighted by distance."""
    whole = scorer.score("Не мудрый, а очень лживый человек 🤡")
    words = dict(whole.words)
    assert set(words) == {"мудрый", "лживый", "🤡"} and whole.hits == 3
    assert words["мудрый"] < 0 < scorer.score("мудрый").words[0][1]  # negated
    assert words["лживый"] < scorer.score("лживый").words[0][1]  # intensified
    assert words["🤡"] == pytest.approx(-0.6)
    text = "Путин — мудрый лидер. " + "Совещание продлилось до вечера. " * 3 + "Трамп — лжец."
    assert [word for word, _ in scorer.score(text, "Трамп").words] == ["лжец"]
    assert scorer.score("Совещание продлилось до вечера.").words == ()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=20)))
def test_scores_stay_in_range(scorer: LexiconScorer, text: str, target: str | None) -> None:
    result = scorer.score(text, target)
    assert -1.0 <= result.score <= 1.0
    assert result.label in ("positive", "neutral", "negative")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("лучший\tочень\n", "line 1: the score 'очень' is not a number"),
        ("лучший\t1.5\n", "line 1: scores go from -1 to 1"),
        ("lemma\tpolarity\nодно-слово\n", "line 2: expected a word and a score"),
    ],
)
def test_lexicon_lines_that_cannot_be_used(content: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_entries(content.splitlines(), "mine.tsv")


def test_a_user_lexicon_is_merged_over_the_builtin_one(tmp_path: Path) -> None:
    pipeline = TextPipeline()
    mine = tmp_path / "mine.csv"
    mine.write_text("word,score\nпогода,0.9\nпобеда,-0.5\n", encoding="utf-8")
    scorer = load_scorer(pipeline, Settings(sentiment_lexicon=mine))
    assert scorer.score("Какая погода!").label == "positive"
    assert scorer.score("Это победа").score < 0
    bad = tmp_path / "bad.tsv"
    bad.write_text("погода\tхорошо\n", encoding="utf-8")
    with pytest.raises(SentimentSetupError, match=r"SENTIMENT_LEXICON: .*bad\.tsv, line 1"):
        load_scorer(pipeline, Settings(sentiment_lexicon=bad))
    with pytest.raises(SentimentSetupError, match="SENTIMENT_MODEL"):
        load_scorer(pipeline, Settings(sentiment_model=tmp_path))


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv), out=out, err=err)
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SENTIMENT_LEXICON", "SENTIMENT_MODEL", "DB_PATH", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_sentiment_command(tmp_path: Path) -> None:
    code, out, _ = run("sentiment", stdin="Блестящая победа!\n\nЛожь и позор.\n")
    assert code == 0
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["positive", "negative"]
    lines = '{"text": "Трамп лжёт", "target": "Трамп"}\nnot json\n{"text": 5}\n'
    code, out, err = run("sentiment", "--jsonl", stdin=lines)
    assert code == 1
    [result] = [json.loads(line) for line in out.splitlines()]
    assert result["target"] == "Трамп" and result["label"] == "negative"
    assert "line 2: not a JSON object" in err and 'line 3: expected an object with a "text"' in err
    texts = tmp_path / "texts.txt"
    texts.write_text("Трамп победил\n", encoding="utf-8")
    code, out, _ = run("sentiment", str(texts), "--target", "Трамп")
    assert code == 0 and json.loads(out)["target"] == "Трамп"
    code, _, err = run("sentiment", str(tmp_path / "missing.txt"))
    assert code == 1 and "cannot be read" in err


def test_posts_are_scored_when_stored_and_rescored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "s.db")
    assert run("import", str(SAMPLE), "--db", db)[0] == 0
    code, out, _ = run("export", "--format", "jsonl", "--db", db)
    scores = {r["message_id"]: r["sentiment"] for r in map(json.loads, out.splitlines())}
    assert all(value is not None for value in scores.values())
    assert scores[104] == 0.0  # a photo without a caption
    mine = tmp_path / "mine.tsv"
    mine.write_text("погода\t1\nсводка\t1\n", encoding="utf-8")
    monkeypatch.setenv("SENTIMENT_LEXICON", str(mine))
    code, out, _ = run("rescore", "--db", db)
    assert code == 0 and "Rescored 12 posts" in out
    _, out, _ = run("export", "--format", "jsonl", "--db", db)
    after = {r["message_id"]: r["sentiment"] for r in map(json.loads, out.splitlines())}
    assert after[101] > scores[101]  # "Сводка с фронта" now counts as positive


@given(
    lemmas=st.lists(st.sampled_from(["трамп", "мир", "не", "x"]), max_size=30),
    wanted=st.lists(st.sampled_from(["трамп", "мир", "x"]), max_size=3),
    as_tuple=st.booleans(),
)
def test_occurrences_are_every_start_of_the_target(
    lemmas: list[str], wanted: list[str], as_tuple: bool
) -> None:
    expected = [
        i
        for i in range(len(lemmas) - len(wanted) + 1)
        if wanted and lemmas[i : i + len(wanted)] == wanted
    ]
    assert _occurrences(tuple(lemmas) if as_tuple else lemmas, wanted) == expected

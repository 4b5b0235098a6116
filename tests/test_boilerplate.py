"""A channel's boilerplate: learned from its posts, kept in the store, masked out of what the
digest's detectors read."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.analysis.boilerplate import learn, mask
from monitor.boilerplate import RELEARN_AFTER, refresh_boilerplate
from monitor.digest import build_digest
from monitor.ingest import ingest
from monitor.models import ChannelInfo, Post
from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import LexiconScorer
from monitor.store import Store
from monitor.text import TextPipeline
from tests.conftest import run_cli

DAY = datetime(2025, 10, 20, tzinfo=UTC)
SIGN_OFF = "🔹 Подписаться на РИА Новости"
NEWS = ["Цены на нефть выросли", "В Москве прошёл дождь", "Банк снизил ставку",
        "Мост закрыли на ремонт", "Поезда ходят по расписанию", "Выставка открылась в парке"]  # fmt: skip


def test_learn_finds_the_sign_off_line_and_a_trailing_phrase(pipeline: TextPipeline) -> None:
    texts = [f"{NEWS[i % 6]} {i}\n{SIGN_OFF}" for i in range(20)]
    texts += [f"{NEWS[i % 6]}\nПодробности {i}. Прислать новость @bot" for i in range(20)]
    texts += ["Один и тот же пост"] * 20  # a post that is one line is not boilerplate
    found = {b.lemmas: b for b in learn(texts, pipeline)}
    assert set(found) == {"подписаться на риа новость", "прислать новость @bot"}
    assert found["подписаться на риа новость"].text == SIGN_OFF
    assert found["подписаться на риа новость"].posts == 20
    assert found["подписаться на риа новость"].sampled == 60
    assert found["прислать новость @bot"].text == "Прислать новость @bot"


def test_learn_leaves_lines_of_few_posts(pipeline: TextPipeline) -> None:
    texts = [f"{NEWS[i % 6]} {i % 12}\nномер {i}" for i in range(60)]  # each line in 5 of 60
    assert learn(texts, pipeline) == []


def test_mask_removes_every_occurrence() -> None:
    assert mask("нефть расти подписаться на риа", ["подписаться на риа"]) == "нефть расти"
    assert mask("a b a b c", ["a b"]) == "c"
    assert mask("подписаться на риа", ["подписаться на риа"]) == ""
    assert mask("ab c", ["b c"]) == "ab c"  # whole words only


async def _channel(store: Store, pipeline: TextPipeline, texts: list[str], start: datetime) -> None:
    await store.save_channel(ChannelInfo(1, "RIA", "rian_ru"), "test", start, active=True)
    await _post(store, pipeline, texts, start, 1)


async def _post(
    store: Store, pipeline: TextPipeline, texts: list[str], start: datetime, first: int
) -> None:
    posts = [Post(channel_id=1, message_id=first + n, date=start + timedelta(minutes=n), text=text)
             for n, text in enumerate(texts)]  # fmt: skip
    await ingest(store, pipeline, 1, posts, start)


async def test_refresh_learns_once_then_again_after_new_posts(
    store: Store, pipeline: TextPipeline
) -> None:
    await _channel(store, pipeline, [f"{NEWS[i % 6]} {i}\n{SIGN_OFF}" for i in range(30)], DAY)
    assert await refresh_boilerplate(store, pipeline, [1], DAY) == [1]
    assert [b.text for b in (await store.boilerplate([1]))[1]] == [SIGN_OFF]
    assert await refresh_boilerplate(store, pipeline, [1], DAY) == []  # nothing new
    later = DAY + timedelta(days=10)
    newer = [f"{NEWS[n % 6]} {n}\n⚡ Читать нас в Telegram" for n in range(RELEARN_AFTER)]
    await _post(store, pipeline, newer, later, 100)
    assert await refresh_boilerplate(store, pipeline, [1], later) == [1]
    learned = {b.text for b in (await store.boilerplate([1]))[1]}
    assert "⚡ Читать нас в Telegram" in learned


async def test_a_sign_off_is_no_emerging_term(store: Store, pipeline: TextPipeline) -> None:
    # The channel's baseline has no sign-off; its period signs every post off.
    await _channel(
        store, pipeline, [f"{NEWS[i % 6]} {i}" for i in range(60)], DAY - timedelta(days=5)
    )
    await _post(
        store,
        pipeline,
        [f"{NEWS[n % 6]} {n}, саммит в Анкаре\n{SIGN_OFF}" for n in range(30)],
        DAY,
        200,
    )
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    digest = await build_digest(
        store, scorer, DAY, DAY + timedelta(days=1), DAY + timedelta(days=1)
    )
    terms = " ".join(t["lemmas"] for t in digest["emerging_terms"])
    assert digest["emerging_terms"] and "подписаться" not in terms and "риа" not in terms
    # The archive keeps the text whole.
    assert all(SIGN_OFF in p["text"] for c in digest["channels"] for p in c["top_posts"])


def test_stats_shows_a_channels_boilerplate(tmp_path: Path, pipeline: TextPipeline) -> None:
    path = tmp_path / "archive.db"

    async def fill() -> None:
        async with await Store.open(path) as store:
            texts = [f"{NEWS[i % 6]} {i}\n{SIGN_OFF}" for i in range(30)]
            await _channel(store, pipeline, texts, DAY)

    asyncio.run(fill())
    code, out, _ = run_cli(None, "stats", "--boilerplate", "@rian_ru", "--db", path)
    assert code == 0 and out == f"  30 of 30 posts  {SIGN_OFF}\n"
    code, out, _ = run_cli(None, "stats", "--boilerplate", "@rian_ru", "--json", "--db", path)
    assert json.loads(out)["boilerplate"] == [
        {"text": SIGN_OFF, "lemmas": "подписаться на риа новость", "posts": 30, "sampled": 30}
    ]
    code, _, err = run_cli(None, "stats", "--boilerplate", "@nobody", "--db", path)
    assert code == 1 and "no channel @nobody" in err

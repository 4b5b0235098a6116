"""The digest over a planted month: a keyword spike, a turn in tone, a copy-paste campaign,
an edit and a deletion, each found and carried with the fields the JSON promises."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import digest as digest_module
from monitor.cli import main
from monitor.digest import build_digest
from monitor.ingest import ingest
from monitor.models import LIVE, ChannelInfo, Post
from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import LexiconScorer
from monitor.store import Store
from monitor.text import TextPipeline
from monitor.watch import add_term
from tests.conftest import run_cli

DAY = datetime(2024, 11, 6, tzinfo=UTC)
CAMPAIGN = ("Срочно: по данным наших источников, Киев готовит провокацию на Запорожской АЭС, "
            "чтобы обвинить Россию и сорвать мирные переговоры. Распространите, пока не удалили!")  # fmt: skip
ROUTINE = ["Сводка: на фронте без изменений.", "Погода в Донецке ясная.", "Колонна техники прошла маршем.",
           "Обзор карты боевых действий.", "Ответы на вопросы подписчиков."]  # fmt: skip


def make(channel: int, message: int, text: str, when: datetime, views: int | None = None) -> Post:
    return Post(channel_id=channel, message_id=message, date=when, text=text, views=views)


@pytest.fixture
async def month(store: Store, pipeline: TextPipeline) -> Store:
    for channel_id, name in ((1, "milblog_a"), (2, "milblog_b"), (3, "milblog_c")):
        await store.save_channel(
            ChannelInfo(channel_id, name.upper(), name), "test", DAY, active=True
        )
    posts: dict[int, list[Post]] = {1: [], 2: [], 3: []}
    for day in range(28, 0, -1):
        base = DAY - timedelta(days=day)
        for channel_id in (1, 2, 3):
            for n in range(3):
                posts[channel_id].append(
                    make(
                        channel_id,
                        len(posts[channel_id]) + 1,
                        ROUTINE[(day + n) % 5],
                        base + timedelta(hours=n * 5),
                    )
                )
        if day % 2 == 0:  # about 0.5 a day, warmly
            posts[1].append(
                make(
                    1,
                    len(posts[1]) + 1,
                    "Трамп — мудрый и сильный лидер, настоящий успех.",
                    base + timedelta(hours=20),
                )
            )
    for n in range(12):  # the period: Трамп everywhere, and scorned
        posts[1].append(
            make(
                1,
                len(posts[1]) + 1,
                f"Трамп — лжец и предатель, позор. Выпуск {n}.",
                DAY + timedelta(hours=1 + n),
                views=1000 - abs(n - 7) * 50,  # the eighth reaches furthest
            )
        )
    posts[2].append(make(2, len(posts[2]) + 1, CAMPAIGN, DAY + timedelta(hours=3)))
    posts[3].append(
        make(3, len(posts[3]) + 1, "⚡️ " + CAMPAIGN + " #АЭС", DAY + timedelta(hours=4))
    )
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    for channel_id, items in posts.items():
        await ingest(store, pipeline, channel_id, items, DAY - timedelta(days=29), scorer=scorer)
    await add_term(store, pipeline, "Трамп", ["Trump"], None, "test", DAY)
    edited = posts[2][-2]
    await ingest(store, pipeline, 2, [Post(2, edited.message_id, edited.date, "Исправлено: сводка уточнена.",
                                            edit_date=DAY + timedelta(hours=5))], DAY + timedelta(hours=5))  # fmt: skip
    await store.mark_deleted(3, [posts[3][-2].message_id], DAY + timedelta(hours=6), source=LIVE)
    return store


async def test_digest_finds_what_was_planted(month: Store, pipeline: TextPipeline) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    digest = await build_digest(
        month, scorer, DAY, DAY + timedelta(days=1), DAY + timedelta(days=1)
    )
    assert set(digest) >= {"period", "totals", "channels", "spikes", "sentiment_shifts", "emerging_terms",
                           "campaigns", "deletions", "edits", "health"}  # fmt: skip
    spikes = {(s["term"], s["channel"]): s for s in digest["spikes"]}
    spike = spikes[("Трамп", "@milblog_a")]
    assert spike["count"] == 12 and spike["baseline"] == pytest.approx(0.5, abs=0.01)
    assert spike["ratio"] > 20 and spike["p_value"] < 1e-6
    # Its evidence: the first post of the day and the one of widest reach.
    assert spike["first_post"]["text"].endswith("Выпуск 0.")
    assert spike["top_post"]["text"].endswith("Выпуск 7.") and spike["top_post"]["views"] == 1000
    assert spike["top_post"]["url"].startswith("https://t.me/milblog_a/")
    assert ("Трамп", None) in spikes  # across all channels too

    shifts = {(s["channel"], s["term"]): s for s in digest["sentiment_shifts"]}
    turn = shifts[("@milblog_a", "Трамп")]
    assert turn["before"] > 0 > turn["after"] and (turn["n_before"], turn["n_after"]) == (14, 12)
    # Its evidence: the warmest posts before, the most scornful after, and the words.
    assert [p["text"] for p in turn["posts_before"]] == [
        "Трамп — мудрый и сильный лидер, настоящий успех."
    ] * 3
    assert all(p["score"] > 0 and p["url"].startswith("https://t.me/milblog_a/")
               for p in turn["posts_before"])  # fmt: skip
    assert len(turn["posts_after"]) == 3 and all(p["score"] < 0 for p in turn["posts_after"])
    moved = {w["word"]: (w["before"], w["after"], w["value"]) for w in turn["words"]}
    assert moved["мудрый"][:2] == (14, 0) and moved["мудрый"][2] > 0
    assert moved["лжец"][:2] == (0, 12) and moved["лжец"][2] < 0
    tone = shifts[("@milblog_a", None)]  # the channel's whole tone: its sample read back
    assert {"лжец", "позор", "предатель"} <= {w["word"] for w in tone["words"]}
    assert tone["posts_before"][0]["text"].startswith("Трамп — мудрый")

    [campaign] = digest["campaigns"]
    assert campaign["channels"] == ["@milblog_b", "@milblog_c"]
    assert next(p["url"] for p in campaign["posts"]).startswith("https://t.me/milblog_b/")

    [edit] = digest["edits"]
    assert edit["new_text"] == "Исправлено: сводка уточнена." and edit["old_text"] in ROUTINE
    [deleted] = digest["deletions"]
    assert deleted["channel"] == "@milblog_c"
    assert digest["totals"]["posts"] == 14
    channels = {c["channel"]: c for c in digest["channels"]}
    assert channels["@milblog_a"]["posts"] == 12 and channels["@milblog_a"][
        "baseline"
    ] == pytest.approx(3.5, abs=0.01)
    assert any("трамп" in t["term"] or "лжец" in t["term"] for t in digest["emerging_terms"])


async def test_a_sampled_baseline_still_finds_the_planted_turn(
    month: Store, pipeline: TextPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest_module, "BASELINE_SAMPLE", 40)
    monkeypatch.setattr(digest_module, "SHIFT_SAMPLE", 20)
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    digest = await build_digest(
        month, scorer, DAY, DAY + timedelta(days=1), DAY + timedelta(days=1)
    )
    turn = {(s["channel"], s["term"]): s for s in digest["sentiment_shifts"]}[
        ("@milblog_a", "Трамп")
    ]
    assert turn["n_before"] == 14 and turn["before"] > 0 > turn["after"]
    assert digest["totals"]["baseline_posts_per_day"] == pytest.approx((28 * 9 + 14) / 28, abs=0.01)
    assert any("трамп" in t["term"] or "лжец" in t["term"] for t in digest["emerging_terms"])


async def test_a_busy_day_searches_campaigns_in_a_worker_process(
    month: Store, pipeline: TextPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    end = DAY + timedelta(days=1)
    here = await build_digest(month, scorer, DAY, end, end)
    monkeypatch.setattr(digest_module, "PARALLEL_FROM", 1)
    spawned: list[object] = []
    original = digest_module.ProcessPoolExecutor

    def counting(*args: object, **kwargs: object) -> object:
        spawned.append(args)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(digest_module, "ProcessPoolExecutor", counting)
    there = await build_digest(month, scorer, DAY, end, end)
    assert spawned and there == here and len(there["campaigns"]) == 1


async def test_baseline_samples(month: Store) -> None:
    since = DAY - timedelta(days=28)
    [trump] = await month.watch_terms()
    posts = await month.mention_sample(trump.id, since, DAY, 6)
    assert 3 <= len(posts) <= 6 and posts == sorted(posts, key=lambda p: p.date)
    assert all("Трамп" in p.text for p in posts)
    assert len(await month.mention_sample(trump.id, since, DAY, 100)) == 14
    counts = await month.posts_per_channel(since, DAY)
    assert counts == {1: 28 * 3 + 14, 2: 28 * 3, 3: 28 * 3}
    total = sum(counts.values())
    assert len(await month.sample_lemmas(since, DAY, 10_000, total)) == total
    assert 25 <= len(await month.sample_lemmas(since, DAY, 50, total)) <= 50
    # Small against the total: runs of consecutive ids, still near the size asked for.
    assert 5 <= len(await month.sample_lemmas(since, DAY, 10, total)) <= 2 * 16
    sentiments = await month.sentiments_by_channel(since, DAY, 30, counts)
    assert set(sentiments) == {1, 2, 3} and all(15 <= len(v) <= 30 for v in sentiments.values())


async def test_a_quiet_day_flags_nothing(month: Store, pipeline: TextPipeline) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    quiet = DAY - timedelta(days=3)
    digest = await build_digest(month, scorer, quiet, quiet + timedelta(days=1), DAY)
    assert digest["spikes"] == [] and digest["sentiment_shifts"] == [] and digest["campaigns"] == []


def test_digest_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    db = str(tmp_path / "d.db")
    sample = Path(__file__).resolve().parents[1] / "monitor" / "sample" / "sample_export.json"
    assert main(["import", str(sample), "--db", db], out=io.StringIO(), err=io.StringIO()) == 0
    assert (
        main(
            ["digest", "--since", "2024-11-01", "--until", "2024-11-09", "--json", "--db", db],
            out=out,
            err=err,
        )
        == 0
    )
    digest = json.loads(out.getvalue())
    assert digest["totals"]["posts"] == 12
    assert digest["period"]["until"] == "2024-11-10T00:00:00+00:00"
    err = io.StringIO()
    assert main(["digest", "--since", "2024-11-05", "--db", db], out=io.StringIO(), err=err) == 2
    assert "Give --date D, or both --since D and --until D." in err.getvalue()


async def test_alert_findings_see_the_day_so_far(month: Store, pipeline: TextPipeline) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    findings = await digest_module.alert_findings(month, scorer, DAY + timedelta(hours=13))
    keys = {f["key"] for f in findings}
    assert "spike|Трамп|@milblog_a" in keys and "spike|Трамп|None" in keys
    assert "shift|Трамп|@milblog_a" in keys
    assert all(f["kind"] in ("spike", "shift") for f in findings)
    quiet = await digest_module.alert_findings(month, scorer, DAY - timedelta(days=3, hours=-13))
    assert quiet == []


async def test_top_posts_say_what_they_are_ranked_by(store: Store, pipeline: TextPipeline) -> None:
    # A live channel with views, an export that kept reactions, and an export with no counters
    # at all, where a late post is forwarded by another archived channel and one is replied to.
    for channel_id, name in ((1, "live"), (2, "reacted"), (3, "bare"), (4, "repost")):
        await store.save_imported_channel(ChannelInfo(channel_id, name, name), DAY)
    at = [DAY + timedelta(hours=h) for h in range(1, 7)]
    posts = {
        1: [make(1, 1, "Первая.", at[0]), replace(make(1, 2, "Вторая.", at[1]), views=900),
            replace(make(1, 3, "Третья.", at[2]), views=90, forwards=40)],
        2: [make(2, 1, "Первая.", at[0]), replace(make(2, 2, "Вторая.", at[1]), reactions={"👍": 7})],
        3: [make(3, 1, "Утро.", at[0]), make(3, 2, "День.", at[1]), make(3, 3, "Вечер.", at[2]),
            replace(make(3, 4, "Уточнение к дневному.", at[3]), reply_to=2),
            make(3, 5, "Главное за день.", at[4])],
        4: [replace(make(4, 1, "Главное за день.", at[5]), forward_from="bare", forward_from_id=3)],
    }  # fmt: skip
    for channel_id, items in posts.items():
        await ingest(store, pipeline, channel_id, items, DAY + timedelta(days=1))
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    digest = await build_digest(
        store, scorer, DAY, DAY + timedelta(days=1), DAY + timedelta(days=1)
    )
    channels = {c["channel"]: c for c in digest["channels"]}

    def ranking(name: str) -> tuple[str, list[int]]:
        channel = channels[name]
        return channel["ranked_by"], [p["message_id"] for p in channel["top_posts"]]

    # Views rank first (90 views and 40 forwards stay below 900 views); a post without them last.
    assert ranking("@live") == ("views", [2, 3, 1])
    assert ranking("@reacted") == ("forwards and reactions", [2, 1])
    # Forwarded by @repost, then replied to, then the first of the rest: never time alone.
    assert ranking("@bare") == ("forwards and replies in the archive", [5, 2, 1])
    bare = channels["@bare"]["top_posts"]
    assert [(p["archive_forwards"], p["archive_replies"]) for p in bare] == [(1, 0), (0, 1), (0, 0)]


async def test_health_names_an_imported_channel_whose_archive_ends_before_the_period(
    store: Store, pipeline: TextPipeline
) -> None:
    await store.save_channel(ChannelInfo(1, "followed", "followed"), "cli", DAY, active=True)
    await store.save_imported_channel(ChannelInfo(2, "ended", "ended"), DAY)
    await store.save_imported_channel(ChannelInfo(3, "covers", "covers"), DAY)
    ended = DAY - timedelta(days=10)
    posts = {
        1: [make(1, n, "Сводка.", DAY - timedelta(hours=n)) for n in range(1, 30)],
        2: [make(2, n, "Сводка.", ended - timedelta(hours=n)) for n in range(1, 26)],
        3: [make(3, n, "Сводка.", DAY + timedelta(days=2) - timedelta(hours=n)) for n in range(1, 80)],
    }  # fmt: skip
    for channel_id, items in posts.items():
        await ingest(store, pipeline, channel_id, items, DAY)
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    now = DAY + timedelta(days=3)
    digest = await build_digest(store, scorer, DAY, DAY + timedelta(days=1), now)
    health = {h["channel"]: h for h in digest["health"]}
    assert set(health) == {"@followed", "@ended"}
    assert health["@ended"]["state"] == "imported, not followed"
    assert health["@ended"]["last_post"] == (ended - timedelta(hours=1)).isoformat()
    assert health["@ended"]["posts_per_day"] == 25  # 25 posts over its one archived day


@pytest.fixture
async def arrivals(month: Store, pipeline: TextPipeline) -> Store:
    """The planted month, and channels that joined the archive lately: three 8 days before
    the day, each naming Байден four times a day as usual, and @newcomer 3 days before, warm
    on Трамп until the day turns it to scorn (as @milblog_a)."""
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    for channel_id, name in ((4, "late_x"), (5, "late_y"), (6, "late_z"), (7, "newcomer")):
        await month.save_channel(ChannelInfo(channel_id, name.upper(), name), "test", DAY)
    for channel_id in (4, 5, 6):
        posts = [
            make(channel_id, day * 4 + n + 1, f"Байден выступил с речью. Выпуск {n}.",
                 DAY - timedelta(days=day, hours=-2 - 5 * n))
            for day in range(8, -1, -1) for n in range(4)
        ]  # fmt: skip
        await ingest(month, pipeline, channel_id, posts, DAY, scorer=scorer)
    newcomer = [
        make(7, day * 4 + n + 1, "Трамп — мудрый и сильный лидер, настоящий успех.",
             DAY - timedelta(days=day, hours=-1 - 5 * n))
        for day in range(3, 0, -1) for n in range(4)
    ]  # fmt: skip
    newcomer += [
        make(
            7,
            100 + n,
            f"Трамп — лжец и предатель, позор. Выпуск {n}.",
            DAY + timedelta(hours=1 + n),
        )
        for n in range(12)
    ]
    await ingest(month, pipeline, 7, newcomer, DAY + timedelta(hours=13), scorer=scorer)
    await add_term(month, pipeline, "Байден", [], None, "test", DAY)
    return month


async def test_channels_new_to_the_archive_are_listed_not_judged(
    arrivals: Store, pipeline: TextPipeline
) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    end = DAY + timedelta(days=1)
    digest = await build_digest(arrivals, scorer, DAY, end, end)
    spikes = {(s["term"], s["channel"]): s for s in digest["spikes"]}
    # @newcomer has 3 archived days: no spike and no shift of its own, and its 12 mentions
    # stay out of the all-channel count; the planted spike of @milblog_a stands.
    assert set(spikes) == {("Трамп", "@milblog_a"), ("Трамп", None)}
    assert spikes[("Трамп", None)]["count"] == 12
    assert spikes[("Трамп", None)]["baseline"] == pytest.approx(0.5, abs=0.01)
    # Байден: as usual in channels 8 days old, judged on those 8 days, not on 28.
    assert not any(term == "Байден" for term, _ in spikes)
    assert all(s["channel"] != "@newcomer" for s in digest["sentiment_shifts"])
    shifts = {(s["channel"], s["term"]): s for s in digest["sentiment_shifts"]}
    assert (shifts[(None, "Трамп")]["n_before"], shifts[(None, "Трамп")]["n_after"]) == (14, 12)
    [new] = digest["new_channels"]
    assert new["channel"] == "@newcomer" and new["posts"] == 12
    assert new["archived_since"] == (DAY - timedelta(days=3, hours=-1)).isoformat()
    assert new["judged_from"] == (DAY + timedelta(days=4, hours=1)).isoformat()
    assert len(new["top_posts"]) == 3 and new["top_posts"][0]["url"].startswith(
        "https://t.me/newcomer/"
    )

    # A week later the newcomer is judged like the others.
    later = DAY + timedelta(days=7)
    digest = await build_digest(arrivals, scorer, later, later + timedelta(days=1), later)
    assert digest["new_channels"] == []


async def test_alerts_leave_new_channels_out(arrivals: Store, pipeline: TextPipeline) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    findings = await digest_module.alert_findings(arrivals, scorer, DAY + timedelta(hours=13))
    keys = {f["key"] for f in findings}
    assert "spike|Трамп|@milblog_a" in keys and "shift|Трамп|@milblog_a" in keys
    assert not any("@newcomer" in key or "Байден" in key for key in keys)
    spike = next(f for f in findings if f["key"] == "spike|Трамп|None")
    assert spike["count"] == 12


@pytest.mark.parametrize(
    ("first_post", "backfill_since", "start"),
    [
        (DAY, None, DAY),
        (DAY, DAY - timedelta(days=10), DAY - timedelta(days=10)),  # read back to a quiet past
        (DAY, DAY + timedelta(days=1), DAY),
        (None, DAY - timedelta(days=2), DAY - timedelta(days=2)),  # nothing posted yet
        (None, None, None),
    ],
)
async def test_a_channels_archive_starts_at_its_first_post_or_its_backfill_start(
    store: Store, pipeline: TextPipeline, first_post: datetime | None,
    backfill_since: datetime | None, start: datetime | None,
) -> None:  # fmt: skip
    await store.save_channel(ChannelInfo(1, "C", None), "test", DAY)
    await store.save_channel(ChannelInfo(2, "Other", None), "test", DAY)
    await ingest(store, pipeline, 2, [make(2, 1, "раньше", DAY - timedelta(days=30))], DAY)
    if backfill_since is not None:
        await store.follow_channel(1, backfill_since, DAY)
    if first_post is not None:
        later = [make(1, n, "текст", first_post + timedelta(hours=n)) for n in (3, 1, 2)]
        await ingest(store, pipeline, 1, later, DAY)
        start = start if start != first_post else first_post + timedelta(hours=1)
    starts = await store.archive_starts()
    assert starts.get(1) == start and starts[2] == DAY - timedelta(days=30)


async def test_a_spikes_evidence_is_its_first_post_and_its_widest_reach(
    store: Store, pipeline: TextPipeline
) -> None:
    """Reach is views when known, else forwards and reactions; a known view count ranks
    above an unknown one."""
    for channel_id in (1, 2):
        await store.save_channel(ChannelInfo(channel_id, f"C{channel_id}", None), "test", DAY)
    posts = {
        1: [  # no views known: forwards and reactions decide
            Post(1, 1, DAY + timedelta(hours=1), "Трамп один", forwards=50),
            Post(1, 2, DAY + timedelta(hours=2), "Трамп два", forwards=2, reactions={"👍": 60}),
        ],
        2: [
            Post(2, 1, DAY + timedelta(minutes=30), "Трамп три", views=500),
            Post(2, 2, DAY + timedelta(minutes=40), "Трамп четыре", forwards=1000),
            Post(2, 3, DAY - timedelta(hours=1), "Трамп вчера", views=9000),
        ],
    }
    for channel_id, items in posts.items():
        await ingest(store, pipeline, channel_id, items, DAY)
    term = await add_term(store, pipeline, "Трамп", [], None, "test", DAY)
    end = DAY + timedelta(days=1)

    async def evidence(channels: list[int]) -> tuple[str | None, str | None]:
        first, top = await store.first_and_top_mention(term.id, DAY, end, channels)
        return (first.text if first else None, top.text if top else None)

    assert await evidence([1]) == ("Трамп один", "Трамп два")
    assert await evidence([2]) == ("Трамп три", "Трамп три")
    assert await evidence([1, 2]) == ("Трамп три", "Трамп три")
    assert await evidence([3]) == (None, None)


@pytest.mark.usefixtures("isolated")
async def test_the_command_line_shows_new_channels_and_the_evidence(
    arrivals: Store, tmp_path: Path
) -> None:
    code, out, _ = await asyncio.to_thread(
        run_cli, None, "digest", "--date", "2024-11-06", "--db", tmp_path / "archive.db"
    )
    assert code == 0
    assert (
        "Трамп in @milblog_a on 2024-11-06: 12 posts against 0.5/day (x24.0, p=3.2e-13)\n"
        "      first: https://t.me/milblog_a/99 Трамп — лжец и предатель, позор. Выпуск 0.\n"
        "      widest reach: https://t.me/milblog_a/106 Трамп — лжец и предатель, позор. Выпуск 7.\n"
    ) in out
    assert "      words: мудрый (+0.62) 14 -> 0 posts, лжец (-0.53) 0 -> 12 posts, " in out
    assert "      before +0.91: https://t.me/milblog_a/" in out
    assert "      after -0.75: https://t.me/milblog_a/99 Трамп — лжец" in out
    assert (
        "New channels (not judged until a week is archived):\n"
        "  - @newcomer: archived since 2024-11-03T01:00:00+00:00, 12 posts, judged from "
        "2024-11-10T01:00:00+00:00\n      https://t.me/newcomer/"
    ) in out

"""Channel networks: planted families (three sister channels that repost each other daily)
among independent channels, table by table without I/O; then the digest and the command
line over a real archive of them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.analysis.attribution import echo_of, source_of
from monitor.analysis.campaigns import Campaign, CampaignPost
from monitor.analysis.networks import (
    Network,
    learn_networks,
    network_name,
    split_by_network,
    spread_slices,
)
from monitor.digest import build_digest
from monitor.ingest import ingest
from monitor.models import ChannelInfo, Post
from monitor.sentiment.lexicon import build_lexicon, builtin_entries
from monitor.sentiment.scorer import LexiconScorer
from monitor.store import Store
from monitor.text import TextPipeline
from tests.conftest import run_cli

DAY = datetime(2024, 11, 6, tzinfo=UTC)
FAMILY = (1, 2, 3)  # Топор, Топор Live, Кибер-Топор
VOCABULARY = [f"слово{n}" for n in range(3000)]


class Texts:
    """Distinct texts of 20 words: no two share a 3-gram by chance."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self) -> list[str]:
        return self.rng.sample(VOCABULARY, 20)


def day_of_posts(
    texts: Texts, day: datetime, shared: int = 3, aggregator: bool = False
) -> list[CampaignPost]:
    """A day: the family's main channel posts six texts, its sisters repost `shared` of them
    within minutes; two independent channels (4, 5) post six texts of their own; channel 6,
    an aggregator when asked, copies one text a day from the family and one from channel 4."""
    posts = []
    for n in range(6):
        hour = day + timedelta(hours=2 + 3 * n)
        family_text, own_4, own_5 = texts(), texts(), texts()
        posts += [CampaignPost(1, len(posts), hour, family_text)]
        if n < shared:
            posts += [CampaignPost(2, len(posts), hour + timedelta(minutes=5), family_text)]
            posts += [CampaignPost(3, len(posts), hour + timedelta(minutes=9), family_text)]
        posts += [
            CampaignPost(4, len(posts), hour, own_4),
            CampaignPost(5, len(posts), hour, own_5),
        ]
        if aggregator and n == 0:
            posts += [CampaignPost(6, len(posts), hour + timedelta(minutes=30), family_text)]
            posts += [CampaignPost(6, len(posts), hour + timedelta(minutes=31), own_4)]
        elif aggregator:
            posts += [CampaignPost(6, len(posts), hour, texts())]
    return posts


def week(seed: int, **kwargs: int | bool) -> list[CampaignPost]:
    texts = Texts(seed)
    return [p for d in range(7) for p in day_of_posts(texts, DAY + timedelta(days=d), **kwargs)]  # type: ignore[arg-type]


PICKED_UP = Texts(40)()


@pytest.mark.parametrize(
    ("posts", "expected"),
    [
        (week(1), [frozenset(FAMILY)]),
        # An aggregator (6) that copies a post a day from the family and one from an outlet
        # (4) joins the family it shares all of its copies with, and does not chain the
        # outlet into it.
        (week(2, aggregator=True), [frozenset({*FAMILY, 6})]),
        # Sisters that share one post in six still are a family (above 10% of their posts).
        (week(3, shared=1), [frozenset(FAMILY)]),
        # Two independent channels that pick up one text are no network.
        (
            week(4, shared=0) + [CampaignPost(c, 900 + c, DAY, PICKED_UP) for c in (4, 5)],
            [],
        ),
    ],
)
def test_channels_that_routinely_share_posts_are_one_network(
    posts: list[CampaignPost], expected: list[frozenset[int]]
) -> None:
    assert [n.channels for n in learn_networks(posts)] == expected


def test_a_network_knows_what_its_channels_shared_and_who_posts_most() -> None:
    [network] = learn_networks(week(5))
    # 3 texts a day in all three channels, over 7 days: each pair shares them once.
    assert network.shared == 3 * 3 * 7
    assert network.posts == ((1, 42), (2, 21), (3, 21))


def campaign(*channels: int) -> Campaign:
    posts = tuple(
        CampaignPost(c, n, DAY + timedelta(minutes=n), []) for n, c in enumerate(channels)
    )
    return Campaign(posts, frozenset(channels), 1.0)


@pytest.mark.parametrize(
    ("channels", "voices"),
    [
        ((1, 2, 3), None),  # inside the family: a repost
        ((1, 2), None),
        ((1, 4), 2),  # the family and an outsider
        ((1, 2, 3, 4), 2),
        ((4, 5), 2),  # two outsiders
        ((1, 4, 5, 7, 8), 4),  # the family, and two channels of another network, and two others
    ],
)
def test_a_campaign_needs_two_independent_voices(
    channels: tuple[int, ...], voices: int | None
) -> None:
    networks = [
        Network(frozenset(FAMILY), 10, ((1, 5), (2, 5), (3, 5))),
        Network(frozenset({7, 8}), 4, ((7, 5), (8, 5))),
    ]
    crossing, inside = split_by_network([campaign(*channels)], networks)
    if voices is None:
        assert crossing == [] and inside == {0: 1}
    else:
        assert [s.voices for s in crossing] == [voices] and inside == {}


@pytest.mark.parametrize(
    ("titles", "name"),
    [
        (["Топор", "Топор Live", "Кибер-Топор"], "Топор"),
        (["Кибер-Топор", "ТОПОР+"], "Топор"),
        (["Readovka", "Readovka Live"], "Readovka"),
        (["Вести Севера", "Южный курьер"], "Вести Севера"),  # nothing in common: the first
    ],
)
def test_a_network_is_named_by_what_its_titles_share(titles: list[str], name: str) -> None:
    assert network_name(titles) == name


def test_slices_spread_over_the_range_whatever_prefix_is_read() -> None:
    slices = spread_slices(DAY, DAY + timedelta(days=2))
    assert len(slices) == 8 and sorted(slices) == [
        (DAY + timedelta(hours=6 * i), DAY + timedelta(hours=6 * (i + 1))) for i in range(8)
    ]
    starts = [(s - DAY) / timedelta(hours=6) for s, _ in slices]
    assert starts[:4] == [0, 4, 2, 6]  # the two halves, then the quarters
    [(start, end)] = spread_slices(DAY, DAY + timedelta(hours=2))
    assert (start, end) == (DAY, DAY + timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("Путин посетил пункт управления, сообщил Песков.", "Песков"),
        (
            "Путин посетил пункт, сообщил пресс-секретарь президента Дмитрий Песков.",
            "Дмитрий Песков",
        ),
        ("❗️Трамп заявил, что снизил пошлины вдвое.", "Трамп"),
        ("МИД России заявил о запрете на въезд для ряда представителей ЕС.", "МИД России"),
        ("Суд взыскал 3 млрд рублей налогов, сообщает ГП РФ.", "ГП РФ"),
        ("Аэропорт Калуги закрыт, сообщили в Росавиации.", "Росавиации"),
        ("Нефть подешевела до минимума с весны — Reuters", "Reuters"),
        ("Переговоры продолжатся в пятницу (ТАСС)", "ТАСС"),
        ("Переговоры продолжатся, передает корреспондент ТАСС из Стамбула.", "ТАСС"),
        # A sign-off names an agency without quoting it; the rest credits nobody.
        ("Мост закрыт на ремонт до утра.\n🔹 Подписаться на РИА Новости", None),
        ("Он заявил на встрече с Путиным, что всё идёт по плану.", None),
        ("Россия передала Украине тела погибших военных.", None),
        ("Пробки в Ростов-на-Дону", None),
    ],
)
def test_attribution_as_reports_write_it(text: str, source: str | None) -> None:
    assert source_of(text) == source


def test_an_echo_is_of_the_source_most_copies_credit() -> None:
    assert echo_of(["Сбит дрон, сообщил Собянин.", "Сбит дрон, сообщил Сергей Собянин.",
                    "Сбит дрон. Об этом сообщил Собянин."]) == "Собянин"  # fmt: skip
    assert echo_of(["Сбит дрон над городом.", "Сбит дрон над городом!"]) is None


# ---- over a real archive ---------------------------------------------------------------------

TITLES = {1: ("Топор", "toporlive_main"), 2: ("Топор Live", "topor_live"),
          3: ("Кибер-Топор", "cyber_topor"), 4: ("Вести Севера", "north_news"),
          5: ("Южный курьер", "south_courier")}  # fmt: skip
WORDS = ("дом лес река город поле мост завод школа порт рынок банк суд театр парк вокзал "
         "музей склад цех причал аэропорт стадион офис район берег остров").split()  # fmt: skip


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) + rng.choice(("а", "ы", "ом", "ах", "у", "ами", "е"))
                    for _ in range(18)).capitalize() + "."  # fmt: skip


@pytest.fixture
async def families(store: Store, pipeline: TextPipeline) -> Store:
    """Two weeks of a family that reposts half of its main channel's posts, and two outlets;
    then a day on which the family reposts two texts, the outlets carry one unattributed text,
    and the family's main channel and one outlet carry a spokesman's words."""
    for channel_id, (title, username) in TITLES.items():
        await store.save_channel(ChannelInfo(channel_id, title, username), "test", DAY, active=True)
    rng = random.Random(7)
    posts: dict[int, list[Post]] = {c: [] for c in TITLES}

    def add(channel_id: int, text: str, when: datetime) -> None:
        posts[channel_id].append(Post(channel_id, len(posts[channel_id]) + 1, when, text))

    for day in range(14, 0, -1):
        base = DAY - timedelta(days=day)
        for n in range(6):
            hour = base + timedelta(hours=2 + 3 * n)
            text = sentence(rng)
            add(1, text, hour)
            if n % 2 == 0:
                add(2, text, hour + timedelta(minutes=4))
                add(3, "⚡️ " + text, hour + timedelta(minutes=7))
            add(4, sentence(rng), hour)
            add(5, sentence(rng), hour)
    for n in range(2):
        text = sentence(rng)
        for channel_id in FAMILY:
            add(channel_id, text, DAY + timedelta(hours=1 + n, minutes=channel_id))
    planted = sentence(rng)
    add(4, planted, DAY + timedelta(hours=5))
    add(5, planted + "\nПодписывайтесь на Южный курьер", DAY + timedelta(hours=6))
    quoted = sentence(rng)[:-1] + ", заявил Песков."
    add(1, quoted, DAY + timedelta(hours=8))
    add(4, quoted, DAY + timedelta(hours=9))
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    for channel_id, items in posts.items():
        await ingest(store, pipeline, channel_id, items, DAY + timedelta(days=1), scorer=scorer)
    return store


async def test_the_digest_shows_campaigns_across_networks_and_one_line_per_family(
    families: Store, pipeline: TextPipeline
) -> None:
    scorer = LexiconScorer(pipeline, build_lexicon(pipeline, builtin_entries()))
    end = DAY + timedelta(days=1)
    digest = await build_digest(families, scorer, DAY, end, end)
    copy_paste, echo = digest["campaigns"]
    assert copy_paste["channels"] == ["@north_news", "@south_courier"]
    assert copy_paste["echo"] is None and copy_paste["networks"] == 2
    assert echo["channels"] == ["@north_news", "@toporlive_main"] and echo["echo"] == "Песков"
    assert digest["campaigns_more"] == 0
    assert digest["network_reposts"] == [
        {"network": "Топор", "channels": ["@toporlive_main", "@topor_live", "@cyber_topor"],
         "posts": 2}
    ]  # fmt: skip


def test_channels_list_and_stats_name_each_channel_s_network(
    families: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "archive.db")
    code, out, _ = run_cli(None, "channels", "list", "--json", "--db", db)
    assert code == 0
    assert {c["id"]: c["network"] for c in json.loads(out)} == {
        1: "Топор", 2: "Топор", 3: "Топор", 4: None, 5: None
    }  # fmt: skip
    code, out, _ = run_cli(None, "stats", "--db", db)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("@")}
    assert "Топор" in lines["@cyber_topor"] and "Топор" not in lines["@north_news"]
    code, out, _ = run_cli(None, "channels", "list", "--db", db)
    assert "network Топор" in next(line for line in out.splitlines() if "@topor_live" in line)

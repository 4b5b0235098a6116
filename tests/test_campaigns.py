"""Copy-paste campaigns: planted, absent, forwarded, out of the window, unrelated noise, and
copies that differ by a first or last line."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.analysis.campaigns import CampaignPost, find_campaigns, signature
from monitor.text import TextPipeline

T = datetime(2024, 11, 6, 9, tzinfo=UTC)
TEXT = (
    "Срочно: по данным наших источников, Киев готовит провокацию на Запорожской АЭС, "
    "чтобы обвинить Россию и сорвать мирные переговоры. Распространите, пока не удалили!"
)
WORDS = "фронт дрон удар оборона позиция штурм снаряд город село бригада враг помощь власть".split()


def noise(pipeline: TextPipeline, count: int, seed: int) -> list[CampaignPost]:
    rng = random.Random(seed)
    return [
        CampaignPost(
            100 + i % 20,
            i,
            T + timedelta(minutes=i),
            pipeline.lemmas(" ".join(rng.choices(WORDS, k=25))),
        )
        for i in range(count)
    ]


def post(
    pipeline: TextPipeline, channel: int, text: str, hours: float = 0, forwarded: bool = False
) -> CampaignPost:
    return CampaignPost(
        channel, channel * 10, T + timedelta(hours=hours), pipeline.lemmas(text), forwarded
    )


def test_a_planted_campaign_is_found_with_small_edits(pipeline: TextPipeline) -> None:
    copies = [
        post(pipeline, 1, TEXT),
        post(pipeline, 2, TEXT.replace("Срочно: ", "⚡️ ") + " #АЭС", hours=1),
        post(pipeline, 3, "Внимание! " + TEXT.replace("наших источников", "источников"), hours=5),
    ]
    [campaign] = find_campaigns([*noise(pipeline, 300, 1), *copies])
    assert campaign.channels == {1, 2, 3}
    assert [p.channel_id for p in campaign.posts] == [1, 2, 3]
    assert campaign.similarity >= 0.6


def test_no_campaign_without_copies(pipeline: TextPipeline) -> None:
    assert find_campaigns(noise(pipeline, 400, 2)) == []


def test_forwards_one_channel_and_old_copies_are_not_campaigns(pipeline: TextPipeline) -> None:
    assert find_campaigns([post(pipeline, 1, TEXT), post(pipeline, 2, TEXT, forwarded=True)]) == []
    assert (
        find_campaigns([post(pipeline, 1, TEXT), CampaignPost(1, 99, T, pipeline.lemmas(TEXT))])
        == []
    )
    assert find_campaigns([post(pipeline, 1, TEXT), post(pipeline, 2, TEXT, hours=72)]) == []


def test_short_greetings_are_not_campaigns(pipeline: TextPipeline) -> None:
    assert (
        find_campaigns([post(pipeline, 1, "Доброе утро!"), post(pipeline, 2, "Доброе утро!")]) == []
    )


@pytest.mark.parametrize(("shared", "own"), [(40, 10), (30, 30), (10, 45), (60, 0)])
def test_signature_slots_agree_about_as_often_as_the_sets_overlap(shared: int, own: int) -> None:
    rng = random.Random(shared * 100 + own)
    agreement = []
    for _ in range(150):
        common = {rng.getrandbits(64) - 2**63 for _ in range(shared)}
        a = frozenset(common | {rng.getrandbits(64) - 2**63 for _ in range(own)})
        b = frozenset(common | {rng.getrandbits(64) - 2**63 for _ in range(own)})
        sig_a, sig_b = signature(a), signature(b)
        agreement.append(sum(x == y for x, y in zip(sig_a, sig_b, strict=True)) / len(sig_a))
    assert sum(agreement) / len(agreement) == pytest.approx(len(a & b) / len(a | b), abs=0.04)


SHORT = "Силами ПВО сбит беспилотник, летевший на Москву, сообщил мэр Сергей Собянин."
# Alike in one phrase only: not a copy, however forgiving the comparison.
ALIKE = "Бесплатные парковки в праздничные дни будут работать на всех улицах, сообщил мэр Сергей Собянин."


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # each channel's own sign-off
        (
            SHORT + "\n🔹 Подписаться на РИА Новости",
            SHORT + "\n▪ Подписывайтесь на «Ъ» и оставляйте «бусты»",
        ),
        # a header line, and a sign-off on the other side
        ("⚡️ Срочная новость этого часа\n" + SHORT, SHORT + "\n🐚 Читать РБК в Telegram"),
        # one text is the other plus a line
        (SHORT, SHORT + "\nРанее губернатор сообщал о повреждении линии электропередачи."),
    ],
)
def test_a_differing_first_or_last_line_does_not_split_copies(
    pipeline: TextPipeline, first: str, second: str
) -> None:
    posts = [post(pipeline, 1, first), post(pipeline, 2, second, hours=1), post(pipeline, 3, ALIKE)]
    [campaign] = find_campaigns([*noise(pipeline, 300, 3), *posts])
    assert campaign.channels == {1, 2}

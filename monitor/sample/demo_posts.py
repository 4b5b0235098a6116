"""The demo's channels and posts: five weeks of four invented Russian channels, written for
this project, with planted events the digest should find.

Planted, in the last day of the five weeks:
- a keyword spike: «Трамп» in @frontline_notes, a dozen posts after about one every two days;
- a sentiment shift: the same channel, warm about Трамп before, scornful now;
- a copy-paste campaign: one text posted without a forward in three channels;
- an edit and a deletion (done by the demo through the simulated Telegram).
Everything is deterministic: the same seed gives the same posts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

CHANNELS = (
    ("frontline_notes", "Записки с передовой"),
    ("two_colonels", "Два полковника"),
    ("svodka_dnya", "Сводка дня"),
    ("tylovoy_vestnik", "Тыловой вестник"),
)
DAYS = 35

PLACES = ("Авдеевки", "Угледара", "Часова Яра", "Покровска", "Купянска", "Работино", "Кременной")
UNITS = ("штурмовики", "артиллеристы", "десантники", "расчёты БПЛА", "морпехи", "связисты")
ROUTINE = (
    "На направлении {place} {unit} продолжают работу, обстановка напряжённая.",
    "Сводка за сутки: у {place} противник пытался атаковать, атаки отбиты.",
    "{Unit} у {place} получили новую партию дронов от подписчиков, спасибо всем.",
    "Карта на утро: без существенных изменений, бои у {place}.",
    "Ответы на вопросы подписчиков о снабжении у {place}.",
    "Погода у {place} испортилась, дороги размыло, подвоз затруднён.",
    "Наши {unit} закрепились на новых позициях западнее {place}.",
    "Противник наращивает группировку у {place}, ждём активизации.",
    "Сбор на тепловизоры закрыт: {unit} у {place} получат их на этой неделе.",
    "Разбор видео: {unit} работают по технике противника у {place}.",
)
TRUMP_WARM = (
    "Трамп говорит разумные вещи о переговорах, это сильный и честный подход.",
    "Победа Трампа даёт надежду на нормальный диалог, он уважает силу.",
    "Трамп снова прав: помощь Киеву — выброшенные деньги, приятно слышать здравый голос.",
)
TRUMP_SCORN = (
    "Трамп оказался таким же лжецом, как все: обещал мир, а подписывает новые санкции. Позор.",
    "Очередное враньё Трампа, никаких иллюзий, это враг и предатель собственных слов.",
    "Трамп угрожает и шантажирует, мерзкая и лицемерная риторика.",
    "Провал надежд на Трампа: ложь, санкции и оружие для Киева.",
)
CAMPAIGN = (
    "Срочно! По данным наших источников, Киев готовит провокацию на Запорожской АЭС, чтобы "
    "обвинить Россию и сорвать переговоры. Распространите, пока не удалили!"
)


@dataclass(frozen=True)
class DemoPost:
    channel: str  # username
    date: datetime
    text: str
    views: int


def demo_posts(end: datetime, seed: int = 2024) -> list[DemoPost]:
    """The posts of the DAYS days before `end`, oldest first."""
    rng = random.Random(seed)
    posts: list[DemoPost] = []

    def routine(channel: str, when: datetime) -> None:
        template = rng.choice(ROUTINE)
        unit = rng.choice(UNITS)
        text = template.format(place=rng.choice(PLACES), unit=unit, Unit=unit.capitalize())
        posts.append(DemoPost(channel, when, text, rng.randint(800, 40_000)))

    start = end - timedelta(days=DAYS)
    for day in range(DAYS):
        base = start + timedelta(days=day)
        last_day = day == DAYS - 1
        for channel, _ in CHANNELS:
            for _ in range(rng.randint(2, 4)):
                routine(channel, base + timedelta(hours=rng.uniform(6, 23)))
        if not last_day and day % 2 == 0:
            posts.append(
                DemoPost("frontline_notes", base + timedelta(hours=rng.uniform(8, 22)),
                         rng.choice(TRUMP_WARM), rng.randint(5_000, 60_000))
            )  # fmt: skip
        if last_day:
            for n in range(12):
                posts.append(
                    DemoPost("frontline_notes", base + timedelta(hours=7 + n, minutes=rng.randint(0, 50)),
                             TRUMP_SCORN[n % len(TRUMP_SCORN)], rng.randint(20_000, 90_000))
                )  # fmt: skip
            for n, channel in enumerate(("two_colonels", "svodka_dnya", "tylovoy_vestnik")):
                prefix = ("", "⚡️ ", "")[n]
                suffix = ("", "", " #ЗАЭС")[n]
                posts.append(
                    DemoPost(channel, base + timedelta(hours=10, minutes=7 * n),
                             prefix + CAMPAIGN + suffix, rng.randint(3_000, 30_000))
                )  # fmt: skip
    # Telegram dates are whole seconds.
    posts = [DemoPost(p.channel, p.date.replace(microsecond=0), p.text, p.views) for p in posts]
    posts.sort(key=lambda p: p.date)
    return posts

"""A deterministic, realistic-looking corpus of Russian channel posts for benchmarks.

Words are drawn with Zipf-like weights from a vocabulary of war and politics news, inflected
by pymorphy3 into real case and number forms (Трампа, санкциями), with hashtags, mentions,
links, emoji, and some Ukrainian and English sentences. The same seed gives the same corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymorphy3

NOUNS = """
фронт наступление оборона дрон беспилотник снаряд артиллерия танк ракета удар обстрел позиция
направление штурм бригада батальон рота взвод командир боец солдат доброволец мобилизация
санкция переговоры перемирие соглашение договор саммит встреча заявление президент министр
премьер правительство парламент депутат выборы власть режим страна государство граница
территория область регион город село посёлок деревня завод предприятие инфраструктура
энергетика подстанция электростанция мост дорога железная_дорога склад аэродром порт флот
корабль катер авиация самолёт вертолёт истребитель бомбардировщик ПВО система комплекс
оружие техника боеприпас поставка помощь кредит транш бюджет экономика рынок нефть газ цена
доллар рубль евро инфляция банк компания бизнес экспорт импорт Трамп Байден Путин Зеленский
Макрон Шольц Орбан Нетаньяху Эрдоган Си Кремль Белый_дом Пентагон НАТО Евросоюз ООН Киев
Москва Вашингтон Лондон Берлин Париж Брюссель Бахмут Артёмовск Авдеевка Купянск Херсон
Запорожье Харьков Донецк Луганск Крым Одесса Курск Белгород ВСУ армия противник враг союзник
партнёр источник информация новость сводка данные потеря уничтожение разрушение пожар взрыв
атака контратака прорыв окружение котёл отступление продвижение успех провал ошибка угроза
опасность безопасность мир война конфликт эскалация кризис проблема решение вопрос ответ
""".split()

ADJECTIVES = """
мирный военный американский российский украинский европейский западный новый старый
главный важный сложный тяжёлый серьёзный массированный успешный стратегический тактический
политический экономический официальный независимый местный региональный ударный боевой
""".split()

VERBS = """
заявить сообщить объявить подтвердить опровергнуть атаковать ударить уничтожить сбить
продвинуться отступить начать продолжить остановить обсудить подписать потребовать обещать
предупредить угрожать поддержать осудить ввести снять передать получить отправить
""".split()

FILLERS = "и в на по с о что как но не уже ещё только также а к у за из от до для при".split()
EMOJI = ["🔥", "⚡️", "❗️", "🇷🇺", "💥", "😡", "👍", "🤡", "📌", "🛑"]
UKRAINIAN = [
    "Україна отримала нову партію зброї від партнерів.",
    "Ворог продовжує обстріли прикордонних сіл.",
    "Це перемога наших захисників на південному напрямку.",
    "Війна триває, але ми тримаємо оборону.",
]
ENGLISH = [
    "Trump says the war will end in 24 hours.",
    "Sanctions against Russian banks were extended.",
    "Peace talks are expected next week in Istanbul.",
    "The Pentagon confirmed new deliveries of air defence systems.",
]
CASES = ["nomn", "gent", "datv", "accs", "ablt", "loct"]


@dataclass(frozen=True)
class GeneratedPost:
    channel_index: int
    message_id: int
    date: datetime
    text: str
    edited: datetime | None


class Vocabulary:
    def __init__(self, rng: random.Random) -> None:
        morph = pymorphy3.MorphAnalyzer()
        self.nouns = [
            self._forms(morph, w.replace("_", " "), CASES, ["sing", "plur"]) for w in NOUNS
        ]
        self.adjectives = [self._forms(morph, w, CASES, ["sing", "plur"]) for w in ADJECTIVES]
        self.verbs = [self._verb_forms(morph, w) for w in VERBS]
        rng.shuffle(self.nouns)
        self.noun_weights = [1 / (rank + 1) for rank in range(len(self.nouns))]

    @staticmethod
    def _forms(
        morph: pymorphy3.MorphAnalyzer, word: str, cases: list[str], numbers: list[str]
    ) -> list[str]:
        if " " in word:
            return [word]
        parse = morph.parse(word)[0]
        forms = {word}
        for case in cases:
            for number in numbers:
                inflected = parse.inflect({case, number})
                if inflected is not None:
                    forms.add(inflected.word)
        capitalised = word[0].isupper()
        return sorted(f.capitalize() if capitalised else f for f in forms)

    @staticmethod
    def _verb_forms(morph: pymorphy3.MorphAnalyzer, word: str) -> list[str]:
        parse = morph.parse(word)[0]
        forms = {word}
        for tags in (
            {"past", "masc"},
            {"past", "femn"},
            {"past", "plur"},
            {"futr", "3per", "sing"},
        ):
            inflected = parse.inflect(tags)
            if inflected is not None:
                forms.add(inflected.word)
        return sorted(forms)


# Share of word slots holding the recurring phrase: it then stands in about 3% of posts, as
# often as a leading name such as Трамп does here, like a topic of the day in real channels.
PHRASE_SHARE = 0.0006


class CorpusGenerator:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = Vocabulary(random.Random(seed))

    def _noun(self) -> str:
        forms = self.rng.choices(self.vocabulary.nouns, self.vocabulary.noun_weights)[0]
        return self.rng.choice(forms)

    def sentence(self) -> str:
        rng = self.rng
        words: list[str] = []
        for _ in range(rng.randint(5, 25)):
            roll = rng.random()
            if roll < 0.45:
                words.append(self._noun())
            elif roll < 0.6:
                words.append(rng.choice(rng.choice(self.vocabulary.adjectives)))
            elif roll < 0.72:
                words.append(rng.choice(rng.choice(self.vocabulary.verbs)))
            elif roll < 0.72 + PHRASE_SHARE:
                words.append("мирных переговоров" if rng.random() < 0.5 else "мирные переговоры")
            else:
                words.append(rng.choice(FILLERS))
        text = " ".join(words)
        return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?", "..."])

    def text(self) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.05:
                parts.append(rng.choice(UKRAINIAN))
            elif roll < 0.09:
                parts.append(rng.choice(ENGLISH))
            else:
                parts.append(self.sentence())
        if rng.random() < 0.3:
            parts.append("#" + self._noun().replace(" ", "_"))
        if rng.random() < 0.15:
            parts.append("@" + rng.choice(["rybar", "two_majors", "fighter_bomber", "wargonzo"]))
        if rng.random() < 0.2:
            parts.append(
                f"https://t.me/{rng.choice(['rybar', 'readovka'])}/{rng.randint(1, 90000)}"
            )
        if rng.random() < 0.3:
            parts.append(rng.choice(EMOJI) * rng.randint(1, 3))
        return " ".join(parts)

    def posts(self, count: int, channels: int, days: int, end: datetime) -> Iterator[GeneratedPost]:
        """`count` posts spread over `channels` and the `days` before `end`, oldest first."""
        start = end - timedelta(days=days)
        span = (end - start).total_seconds()
        next_id = [1] * channels
        for i in range(count):
            channel = self.rng.randrange(channels)
            date = start + timedelta(seconds=span * i / count)
            edited = (
                date + timedelta(minutes=self.rng.randint(1, 600))
                if self.rng.random() < 0.05
                else None
            )
            yield GeneratedPost(channel, next_id[channel], date, self.text(), edited)
            next_id[channel] += 1


def channel_id(index: int) -> int:
    return 1_500_000_000 + index


def write_tdesktop_export(path: Path, count: int, channels: int, days: int, seed: int = 7,
                          end: datetime | None = None) -> int:  # fmt: skip
    """Write a whole-account Telegram Desktop export, streaming, one channel after another.
    Returns the number of posts written."""
    end = end or datetime(2024, 12, 1, tzinfo=UTC)
    by_channel: list[list[GeneratedPost]] = [[] for _ in range(channels)]
    for post in CorpusGenerator(seed).posts(count, channels, days, end):
        by_channel[post.channel_index].append(post)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"about": "Benchmark corpus", "chats": {"about": "", "list": [')
        for index, posts in enumerate(by_channel):
            if index:
                out.write(",")
            header = {"name": f"Канал {index}", "type": "public_channel", "id": channel_id(index)}
            out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "messages": [')
            for n, post in enumerate(posts):
                message = {
                    "id": post.message_id, "type": "message",
                    "date": post.date.strftime("%Y-%m-%dT%H:%M:%S"),
                    "date_unixtime": str(int(post.date.timestamp())),
                    "from": f"Канал {index}", "from_id": f"channel{channel_id(index)}",
                    "text": post.text, "text_entities": [{"type": "plain", "text": post.text}],
                }  # fmt: skip
                if post.edited:
                    message["edited"] = post.edited.strftime("%Y-%m-%dT%H:%M:%S")
                    message["edited_unixtime"] = str(int(post.edited.timestamp()))
                out.write(("," if n else "") + json.dumps(message, ensure_ascii=False))
            out.write("]}")
        out.write("]}}")
    return count

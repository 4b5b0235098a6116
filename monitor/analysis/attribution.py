"""Whom a news text quotes: "— РИА Новости", "сообщает ТАСС", "заявил Песков", "Трамп
заявил". Copies of an attributed text are the echo of an agency or an official, which every
outlet carries; copies of a text attributed to nobody are what coordinated messaging looks
like.

Only attribution as people write it counts, not any mention: a channel's sign-off
("Подписаться на РИА Новости") names an agency without quoting it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Verbs of saying and reporting, in the past (заявил, сообщили) and present (сообщает,
# передаёт, пишет) forms a report uses.
_SAYS = (
    r"(?:заявил[аио]?|сообщил[аио]?|сообщает|сообщают|сказал[аио]?|отметил[аио]?|"
    r"подчеркнул[аио]?|рассказал[аио]?|написал[аио]?|пишет|передает|передаёт|цитирует|"
    r"уточнил[аио]?|добавил[аио]?|объявил[аио]?|заявляет|заявляют)"
)
# A name: a run of capitalised words (РИА Новости, Дмитрий Песков, МИД России, ГП РФ), maybe
# in quotes; of a longer run ("президента России Дмитрий Песков") the last two are kept.
_NAME = r"(?<!\w)[«\"]?([A-ZА-ЯЁ][\w-]+(?:\s+[A-ZА-ЯЁ][\w-]+){0,3})[»\"]?"
# A title between verb and name (пресс-секретарь президента), not a preposition's object
# ("заявил на встрече с Путиным" quotes nobody).
_PREPOSITION = r"(?:на|с|со|о|об|у|к|по|за|из|от|до|для|при|про|через|перед|что|как)\s"
_LOWER = rf"(?:(?!{_PREPOSITION})[a-zа-яё][\w-]*\s+){{0,4}}"
_AFTER = re.compile(rf"\b{_SAYS}\s+(?:во?\s+)?{_LOWER}{_NAME}")
_BEFORE = re.compile(rf"{_NAME}\s+{_SAYS}\b")
_DASH = re.compile(rf"(?:^|\s)[—–]\s*{_NAME}\s*[.)]?\s*$", re.MULTILINE)
_PAREN = re.compile(rf"\(\s*{_NAME}\s*\)")
# Capitalised words that open a sentence without naming anyone (Об этом сообщил ...).
_NOT_NAMES = frozenset(
    "Об Он Она Оно Они Это Этот Как Также Ранее Позже Затем При По В На Кроме Как Так "
    "Всё Все Там Тогда Там Мы Я Вы Ты Сегодня Вчера Накануне".split()
)


def _name(found: str) -> str | None:
    words = [word for word in found.split() if word not in _NOT_NAMES]
    return " ".join(words[-2:]) or None


def source_of(text: str) -> str | None:
    """Whom the text attributes itself to, as written, or None. A dash or bracket credit
    ("— РИА Новости", "(ТАСС)") first, then a name before a verb of saying ("Трамп
    заявил"), then one after it ("сообщил Песков", "передает корреспондент ТАСС")."""
    for pattern in (_DASH, _PAREN, _BEFORE, _AFTER):
        for match in pattern.finditer(text):
            name = _name(match.group(1))
            if name is not None:
                return name
    return None


def echo_of(texts: Iterable[str]) -> str | None:
    """The source most of the copies credit (the first credited on a tie), or None when no
    copy credits anyone."""
    sources = Counter(source for source in map(source_of, texts) if source is not None)
    return sources.most_common(1)[0][0] if sources else None

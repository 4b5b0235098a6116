"""Words too common to search for or to report as a trend, as lemmas after normalisation."""

from __future__ import annotations

RUSSIAN = frozenset(
    """
    а без более бы быть в вам вас весь во вот все всего всех вы где да даже для до его
    ее ей если есть еще же за здесь и из или им их к как какой кто ли либо между мне
    меня мой мы на над наш не него нее нет ни них но ну о об однако он она они оно от
    по под после при про раз с свой себя со так также такой там тебя то тогда того тоже
    только том тот ту ты у уж уже хотя чего чей чем что чтобы чтоб эта эти это этот я
    ещё это всё который которая которые этого этой этих тем теперь очень можно нужно
    сам самый там тут вообще просто пока потом через будто бывать мочь стать сказать
    """.split()
)

UKRAINIAN = frozenset(
    """
    а або але б без би бо в вже ви від він вона вони воно все всі де для до є ж за
    з зі і із її їх й к ми на над не ні ну о от по при про та так також те ти то
    тож тощо у хоча це цей ця ці що щоб як який яка які я ще через його їм вам нас
    """.split()
)

ENGLISH = frozenset(
    """
    a an and are as at be been but by for from had has have he her his i if in into is
    it its me my no not of on or our she so than that the their them then there these
    they this to was we were what when which who will with you your
    """.split()
)

STOPWORDS = RUSSIAN | UKRAINIAN | ENGLISH


def is_stopword(lemma: str) -> bool:
    return lemma in STOPWORDS

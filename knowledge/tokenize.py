"""Tokenizers for short English or Chinese texts: what BM25 (retrieval/lexical.py), the intent model and the
composer's language checks split text with.

The English stemmer only folds the suffixes that split one dermatology word into several
("dermoscopy"/"dermoscopic", "naevus"/"naevi", "vessels"). bm25s's tokenizer with PyStemmer's Snowball
stemmer was measured against it and retrieved worse on the dev questions (docs/knowledge.md, "English tokenizer").

Chinese has no spaces: ``tokenize_zh`` segments with jieba in search mode (a long word also yields
its parts: 脂溢性角化病 -> 脂溢, 角化, 角化病, 脂溢性角化病), with the project's own dermatology terms
(class names and synonyms, structures, sites) added to its dictionary so they are never split wrongly;
Latin words and codes inside Chinese text go through the English tokenizer. docs/knowledge.md compares
it with character bigrams on the dev questions.
"""

from __future__ import annotations

import re
from functools import lru_cache


_TOKEN = re.compile(r"[a-z0-9]+")
# Function words and question scaffolding: frequent in questions, useless for matching passages.
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does doing for from had has have how i if in into is it
    its me my of on or our should so than that the their them then there these they this those to was we were what
    when where which who why will with would you your about also any just may might more most much not no only other
    such very am being get got tell know please""".split()
)
_SUFFIXES = ("ically", "ical", "ies", "ic", "es", "s", "y", "e")
_IRREGULAR = {"nevi": "nevus", "lentigines": "lentigo", "carcinomata": "carcinoma", "metastases": "metastasis"}


def stem(word: str) -> str:
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    text = text.lower().replace("naev", "nev").replace("haem", "hem").replace("colour", "color")
    return [stem(_IRREGULAR.get(t, t)) for t in _TOKEN.findall(text) if t not in STOPWORDS]


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# Particles, pronouns and question scaffolding of colloquial Chinese: frequent in questions, useless for matching.
ZH_STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 么 嘛 哦 是 不 有 在 和 与 及 或 也 都 就 还 又 很 太 更 最 会 能 要 可以 可能 这 那 这个 那个 这种
    那种 这样 那样 我 你 他 她 它 我们 你们 他们 自己 一个 一些 什么 怎么 怎么样 怎样 如何 为什么 哪 哪些 多少 吗 请问 请 一下
    想 问 知道 告诉 说 看 看看 是不是 有没有 会不会 能不能 要不要 需不需要 对 把 被 让 给 从 到 对于 关于 如果 因为 所以 但是 而
    之 其 中 上 下 里 时 时候 个 种 些 点 没 没有 得 地 着 过 等 是什么 就是 意思 颗 一颗 请问 一直 现在 感觉 觉得""".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    from knowledge.glossary import chinese_terms

    for term in chinese_terms():
        jieba.add_word(term, freq=2000)
    return jieba


def segment_zh(text: str) -> list[str]:
    """jieba's words (accurate mode, dermatology dictionary), stopwords kept."""
    return [w for w in _jieba().lcut(text) if w.strip()]


def tokenize_zh(text: str) -> list[str]:
    """Chinese words (jieba, search mode, dermatology dictionary) plus the English tokens of any Latin text."""
    jieba = _jieba()
    tokens: list[str] = []
    for run in _CJK_RUN.findall(text):
        tokens += [w for w in jieba.cut_for_search(run) if w.strip() and w not in ZH_STOPWORDS]
    return tokens + tokenize(_CJK_RUN.sub(" ", text))


def tokenize_zh_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every Chinese run (the baseline docs/knowledge.md compares against)."""
    tokens: list[str] = []
    for run in _CJK_RUN.findall(text):
        tokens += [run[i : i + 2] for i in range(max(1, len(run) - 1))]
    return tokens + tokenize(_CJK_RUN.sub(" ", text))


@lru_cache(maxsize=4)
def _opencc(config: str):
    from opencc import OpenCC  # opencc-python-reimplemented (Apache-2.0): dictionary-based, phrases before characters

    return OpenCC(config)


def to_simplified(text: str) -> str:
    """``text`` in Simplified Chinese (OpenCC t2s): a Traditional Chinese message is read by the same rules, phrase
    lists and models as a Simplified one. Text without Traditional characters comes back unchanged."""
    return _opencc("t2s").convert(text) if text else text


# OpenCC's s2t writes a few characters in forms Taiwan and Hong Kong print differently (爲 for 為): the common ones.
# (Its s2tw turns 着 into 著, which t2s does not turn back; the answers' checks read them back with t2s.)
_COMMON_FORMS = str.maketrans("爲羣纔裏綫衆啓僞", "為群才裡線眾啟偽")


def to_traditional(text: str) -> str:
    """``text`` in Traditional Chinese (OpenCC s2t, the common printed forms), for answering someone who wrote in
    Traditional characters; ``to_simplified`` turns it back."""
    return _opencc("s2t").convert(text).translate(_COMMON_FORMS) if text else text


def writes_traditional(text: str) -> bool:
    """Whether ``text`` uses Traditional characters (some character changes under t2s); Simplified, English or
    characters common to both (``这是什么`` vs ``這是什麼``: only the second) are not."""
    return bool(text) and to_simplified(text) != text


def writes_simplified(text: str) -> bool:
    """Whether ``text`` uses Simplified-only characters (some character changes under s2t)."""
    return bool(text) and to_traditional(text) != text

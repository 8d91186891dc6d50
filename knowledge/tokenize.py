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


# Traditional -> Simplified for the characters the phrase rules (history signs, side questions, reassurance) and the
# intent model's training questions use: a Traditional Chinese message is read with the same rules; answers stay
# Simplified. Not a general converter (no word-level mappings): one character for one character.
_T2S = str.maketrans(
    "變顏會癢錢費價給長醫癒結瘡潰瘍擔嗎麼這個點樣來還沒與過現發惡險嚴藥檢診說別開燒凍處層顆舊傷問題緊縮術後將讓請該們時間為從"
    "對於裡兒歲體臉頭頸腳擊試腫塊膚癥狀況數據學應當幾頁經歷較黃紅藍綠灰褐條線邊緣圖隻樂癌斷轉療預約掛號門貴實際吧寶媽爸覺鬆滲"
    "膿紋壓碼擠掉剝撕蓋貼網複關係雙無麗灣臺雜黴殘鑑濕髮鏡專師護電內蟲錯確認種壞聽見視雖歡難機場單區國賣買萬週夠齡嬰婦陽曬傳遺"
    "觸膠誤動態質彈鬱憂慮輕厲",
    "变颜会痒钱费价给长医愈结疮溃疡担吗么这个点样来还没与过现发恶险严药检诊说别开烧冻处层颗旧伤问题紧缩术后将让请该们时间为从"
    "对于里儿岁体脸头颈脚击试肿块肤症状况数据学应当几页经历较黄红蓝绿灰褐条线边缘图只乐癌断转疗预约挂号门贵实际吧宝妈爸觉松渗"
    "脓纹压码挤掉剥撕盖贴网复关系双无丽湾台杂霉残鉴湿发镜专师护电内虫错确认种坏听见视虽欢难机场单区国卖买万周够龄婴妇阳晒传遗"
    "触胶误动态质弹郁忧虑轻厉",
)


def to_simplified(text: str) -> str:
    """``text`` with common Traditional Chinese characters replaced by their Simplified forms (see ``_T2S``)."""
    return text.translate(_T2S)


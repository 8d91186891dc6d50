"""BM25 over short English passages: a tokenizer with light stemming, and a ranker on bm25s.

Lexical matching catches what a small embedder blurs: rare exact terms ("spoke-wheel", "Breslow",
"lacunae", "7-point"), abbreviations and class codes. The stemmer only folds the suffixes that
split one dermatology word into several ("dermoscopy"/"dermoscopic", "naevus"/"naevi", "vessels").
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

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


class Bm25Ranker:
    """BM25 (Lucene variant, k1=1.2, b=0.75) over a fixed list of passages."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        self._bm25.index([tokenize(t) or ["\0"] for t in texts], show_progress=False)
        self.size = len(texts)

    def scores(self, query: str) -> np.ndarray:
        tokens = tokenize(query)
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def rank(self, query: str, allowed: np.ndarray | None = None, depth: int = 50) -> list[int]:
        """Indices of the best-matching passages (score > 0), best first, within ``allowed``."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:depth]
        return [int(i) for i in order if scores[i] > 0]

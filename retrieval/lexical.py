"""BM25 over short passages, English or Chinese, on bm25s (tokenizers: knowledge/tokenize.py).

Lexical matching catches what a small embedder blurs: rare exact terms ("spoke-wheel", "Breslow",
"lacunae", "7-point"), abbreviations and class codes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from knowledge.tokenize import tokenize

Tokenizer = Callable[[str], list[str]]


class Bm25Ranker:
    """BM25 (Lucene variant, k1=1.2, b=0.75) over a fixed list of passages."""

    def __init__(self, texts: Sequence[str], tokenizer: Tokenizer = tokenize) -> None:
        import bm25s

        self._tokenize = tokenizer
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        self._bm25.index([tokenizer(t) or ["\0"] for t in texts], show_progress=False)
        self.size = len(texts)

    def scores(self, query: str) -> np.ndarray:
        tokens = self._tokenize(query)
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

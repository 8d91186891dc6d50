"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009).

Each ranker contributes weight / (k + rank) for every item it ranks; items ranked well by several
rankers rise. Only ranks matter, so BM25 scores and cosine similarities never need to be put on
one scale.
"""

from __future__ import annotations

from typing import Hashable, Sequence, TypeVar

T = TypeVar("T", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Items of all rankings with their fused score, best first (ties keep first-seen order)."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    fused: dict[T, float] = {}
    for r, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[r]
        for position, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + w / (k + position)
    return sorted(fused.items(), key=lambda kv: -kv[1])

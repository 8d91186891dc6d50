"""Choosing a small, class-covering subset of records for smoke runs (``--limit N``)."""

from __future__ import annotations

from typing import Sequence, TypeVar

from knowledge.taxonomy import CODES

R = TypeVar("R")


def class_interleaved(records: Sequence[R], limit: int | None) -> list[R]:
    """The first ``limit`` records taking one of each class in turn (dataset order within a class),
    so even ``--limit 14`` sees every class twice; ``None`` keeps everything in dataset order."""
    if limit is None or limit >= len(records):
        return list(records)
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    queues = {code: [r for r in records if r.dx == code] for code in CODES}
    chosen: list[R] = []
    depth = 0
    while len(chosen) < limit:
        for code in CODES:
            if depth < len(queues[code]) and len(chosen) < limit:
                chosen.append(queues[code][depth])
        depth += 1
    return chosen

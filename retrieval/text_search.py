"""Searching confirmed cases by a description: the text tower's neighbours, re-ranked by what the corpus says.

The text tower (MiniLM + LoRA, aligned with the image embeddings) alone confuses classes whose descriptions
share words ("blue-white veil" found keratoses before melanomas). The knowledge corpus knows which class
each dermoscopic structure and description belongs to, and its bilingual search reads English and Chinese.
So a description is also searched in the knowledge index; the classes of its top ``depth`` passages
(each passage's tagged classes, weighted by rank) give a class evidence vector, and each candidate lesion's
score is its text-image cosine plus ``weight`` times the evidence for its diagnosis. ``weight`` and
``depth`` were chosen on a dev set of phrasings (``evals/data/case_search_phrasings_dev.yaml``) and the
result is measured on a separate held-out set (the ``retrieval`` eval suite).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge.cases import FiltersLike
from knowledge.taxonomy import CODES

EVIDENCE_WEIGHT = 5.0  # chosen on the dev phrasings (docs/encoder.md, "Text search"): the evidence leads, similarity orders within it
EVIDENCE_DEPTH = 5
CANDIDATES = 300  # lesions re-ranked


def class_evidence(knowledge_index: Any, text: str, depth: int = EVIDENCE_DEPTH) -> np.ndarray:
    """(7,) in CODES order: the classes of the description's top knowledge passages, rank-weighted, summing to 1
    (all 0 when no passage names a class)."""
    evidence = np.zeros(len(CODES))
    lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
    for rank, passage in enumerate(knowledge_index.search(text, k=depth, lang=lang)):
        classes = [c for c in passage.classes if c in CODES]
        for code in classes:
            evidence[CODES.index(code)] += 1.0 / (rank + 1) / len(classes)
    total = evidence.sum()
    return evidence / total if total > 0 else evidence


def search_by_text(case_index: Any, knowledge_index: Any | None, text: str, k: int = 10,
                   filters: FiltersLike = None, weight: float = EVIDENCE_WEIGHT,
                   depth: int = EVIDENCE_DEPTH) -> list:
    """The ``k`` lesions (each by its closest image) that best fit a description, optionally filtered."""
    embedding = case_index.embed(text)
    if knowledge_index is None or weight == 0:
        return case_index.search_embedding(embedding, k, filters, distinct_lesions=True)
    candidates = case_index.search_embedding(embedding, max(k, CANDIDATES), filters, distinct_lesions=True)
    evidence = class_evidence(knowledge_index, text, depth)
    scored = sorted(candidates, key=lambda c: -(c.similarity + weight * evidence[CODES.index(c.dx)]))
    return scored[:k]

"""Benchmark `knowledge_search`: opening the knowledge index and one hybrid search (goal p50 <= 30 ms)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from evals.bench import benchmark, timings


@benchmark("knowledge_search")
def knowledge_search(out_dir: Path, quick: bool) -> dict:
    from evals.suites.rag import load_questions
    from retrieval.knowledge_index import KnowledgeIndex
    from models.sentence_encoder import load_sentence_encoder

    t0 = time.perf_counter()
    load_sentence_encoder()
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = KnowledgeIndex.open()
    open_s = time.perf_counter() - t0
    questions = [q.question for q in load_questions()][: 40 if quick else 200]
    cursor = iter(range(10**9))

    def one_search() -> None:  # a different question each call, as in use
        index.search(questions[next(cursor) % len(questions)], k=5)

    wall = timings(one_search, repeat=len(questions), warmup=3)
    c0 = time.process_time()
    for q in questions:
        index.search(q, k=5)
    cpu_ms = (time.process_time() - c0) * 1000 / len(questions)
    return {
        "model_load_s": round(model_s, 2),
        "index_open_s": round(open_s, 3),
        "passages": len(index),
        "search_ms": wall,
        "search_cpu_ms_mean": round(cpu_ms, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "summary": f"search p50 {wall['p50_ms']:.1f} ms, p95 {wall['p95_ms']:.1f} ms (CPU {cpu_ms:.1f} ms/search; "
                   f"load avg {os.getloadavg()[0]:.1f}); open {open_s * 1000:.0f} ms over {len(index)} passages",
    }

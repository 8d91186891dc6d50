"""Benchmarks for the encoder and the similar-case index: ms/image, search p50 at 10k cases, index build rate."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.bench import benchmark, timings


def _images(n: int):
    from knowledge.cases import CaseFilters
    from knowledge.ham10000 import load_dataset
    from knowledge.images import open_image

    return [open_image(r.image_path) for r in load_dataset().records[:n]]


@benchmark("encoder_ms_per_image")
def encoder_ms_per_image(out_dir: Path, quick: bool) -> dict:
    """Image embedding + class logits on CPU (torch's default threads), single image and batches of 32."""
    import torch

    from models.encoder import load_encoder

    encoder = load_encoder(with_text=False)
    images = _images(32)
    single = timings(lambda: encoder.image_outputs(images[:1]), repeat=5 if quick else 20)
    batch = timings(lambda: encoder.image_outputs(images), repeat=2 if quick else 5)
    per_image = batch["p50_ms"] / len(images)
    return {"threads": torch.get_num_threads(), "tta_flip": encoder.config.tta_flip, "tower": encoder.config.tower,
            "single_image_ms": single, "batch32_ms": batch, "ms_per_image_batched_p50": round(per_image, 2),
            "summary": f"{encoder.config.tower}: {single['p50_ms']:.0f} ms for one image, {per_image:.1f} ms/image in batches of 32 (p50)"}


def _search_timings(collection, emb: np.ndarray, ids: list[str], quick: bool) -> dict[str, dict]:
    from retrieval.cases import CaseIndex

    rng = np.random.default_rng(1)
    index = CaseIndex(collection)
    queries = emb[rng.integers(0, len(ids), 50)]
    it = iter(range(10**9))
    t0 = time.perf_counter()
    index.search_embedding(queries[0], 10, CaseFilters(sex="male"))  # the first filtered search loads the table
    load_ms = (time.perf_counter() - t0) * 1000
    plain = timings(lambda: index.search_embedding(queries[next(it) % 50], 10), repeat=30 if quick else 200)
    filtered = timings(lambda: index.search_embedding(queries[next(it) % 50], 10, CaseFilters(sex="male", age_min=40.0, age_max=70.0)),
                       repeat=30 if quick else 200)
    return {"search_ms": plain, "filtered_search_ms": filtered, "table_load_ms": round(load_ms, 1)}


def _fill(collection, ids: list[str], emb: np.ndarray) -> None:
    for s in range(0, len(ids), 2000):
        metas = [{"image_id": i, "lesion_id": "x", "dx": "nv", "dx_type": "histo", "sex": "male", "localization": "back",
                  "image_path": "", "age": 50.0} for i in ids[s : s + 2000]]
        collection.add(ids=ids[s : s + 2000], embeddings=emb[s : s + 2000], metadatas=metas)


@benchmark("case_search")
def case_search(out_dir: Path, quick: bool) -> dict:
    """Case search p50 with 10,000 cases (the 8,012 shipped ones plus perturbed copies), embedding given:
    embedded Chroma and a `chroma run` server on loopback, same vectors and queries.

    Unfiltered searches are Chroma queries (HNSW), through HTTP in server mode; filtered searches are an exact
    scan of the vectors held in the process (loaded once from the collection, embedded or served)."""
    from evals.servers import ChromaServer
    from retrieval.cases import COLLECTION
    from retrieval.chroma_store import connect, embedded_client
    from models.encoder import load_case_embeddings

    ids, emb = load_case_embeddings()
    rng = np.random.default_rng(0)
    extra = 10_000 - len(ids)
    if extra > 0:
        pick = rng.integers(0, len(ids), extra)
        noisy = emb[pick] + rng.normal(0, 0.05, (extra, emb.shape[1])).astype(np.float32)
        emb = np.concatenate([emb, noisy / np.linalg.norm(noisy, axis=1, keepdims=True)])
        ids = ids + [f"synthetic_{i}" for i in range(extra)]
    tmp = Path(tempfile.mkdtemp(prefix="dermagraph-bench-"))
    try:
        collection = embedded_client(tmp / "embedded").create_collection(COLLECTION, metadata={"hnsw:space": "cosine"},
                                                                         embedding_function=None)
        _fill(collection, ids, emb)
        embedded = _search_timings(collection, emb, ids, quick)
        with ChromaServer(tmp / "server") as server:
            collection = connect(server.url).create_collection(COLLECTION, metadata={"hnsw:space": "cosine"},
                                                               embedding_function=None)
            _fill(collection, ids, emb)
            served = _search_timings(collection, emb, ids, quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = served["search_ms"]["p50_ms"] / max(embedded["search_ms"]["p50_ms"], 1e-6)
    return {"cases": len(ids), **embedded, "server": served, "server_to_embedded_p50": round(ratio, 2),
            "summary": f"{len(ids):,} cases: embedded p50 {embedded['search_ms']['p50_ms']:.1f} ms (p95 "
                       f"{embedded['search_ms']['p95_ms']:.1f}), server p50 {served['search_ms']['p50_ms']:.1f} ms "
                       f"({ratio:.1f}x); with filters p50 {embedded['filtered_search_ms']['p50_ms']:.1f} / "
                       f"{served['filtered_search_ms']['p50_ms']:.1f} ms (in-process scan; table load "
                       f"{served['table_load_ms']:.0f} ms from the server)"}


@benchmark("case_index_build")
def case_index_build(out_dir: Path, quick: bool) -> dict:
    """`dermagraph index build` from the shipped embeddings, and what re-encoding every image would cost instead."""
    from retrieval.cases import build_case_index
    from models.encoder import load_encoder

    tmp = Path(tempfile.mkdtemp(prefix="dermagraph-bench-"))
    try:
        stats = build_case_index(index_dir=tmp / "cases", progress=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    encoder = load_encoder(with_text=False)
    images = _images(32)
    enc = timings(lambda: encoder.image_outputs(images), repeat=2 if quick else 3)
    encode_rate = len(images) / (enc["p50_ms"] / 1000)
    return {**stats, "reencode_images_per_s": round(encode_rate, 1),
            "summary": f"{stats['cases']:,} cases in {stats['seconds']:.1f} s ({stats['images_per_s']:.0f} images/s from shipped "
                       f"embeddings); re-encoding would run at {encode_rate:.1f} images/s"}

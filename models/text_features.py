"""What the learned text readers share (``models.intent``, ``models.history``): the features of a message and the
artifact format of a linear model over them.

Features: character 1-3-grams of the normalised text (Chinese has no spaces, and typos keep most of a word's
character n-grams), English word uni/bigrams and Chinese word uni/bigrams, sublinear tf-idf; beside them the message's
all-MiniLM-L6-v2 embedding, scaled by the model's ``embed_weight``. The artifact is plain arrays (``weights.npz``)
and JSON (``vocab.json``): nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.glossary import normalise
from knowledge.settings import get_settings

_WORD = re.compile(r"[a-z0-9']+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def text_grams(text: str) -> list[str]:
    """Character 1-3-grams (spaces included, so word edges count) and English word 1-2-grams."""
    t = f" {' '.join(normalise(text).lower().split())} "
    grams = [t[i : i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1) if t[i : i + n].strip()]
    words = _WORD.findall(t)
    grams += [f"w:{w}" for w in words] + [f"w:{a}_{b}" for a, b in zip(words, words[1:])]
    if _CJK_RUN.search(t):  # Chinese words as well (jieba with the dermatology terms), unigrams and bigrams
        from knowledge.tokenize import segment_zh  # no stopwords dropped: 为什么, 要不要 carry the intent

        zh = [w for w in segment_zh(t) if _CJK_RUN.search(w)]
        grams += [f"z:{w}" for w in zh] + [f"z:{a}_{b}" for a, b in zip(zh, zh[1:])]
    return grams


@dataclass
class TextFeatures:
    """Sublinear tf-idf over ``text_grams``, L2-normalised rows."""

    vocab: dict[str, int]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: Sequence[str], min_df: int = 2) -> "TextFeatures":
        df = Counter(g for t in texts for g in set(text_grams(t)))
        kept = sorted(g for g, n in df.items() if n >= min_df)
        vocab = {g: i for i, g in enumerate(kept)}
        idf = np.array([math.log((1 + len(texts)) / (1 + df[g])) + 1 for g in kept], dtype=np.float32)
        return cls(vocab, idf)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram, n in Counter(text_grams(text)).items():
                col = self.vocab.get(gram)
                if col is not None:
                    out[row, col] = (1 + math.log(n)) * self.idf[col]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-8)


def sentence_vectors(texts: Sequence[str]) -> np.ndarray:
    from models.sentence_encoder import embed_query, embed_sentences

    if len(texts) == 1:
        return embed_query(texts[0])[None, :]
    return embed_sentences(list(texts))


WEIGHTS = "weights.npz"
VOCAB = "vocab.json"


def save_text_model(folder: Path, features: TextFeatures, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write a linear text model: its tf-idf vocabulary and ``meta`` as JSON, ``arrays`` (as float32) beside the idf."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / WEIGHTS, idf=features.idf, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})
    grams = [g for g, _ in sorted(features.vocab.items(), key=lambda kv: kv[1])]
    (folder / VOCAB).write_text(json.dumps({"grams": grams, **meta}, ensure_ascii=False), encoding="utf-8")


def read_text_model(folder: Path, what: str, command: str) -> tuple[TextFeatures, Any, dict[str, Any]]:
    """(features, arrays, meta) of a model written by ``save_text_model``; a clear error naming the command that
    builds it when it is missing."""
    weights, vocab_file = folder / WEIGHTS, folder / VOCAB
    if not weights.is_file() or not vocab_file.is_file():
        raise ArtifactError(f"{folder}: no {what}; build it with `{command}`")
    meta = json.loads(vocab_file.read_text(encoding="utf-8"))
    arrays = np.load(weights, allow_pickle=False)
    return TextFeatures({g: i for i, g in enumerate(meta["grams"])}, arrays["idf"]), arrays, meta


M = TypeVar("M")


def artifact_loader(name: str, load: Callable[[Path], M]) -> Callable[[Path | None], M]:
    """``loader(folder=None)``: the model in ``folder`` (default: the artifacts folder's ``name``), loaded once per
    folder; a missing manifest is a clear error."""

    @lru_cache(maxsize=2)
    def _load(folder: Path) -> M:
        read_manifest(folder)
        return load(folder)

    def loader(folder: Path | None = None) -> M:
        return _load((Path(folder) if folder is not None else get_settings().artifacts_dir / name).resolve())

    loader.cache_clear = _load.cache_clear  # type: ignore[attr-defined]
    return loader

"""What a follow-up question asks for, learned from labelled questions in English and Chinese.

Features: character 1-3-grams of the normalised text (Chinese has no spaces, and typos keep most of a
word's character n-grams) and English word uni/bigrams, tf-idf weighted; beside them the question's
all-MiniLM-L6-v2 embedding, scaled by ``embed_weight``. A multinomial logistic regression gives the
intent; a second, binary one says whether the words touch on whether the lesion is harmless (the
"reassurance" flag that makes every answer add the cannot-confirm-benign guard), with its threshold
chosen for recall in cross-validation.

Trained by ``dermagraph train intent`` on ``evals/data/intents/train.yaml`` (training/intent.py) and
measured on a held-out set written separately (``dermagraph eval --suite intent``). The artifact is plain
arrays (``weights.npz``) and JSON: nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.glossary import normalise
from knowledge.settings import get_settings

INTENTS: tuple[str, ...] = ("differential", "look_for", "case_filter", "more_cases", "define", "advice", "features",
                            "pushback", "self_treat", "general")
ARTIFACT_NAME = "intent"
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


@dataclass
class IntentPrediction:
    intent: str
    confidence: float
    probs: dict[str, float]
    reassurance: bool
    reassurance_score: float


@dataclass
class IntentModel:
    features: TextFeatures
    embed_weight: float
    coef: np.ndarray  # (intents, features + 384)
    intercept: np.ndarray  # (intents,)
    reassure_coef: np.ndarray  # (features + 384,)
    reassure_intercept: float
    reassure_threshold: float
    labels: tuple[str, ...] = INTENTS

    def design(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack([self.features.transform(texts), self.embed_weight * sentence_vectors(texts)])

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        x = self.design(texts)
        z = x @ self.coef.T + self.intercept
        z = np.exp(z - z.max(1, keepdims=True))
        probs = z / z.sum(1, keepdims=True)
        r = 1 / (1 + np.exp(-(x @ self.reassure_coef + self.reassure_intercept)))
        return [
            IntentPrediction(intent=self.labels[int(p.argmax())], confidence=float(p.max()),
                             probs={l: round(float(v), 4) for l, v in zip(self.labels, p)},
                             reassurance=bool(score >= self.reassure_threshold), reassurance_score=float(score))
            for p, score in zip(probs, r)
        ]

    def predict_one(self, text: str) -> IntentPrediction:
        return self.predict([text])[0]

    # --- artifact -----------------------------------------------------------------------------
    WEIGHTS = "weights.npz"
    VOCAB = "vocab.json"

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / self.WEIGHTS, idf=self.features.idf, coef=self.coef.astype(np.float32),
                            intercept=self.intercept.astype(np.float32), reassure_coef=self.reassure_coef.astype(np.float32))
        grams = [g for g, _ in sorted(self.features.vocab.items(), key=lambda kv: kv[1])]
        (folder / self.VOCAB).write_text(json.dumps({
            "grams": grams, "labels": list(self.labels), "embed_weight": self.embed_weight,
            "reassure_intercept": self.reassure_intercept, "reassure_threshold": self.reassure_threshold,
        }, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "IntentModel":
        weights, vocab_file = folder / cls.WEIGHTS, folder / cls.VOCAB
        if not weights.is_file() or not vocab_file.is_file():
            raise ArtifactError(f"{folder}: no intent model; build it with `dermagraph train intent`")
        meta = json.loads(vocab_file.read_text(encoding="utf-8"))
        arrays = np.load(weights, allow_pickle=False)
        features = TextFeatures({g: i for i, g in enumerate(meta["grams"])}, arrays["idf"])
        return cls(features, float(meta["embed_weight"]), arrays["coef"], arrays["intercept"], arrays["reassure_coef"],
                   float(meta["reassure_intercept"]), float(meta["reassure_threshold"]), tuple(meta["labels"]))


def default_artifact_dir() -> Path:
    return get_settings().artifacts_dir / ARTIFACT_NAME


@lru_cache(maxsize=2)
def _load(folder: Path) -> IntentModel:
    read_manifest(folder)  # a clear error when the artifact is missing
    return IntentModel.load(folder)


def load_intent_model(folder: Path | None = None) -> IntentModel:
    return _load((Path(folder) if folder is not None else default_artifact_dir()).resolve())

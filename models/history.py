"""Which warning signs a message states about the lesion, learned from labelled EN/ZH messages.

The phrase rules (``knowledge.patient.history_signs``) read plain statements and know negation, questions and other
people's lesions; on messages written blind they missed a stated sign in 22-28% of messages, mostly indirect ones
("it was 3 mm in spring, 7 mm now", "中间多了一块蓝黑色", "the scab falls off and comes back"). This model reads the whole
message: the intent model's features (character 1-3-grams, English word and Chinese word n-grams, tf-idf, beside the
MiniLM embedding) and one logistic regression per sign, its threshold chosen out of fold, recall-weighted (F1.5), for
what the graph records: the union of both readings (``agents.intents.history_reading``; a missed sign cannot raise the
tier, a spurious one refers sooner and is shown back wrongly).

Trained by ``dermagraph train history`` (training/history.py); measured on held-out messages by the intent suite.
The artifact is plain arrays and JSON: nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.patient import HISTORY_SIGNS
from knowledge.settings import get_settings
from knowledge.tokenize import to_simplified
from models.intent import TextFeatures, sentence_vectors

SIGNS: tuple[str, ...] = tuple(HISTORY_SIGNS)
ARTIFACT_NAME = "history"


def prepared(texts: Sequence[str]) -> list[str]:
    """What the reader sees of each message, in training and use alike: Traditional Chinese as Simplified."""
    return [to_simplified(t) for t in texts]


@dataclass
class HistoryModel:
    features: TextFeatures
    embed_weight: float
    coef: np.ndarray  # (signs, features + 384)
    intercept: np.ndarray  # (signs,)
    thresholds: np.ndarray  # (signs,)
    labels: tuple[str, ...] = SIGNS

    def design(self, texts: Sequence[str]) -> np.ndarray:
        texts = prepared(texts)
        return np.hstack([self.features.transform(texts), self.embed_weight * sentence_vectors(texts)])

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(N, signs) probabilities that each message states each sign."""
        return 1 / (1 + np.exp(-(self.design(texts) @ self.coef.T + self.intercept)))

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        """The signs at or above their thresholds, in ``SIGNS`` order, for each message."""
        return [[s for s, p, t in zip(self.labels, row, self.thresholds) if p >= t] for row in self.scores(texts)]

    # --- artifact -----------------------------------------------------------------------------
    WEIGHTS = "weights.npz"
    VOCAB = "vocab.json"

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / self.WEIGHTS, idf=self.features.idf, coef=self.coef.astype(np.float32),
                            intercept=self.intercept.astype(np.float32), thresholds=self.thresholds.astype(np.float32))
        grams = [g for g, _ in sorted(self.features.vocab.items(), key=lambda kv: kv[1])]
        (folder / self.VOCAB).write_text(json.dumps({"grams": grams, "labels": list(self.labels),
                                                     "embed_weight": self.embed_weight}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "HistoryModel":
        weights, vocab_file = folder / cls.WEIGHTS, folder / cls.VOCAB
        if not weights.is_file() or not vocab_file.is_file():
            raise ArtifactError(f"{folder}: no history model; build it with `dermagraph train history`")
        meta = json.loads(vocab_file.read_text(encoding="utf-8"))
        if tuple(meta["labels"]) != SIGNS:
            raise ArtifactError(f"{folder}: the history model reads {meta['labels']}, this code knows {list(SIGNS)}; "
                                "retrain it with `dermagraph train history`")
        arrays = np.load(weights, allow_pickle=False)
        features = TextFeatures({g: i for i, g in enumerate(meta["grams"])}, arrays["idf"])
        return cls(features, float(meta["embed_weight"]), arrays["coef"], arrays["intercept"], arrays["thresholds"],
                   tuple(meta["labels"]))


def default_artifact_dir() -> Path:
    return get_settings().artifacts_dir / ARTIFACT_NAME


@lru_cache(maxsize=2)
def _load(folder: Path) -> HistoryModel:
    read_manifest(folder)  # a clear error when the artifact is missing
    return HistoryModel.load(folder)


def load_history_model(folder: Path | None = None) -> HistoryModel:
    return _load((Path(folder) if folder is not None else default_artifact_dir()).resolve())

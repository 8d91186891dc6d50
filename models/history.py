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

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge.artifacts import ArtifactError
from knowledge.patient import HISTORY_SIGNS
from knowledge.tokenize import to_simplified
from models.text_features import TextFeatures, artifact_loader, read_text_model, save_text_model, sentence_vectors

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
    def save(self, folder: Path) -> None:
        save_text_model(folder, self.features, {"coef": self.coef, "intercept": self.intercept, "thresholds": self.thresholds},
                        {"labels": list(self.labels), "embed_weight": self.embed_weight})

    @classmethod
    def load(cls, folder: Path) -> "HistoryModel":
        features, arrays, meta = read_text_model(folder, "history model", "dermagraph train history")
        if tuple(meta["labels"]) != SIGNS:
            raise ArtifactError(f"{folder}: the history model reads {meta['labels']}, this code knows {list(SIGNS)}; "
                                "retrain it with `dermagraph train history`")
        return cls(features, float(meta["embed_weight"]), arrays["coef"], arrays["intercept"], arrays["thresholds"],
                   tuple(meta["labels"]))


load_history_model = artifact_loader(ARTIFACT_NAME, HistoryModel.load)

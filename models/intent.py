"""What a follow-up question asks for, learned from labelled questions in English and Chinese.

Features: character 1-3-grams of the normalised text (Chinese has no spaces, and typos keep most of a
word's character n-grams) and English word uni/bigrams, tf-idf weighted; beside them the question's
all-MiniLM-L6-v2 embedding, scaled by ``embed_weight``. A multinomial logistic regression gives the
intent; a second, binary one says whether the words touch on whether the lesion is harmless (the
"reassurance" flag that makes every answer add the cannot-confirm-benign guard), a third whether they propose
putting the examination off or replacing it (the "delay" flag: the do-not-put-it-off answer), each with its
threshold chosen for recall in cross-validation.

Trained by ``dermagraph train intent`` on ``evals/data/intents/train.yaml`` (training/intent.py) and
measured on a held-out set written separately (``dermagraph eval --suite intent``). The artifact is plain
arrays (``weights.npz``) and JSON: nothing is unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from models.text_features import TextFeatures, artifact_loader, read_text_model, save_text_model, sentence_vectors, text_grams

INTENTS: tuple[str, ...] = ("differential", "look_for", "case_filter", "more_cases", "define", "advice", "features",
                            "pushback", "self_treat", "general")
ARTIFACT_NAME = "intent"
__all__ = ["INTENTS", "IntentModel", "IntentPrediction", "TextFeatures", "load_intent_model", "sentence_vectors", "text_grams"]


@dataclass
class IntentPrediction:
    intent: str
    confidence: float
    probs: dict[str, float]
    reassurance: bool
    reassurance_score: float
    delay: bool = False
    delay_score: float = 0.0


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
    delay_coef: np.ndarray | None = None  # (features + 384,); None: an artifact without the delay head
    delay_intercept: float = 0.0
    delay_threshold: float = 1.0

    def design(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack([self.features.transform(texts), self.embed_weight * sentence_vectors(texts)])

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        x = self.design(texts)
        z = x @ self.coef.T + self.intercept
        z = np.exp(z - z.max(1, keepdims=True))
        probs = z / z.sum(1, keepdims=True)
        r = 1 / (1 + np.exp(-(x @ self.reassure_coef + self.reassure_intercept)))
        d = (1 / (1 + np.exp(-(x @ self.delay_coef + self.delay_intercept))) if self.delay_coef is not None
             else np.zeros(len(texts)))
        return [
            IntentPrediction(intent=self.labels[int(p.argmax())], confidence=float(p.max()),
                             probs={l: round(float(v), 4) for l, v in zip(self.labels, p)},
                             reassurance=bool(score >= self.reassure_threshold), reassurance_score=float(score),
                             delay=bool(self.delay_coef is not None and ds >= self.delay_threshold), delay_score=float(ds))
            for p, score, ds in zip(probs, r, d)
        ]

    def predict_one(self, text: str) -> IntentPrediction:
        return self.predict([text])[0]

    # --- artifact -----------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        arrays = {"coef": self.coef, "intercept": self.intercept, "reassure_coef": self.reassure_coef}
        meta = {"labels": list(self.labels), "embed_weight": self.embed_weight,
                "reassure_intercept": self.reassure_intercept, "reassure_threshold": self.reassure_threshold}
        if self.delay_coef is not None:
            arrays["delay_coef"] = self.delay_coef
            meta |= {"delay_intercept": self.delay_intercept, "delay_threshold": self.delay_threshold}
        save_text_model(folder, self.features, arrays, meta)

    @classmethod
    def load(cls, folder: Path) -> "IntentModel":
        features, arrays, meta = read_text_model(folder, "intent model", "dermagraph train intent")
        if "delay_coef" not in arrays:
            import warnings

            warnings.warn(f"{folder}: an intent model without the delay head (the phrase rules alone read delays); "
                          "retrain it with `dermagraph train intent`", stacklevel=2)
        return cls(features, float(meta["embed_weight"]), arrays["coef"], arrays["intercept"], arrays["reassure_coef"],
                   float(meta["reassure_intercept"]), float(meta["reassure_threshold"]), tuple(meta["labels"]),
                   arrays.get("delay_coef"), float(meta.get("delay_intercept", 0.0)), float(meta.get("delay_threshold", 1.0)))


load_intent_model = artifact_loader(ARTIFACT_NAME, IntentModel.load)

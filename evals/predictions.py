"""The classifier's outputs on eval items, computed once per (variant, artifact) and cached on disk.

classification, calibration and fairness all need the same 2,003 test (and 1,003 val)
predictions; on two shared cores each pass costs minutes. Outputs are cached per image under
``var/eval/predictions/<fingerprint>.npz``, keyed by ``models.classifiers.classifier_fingerprint``
(the encoder's weights hash, calibration, TTA and abstention), so a retrained encoder or another
variant never reads stale numbers. Backends without a fingerprint are recomputed every time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from evals.harness import EvalContext
from knowledge.cases import Case
from models.classifiers import Variant, build_classifier, classifier_fingerprint, parse_variant
from knowledge.artifacts import atomic_write_bytes
from knowledge.images import open_image
from knowledge.schema import Classifier
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES


@dataclass
class ItemPredictions:
    probs: np.ndarray  # (N, 7) in CODES order: what the app shows (calibrated)
    abstained: np.ndarray  # (N,) bool
    temperature: float  # the backend's own temperature (Prediction.temperature), 1.0 when it has none

    @property
    def labels(self) -> np.ndarray:
        return self.probs.argmax(1)


def labels_of(items: Sequence[Case]) -> np.ndarray:
    return np.asarray([CODES.index(it.dx) for it in items], dtype=int)


class Predictor:
    """One variant's classifier plus its prediction cache."""

    def __init__(self, variant: Variant | str | None = None, classifier: Classifier | None = None) -> None:
        self.variant = variant if isinstance(variant, Variant) else parse_variant(variant)
        self.classifier = classifier or build_classifier(self.variant)
        key = classifier_fingerprint(self.variant, self.classifier)
        self.cache_path: Path | None = get_settings().var_dir / "eval" / "predictions" / f"{key}.npz" if key else None

    def _load_cache(self) -> dict[str, tuple[np.ndarray, bool, float]]:
        if self.cache_path is None or not self.cache_path.is_file():
            return {}
        try:
            with np.load(self.cache_path) as d:
                return {k: (p, bool(a), float(t)) for k, p, a, t in zip(d["keys"], d["probs"], d["abstained"], d["temperature"])}
        except (OSError, ValueError, KeyError):  # a damaged cache is recomputed, never trusted
            return {}

    def _save_cache(self, cache: dict[str, tuple[np.ndarray, bool, float]]) -> None:
        if self.cache_path is None:
            return
        keys = sorted(cache)
        buf = io.BytesIO()
        np.savez_compressed(buf, keys=np.asarray(keys), probs=np.stack([cache[k][0] for k in keys]),
                            abstained=np.asarray([cache[k][1] for k in keys]), temperature=np.asarray([cache[k][2] for k in keys]))
        atomic_write_bytes(self.cache_path, buf.getvalue())

    def predict(self, items: Sequence[Case], desc: str = "classify", batch_size: int = 32) -> ItemPredictions:
        cache = self._load_cache()
        keys = [str(Path(it.image_path).resolve()) for it in items]
        missing = [i for i, k in enumerate(keys) if k not in cache]
        for start in tqdm(range(0, len(missing), batch_size), desc=f"{desc} ({self.variant.name})", unit="batch", leave=False,
                          disable=not missing):
            chunk = missing[start : start + batch_size]
            images = [open_image(items[i].image_path) for i in chunk]
            if self.variant.metadata:
                from models.encoder.metadata import field_values

                preds = self.classifier.classify_batch(images, [field_values(items[i].age, items[i].sex, items[i].localization)
                                                                for i in chunk])
            else:
                preds = self.classifier.classify_batch(images)
            for i, p in zip(chunk, preds):
                cache[keys[i]] = (np.asarray([p.probs[c] for c in CODES]), p.abstained, p.temperature)
        if missing:
            self._save_cache(cache)
        if not items:
            return ItemPredictions(np.zeros((0, len(CODES))), np.zeros(0, bool), 1.0)
        rows = [cache[k] for k in keys]
        return ItemPredictions(np.stack([r[0] for r in rows]).astype(float), np.asarray([r[1] for r in rows], bool),
                               float(rows[0][2]))

    def predict_images(self, images: Sequence, batch_size: int = 32) -> ItemPredictions:
        """Uncached outputs for in-memory images (corrupted copies, swapped images)."""
        probs, abstained, temperature = [], [], 1.0
        for start in range(0, len(images), batch_size):
            for p in self.classifier.classify_batch(list(images[start : start + batch_size])):
                probs.append([p.probs[c] for c in CODES])
                abstained.append(p.abstained)
                temperature = p.temperature
        return ItemPredictions(np.asarray(probs, float).reshape(-1, len(CODES)), np.asarray(abstained, bool), temperature)


_PREDICTORS: dict[str, Predictor] = {}


def predictor_for(ctx: EvalContext) -> Predictor:
    """The context's variant, loaded once per process (``all`` runs several suites on it)."""
    spec = parse_variant(ctx.variant).spec
    if spec not in _PREDICTORS:
        _PREDICTORS[spec] = Predictor(spec)
    return _PREDICTORS[spec]

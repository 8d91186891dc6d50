"""The default classifier: fine-tuned encoders (whole image, lesion-centred crop, ...) and patient metadata.

Two ways from member logits (each member with its own flip TTA) to probabilities, both fitted on val
(``training/encoder/ensemble.py``, ``dermagraph train classifier``):

* **linear pool** (v4 on; shipped): class scores are the weighted mean of the members' logits; when the user gave age,
  sex or body site, the metadata prior's log-likelihoods are added (``metadata.py``). Probabilities are
  ``softmax(z / T + beta * log prior)`` with T and beta fitted by likelihood, separately with and without
  metadata. The member weights also weigh the members' heat maps (``activation_map``).
* **stacked** (``dermagraph train classifier --stacked``; not shipped: on val it gained on clean images and lost
  under corruptions, docs/encoder.md): a multinomial logistic regression over every member's
  log-softmax (and, with metadata, the metadata prior's log-likelihoods): per-class member weights and
  evidence across classes (a member's bkl score can speak against mel), L2-regularised, its strength chosen by
  cross-validation on val. Its probabilities are calibrated by construction (a likelihood fit).

The artifact (``artifacts/classifier/manifest.json``) holds only these numbers, the names of its members, the
metadata table and the triage cut-offs; each member is an encoder artifact of that name under ``artifacts/``
(shipped: ``encoder``, ``encoder_lesion`` and ``encoder_lite2``; an encoder whose config has a ``lesion_margin``
reads the crop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.calibration import softmax
from knowledge.input_range import ExposureFloor, InputRange
from knowledge.settings import get_settings
from models.encoder.metadata import MetadataPrior

ARTIFACT_NAME = "classifier"
# The shipped members (artifact folder names): the whole-image encoder (first: it also serves the case index)
# and the lesion-view encoder. `dermagraph train classifier --members ...` fits a head over others.
DEFAULT_MEMBERS = ("encoder", "encoder_lesion", "encoder_lite2")


@dataclass(frozen=True)
class Calibration:
    temperature: float
    prior_shift: float

    def apply(self, z: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        return softmax(z / self.temperature + self.prior_shift * log_prior)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def stack_features(member_logits: Sequence[np.ndarray], metadata_scores: np.ndarray | None = None) -> np.ndarray:
    """(N, 7 * members [+ 7]): each member's log-softmax, then the metadata log-likelihoods where given."""
    parts = [log_softmax(z) for z in member_logits]
    if metadata_scores is not None:
        parts.append(np.asarray(metadata_scores, dtype=np.float64))
    return np.hstack(parts)


@dataclass(frozen=True)
class Stacker:
    """A multinomial logistic regression over ``stack_features``: ``softmax(features @ coef.T + intercept)``."""

    coef: np.ndarray  # (7, n_features)
    intercept: np.ndarray  # (7,)
    c: float  # the inverse L2 strength it was fitted with (recorded; chosen on val by cross-validation)

    def apply(self, features: np.ndarray) -> np.ndarray:
        if features.shape[1] != self.coef.shape[1]:
            raise ValueError(f"the stacker reads {self.coef.shape[1]} features, got {features.shape[1]}")
        return softmax(features @ self.coef.T + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        return {"coef": self.coef.round(6).tolist(), "intercept": self.intercept.round(6).tolist(), "c": self.c}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Stacker":
        coef, intercept = np.asarray(raw["coef"], dtype=np.float64), np.asarray(raw["intercept"], dtype=np.float64)
        if coef.ndim != 2 or coef.shape[0] != intercept.shape[0]:
            raise ArtifactError(f"classifier artifact: stacker of shape {coef.shape} with {intercept.shape} intercepts")
        return cls(coef, intercept, float(raw["c"]))


@dataclass
class EnsembleHead:
    """How member logits and metadata become calibrated probabilities (all fitted on val)."""

    weights: tuple[float, ...]  # per member, summing to 1
    log_prior: np.ndarray  # (7,) training class frequencies, log
    image: Calibration  # no metadata given
    metadata: Calibration  # metadata given (its prior weighted by ``prior.weight``)
    prior: MetadataPrior = field(default_factory=MetadataPrior)
    members: tuple[str, ...] = DEFAULT_MEMBERS  # the member encoders' artifact names, in ``weights`` order
    # The stacked head (``--stacked``): when set, probabilities come from these, not from the linear pool above.
    stack: Stacker | None = None  # image only
    stack_metadata: Stacker | None = None  # with the metadata log-likelihoods (weight 1) as 7 more features
    # The training photos' range (knowledge.input_range): a photo darker or flatter, blockier or noisier than it (and,
    # opt-in, hairier) is brought back inside before the members see it; empty in heads fitted before it existed.
    input_range: InputRange = field(default_factory=InputRange)

    def prepare(self, img: Image.Image) -> Image.Image:
        """The image the members see: ``img`` through the head's input checks (an image inside the training photos'
        range on every check the head has is passed through as it is)."""
        return self.input_range.apply(img)

    @property
    def stacked(self) -> bool:
        return self.stack is not None and self.stack_metadata is not None

    @property
    def temperature(self) -> float:
        """The temperature behind the image-only probabilities (1 for the stacked head: a likelihood fit)."""
        return 1.0 if self.stacked else self.image.temperature

    def scores(self, member_logits: Sequence[np.ndarray]) -> np.ndarray:
        if len(member_logits) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} members' logits, got {len(member_logits)}")
        return sum(w * np.asarray(z, dtype=np.float64) for w, z in zip(self.weights, member_logits))

    def probabilities(self, member_logits: Sequence[np.ndarray], metadata: Sequence[Mapping[str, str]] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities shown, image-only probabilities): equal where no metadata was given."""
        z = self.scores(member_logits)
        if self.stacked:
            image_only = self.stack.apply(stack_features(member_logits))
        else:
            image_only = self.image.apply(z, self.log_prior)
        if metadata is None:
            return image_only, image_only
        given = np.array([bool(m) for m in metadata])
        if self.stacked:
            raw = MetadataPrior(self.prior.log_likelihood, 1.0)
            extra = np.stack([raw.log_scores(m) for m in metadata])
            fused = self.stack_metadata.apply(stack_features(member_logits, extra))
        else:
            extra = np.stack([self.prior.log_scores(m) for m in metadata])
            fused = self.metadata.apply(z + extra, self.log_prior)
        return np.where(given[:, None], fused, image_only), image_only

    def to_dict(self) -> dict[str, Any]:
        return {"members": list(self.members), "weights": list(self.weights), "log_prior": self.log_prior.round(6).tolist(),
                "image_calibration": vars(self.image), "metadata_calibration": vars(self.metadata),
                "metadata_prior": self.prior.to_dict(),
                **({"stack": self.stack.to_dict(), "stack_metadata": self.stack_metadata.to_dict()} if self.stacked else {}),
                **self.input_range.to_dict()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EnsembleHead":
        members, weights = tuple(str(m) for m in raw["members"]), tuple(float(w) for w in raw["weights"])
        if not members or len(members) != len(weights):
            raise ArtifactError(f"classifier artifact names members {list(members)} with {len(weights)} weights")
        stack = Stacker.from_dict(raw["stack"]) if "stack" in raw else None
        stack_metadata = Stacker.from_dict(raw["stack_metadata"]) if "stack_metadata" in raw else None
        if stack is not None and (stack.coef.shape[1] != 7 * len(members) or stack_metadata is None
                                  or stack_metadata.coef.shape[1] != 7 * len(members) + 7):
            raise ArtifactError(f"classifier artifact: the stacker does not fit {len(members)} members")
        return cls(weights, np.asarray(raw["log_prior"], dtype=np.float64), Calibration(**raw["image_calibration"]),
                   Calibration(**raw["metadata_calibration"]), MetadataPrior.from_dict(raw["metadata_prior"]), members,
                   stack, stack_metadata, InputRange.from_dict(raw))


def classifier_dir(artifact_dir: Path | None = None) -> Path:
    return Path(artifact_dir) if artifact_dir is not None else get_settings().artifacts_dir / ARTIFACT_NAME


def shipped_exposure_floor(artifact_dir: Path | None = None) -> ExposureFloor | None:
    """The exposure floor the shipped head was fitted with (``knowledge.input_range.ExposureFloor``), for every consumer
    that should see an upload as the classifier does (the lesion-feature analyser); None without one."""
    try:
        raw = read_manifest(classifier_dir(artifact_dir)).config.get("head", {}).get("exposure_floor")
        return ExposureFloor.from_dict(raw) if raw is not None else None
    except (ArtifactError, KeyError, TypeError, ValueError):  # no head, or not one this version reads: measured as is
        return None


def load_ensemble_head(artifact_dir: Path | None = None) -> tuple[EnsembleHead, dict]:
    """(the head, the manifest's metrics: val figures and triage cut-offs)."""
    folder = classifier_dir(artifact_dir)
    manifest = read_manifest(folder)
    if "head" not in manifest.config:
        raise ArtifactError(f"{folder}: not a classifier ensemble artifact; rebuild with `dermagraph train classifier`")
    return EnsembleHead.from_dict(manifest.config["head"]), manifest.metrics

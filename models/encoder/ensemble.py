"""The default classifier: fine-tuned encoders (whole image, lesion-centred crop, ...) and patient metadata.

Class scores are the weighted mean of the members' logits (each with its own flip TTA); when the user gave
age, sex or body site, the metadata prior's log-likelihoods are added (``metadata.py``). Probabilities are
``softmax(z / T + beta * log prior)`` with T and beta fitted on val by likelihood, separately for scores
with and without metadata, so both are calibrated. The member weight and the metadata weight are chosen
on val too (``training/encoder/ensemble.py``, ``dermagraph train classifier``).

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

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.calibration import softmax
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


@dataclass
class EnsembleHead:
    """How member logits and metadata become calibrated probabilities (all fitted on val)."""

    weights: tuple[float, ...]  # per member, summing to 1
    log_prior: np.ndarray  # (7,) training class frequencies, log
    image: Calibration  # no metadata given
    metadata: Calibration  # metadata given (its prior weighted by ``prior.weight``)
    prior: MetadataPrior = field(default_factory=MetadataPrior)
    members: tuple[str, ...] = DEFAULT_MEMBERS  # the member encoders' artifact names, in ``weights`` order

    def scores(self, member_logits: Sequence[np.ndarray]) -> np.ndarray:
        if len(member_logits) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} members' logits, got {len(member_logits)}")
        return sum(w * np.asarray(z, dtype=np.float64) for w, z in zip(self.weights, member_logits))

    def probabilities(self, member_logits: Sequence[np.ndarray], metadata: Sequence[Mapping[str, str]] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities shown, image-only probabilities): equal where no metadata was given."""
        z = self.scores(member_logits)
        image_only = self.image.apply(z, self.log_prior)
        if metadata is None:
            return image_only, image_only
        extra = np.stack([self.prior.log_scores(m) for m in metadata])
        given = np.array([bool(m) for m in metadata])
        fused = self.metadata.apply(z + extra, self.log_prior)
        return np.where(given[:, None], fused, image_only), image_only

    def to_dict(self) -> dict[str, Any]:
        return {"members": list(self.members), "weights": list(self.weights), "log_prior": self.log_prior.round(6).tolist(),
                "image_calibration": vars(self.image), "metadata_calibration": vars(self.metadata),
                "metadata_prior": self.prior.to_dict()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "EnsembleHead":
        members, weights = tuple(str(m) for m in raw["members"]), tuple(float(w) for w in raw["weights"])
        if not members or len(members) != len(weights):
            raise ArtifactError(f"classifier artifact names members {list(members)} with {len(weights)} weights")
        return cls(weights, np.asarray(raw["log_prior"], dtype=np.float64), Calibration(**raw["image_calibration"]),
                   Calibration(**raw["metadata_calibration"]), MetadataPrior.from_dict(raw["metadata_prior"]), members)


def classifier_dir(artifact_dir: Path | None = None) -> Path:
    return Path(artifact_dir) if artifact_dir is not None else get_settings().artifacts_dir / ARTIFACT_NAME


def load_ensemble_head(artifact_dir: Path | None = None) -> tuple[EnsembleHead, dict]:
    """(the head, the manifest's metrics: val figures and triage cut-offs)."""
    folder = classifier_dir(artifact_dir)
    manifest = read_manifest(folder)
    if "head" not in manifest.config:
        raise ArtifactError(f"{folder}: not a classifier ensemble artifact; rebuild with `dermagraph train classifier`")
    return EnsembleHead.from_dict(manifest.config["head"]), manifest.metrics

"""Typed results shared across layers: what a classifier returns, whichever backend runs.

Both classifier backends (the embedded encoder and Qwen2-VL) implement ``Classifier`` and return
``Prediction``; the graph, the app and the eval harness only know these two names.
"""

from __future__ import annotations

import math
from typing import Mapping, Protocol, Sequence, runtime_checkable

from PIL import Image
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from knowledge.taxonomy import CODES, MALIGNANT_CODES


class Prediction(BaseModel):
    """Calibrated 7-class probabilities for one image."""

    model_config = ConfigDict(frozen=True)

    probs: dict[str, float]
    label: str
    backend: str
    abstained: bool = False
    abstain_reason: str | None = None
    temperature: float = 1.0
    # The image-only probabilities, when patient metadata (age, sex, site) moved the shown ones: the triage rule
    # reads whichever of the two is higher, so metadata can raise a tier but never lower it.
    image_probs: dict[str, float] | None = None
    # The input checks (knowledge.input_range keys) that changed the photo before the classifier saw it: it was
    # darker, blockier, noisier ... than almost every training photo. Empty for a photo inside their range.
    input_corrections: tuple[str, ...] = ()

    @field_validator("probs")
    @classmethod
    def _complete_distribution(cls, probs: dict[str, float]) -> dict[str, float]:
        if set(probs) != set(CODES):
            raise ValueError(f"probabilities must cover exactly {CODES}, got {sorted(probs)}")
        if any(not math.isfinite(p) or p < 0 for p in probs.values()):
            raise ValueError("probabilities must be finite and non-negative")
        total = sum(probs.values())
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"probabilities sum to {total:.4f}, not 1")
        return {c: float(probs[c]) for c in CODES}

    @model_validator(mode="after")
    def _label_is_a_class(self) -> "Prediction":
        if self.label not in CODES:
            raise ValueError(f"label {self.label!r} is not one of {CODES}")
        return self

    @classmethod
    def from_probs(
        cls,
        probs: Sequence[float],
        backend: str,
        abstain_below: float,
        temperature: float = 1.0,
    ) -> "Prediction":
        """Build from a probability vector in ``CODES`` order, abstaining under the threshold."""
        if len(probs) != len(CODES):
            raise ValueError(f"expected {len(CODES)} probabilities, got {len(probs)}")
        total = float(sum(probs))
        as_dict = {c: float(p) / total for c, p in zip(CODES, probs)}
        label = max(as_dict, key=as_dict.__getitem__)
        top = as_dict[label]
        abstained = top < abstain_below
        reason = (
            f"low confidence: the most likely class has {top:.0%}, below the {abstain_below:.0%} threshold"
            if abstained
            else None
        )
        return cls(
            probs=as_dict,
            label=label,
            backend=backend,
            abstained=abstained,
            abstain_reason=reason,
            temperature=temperature,
        )

    def top_k(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]

    @property
    def malignancy(self) -> float:
        """Probability of a malignant or pre-malignant class (akiec + bcc + mel)."""
        return sum(self.probs[c] for c in MALIGNANT_CODES)


@runtime_checkable
class Classifier(Protocol):
    """A classifier backend: registered by name, loaded once, called per image."""

    name: str

    def classify(self, image: Image.Image, metadata: Mapping[str, str] | None = None) -> Prediction:
        """``metadata``: age band, sex and site (``models.encoder.metadata.field_values``); backends that do not
        use metadata ignore it."""
        ...

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Prediction]: ...

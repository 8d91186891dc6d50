"""Two images of one lesion, side by side: the change in each measured feature, in the estimate and in the tier.

    result = compare_images(resources, "january.jpg", "june.jpg")    # dermagraph compare BEFORE AFTER

Each image goes through the intake check, the classifier, the segmenter's features and the triage rule on its own
(a refused image is said, never compared). What changed is reported as numbers, not judged: two photographs
differ in zoom, angle, pressure and light as well as in the lesion, and the size is relative to each image (no
scale without a ruler). A change toward the melanoma warning signs (growth, more colours, more asymmetry, a
rising melanoma probability) is said plainly, and the tier of the later image is the one that counts; any change
is a reason to have the lesion examined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.images import ImageSource, open_image
from knowledge.taxonomy import CODES

from agents.resources import Resources
from agents.risk import triage

# The features a comparison shows, with the direction that moves toward the melanoma warning signs (+1: larger is
# more worrying; 0: no direction). Names as in ``LesionFeatures.scalars``.
COMPARED: dict[str, int] = {
    "area_fraction": 1, "diameter_fraction": 1, "shape_asymmetry_max": 1, "colour_asymmetry_max": 1,
    "asymmetric_axes": 1, "compactness": 1, "concavity": 1, "abrupt_segments": 1, "colour_count": 1, "variegation": 1,
}
# How much a feature must move to count as a change rather than noise between two photographs: 20% of its value,
# and at least this much in its own units (a repeated photograph of one lesion moves less than this).
MIN_CHANGE: dict[str, float] = {
    "area_fraction": 0.02, "diameter_fraction": 0.03, "shape_asymmetry_max": 0.03, "colour_asymmetry_max": 2.0,
    "asymmetric_axes": 1.0, "compactness": 0.1, "concavity": 0.03, "abrupt_segments": 1.0, "colour_count": 1.0,
    "variegation": 2.0,
}


@dataclass
class ImageAssessment:
    accepted: bool
    reason: str = ""
    reason_zh: str = ""
    probs: dict[str, float] = field(default_factory=dict)
    label: str | None = None
    tier: str | None = None
    features: dict[str, float] = field(default_factory=dict)
    delineated: bool = False


@dataclass
class Comparison:
    before: ImageAssessment
    after: ImageAssessment
    rows: list[dict[str, Any]]  # feature, before, after, change, worrying (bool | None)
    mel_change: float | None
    tier_change: str | None  # "up", "down", "same"; None when one image was refused
    worrying: list[str]  # features that moved toward the warning signs beyond noise


def assess(resources: Resources, image: ImageSource) -> ImageAssessment:
    img = open_image(image)
    verdict = resources.intake_gate.check(img)
    if not verdict.accepted:
        return ImageAssessment(False, verdict.reason or "", verdict.reason_zh or "")
    prediction = resources.classifier.classify(img)
    analysis = resources.analyse_lesion(img)
    values = analysis.features.model_dump(mode="json") if analysis.features is not None else None
    t = triage(prediction, resources.triage_cutoffs, values, None)
    return ImageAssessment(True, probs=dict(prediction.probs), label=prediction.label, tier=t.tier.value,
                           features=analysis.features.scalars() if analysis.features is not None else {},
                           delineated=analysis.delineated)


def compare_images(resources: Resources, before: ImageSource, after: ImageSource) -> Comparison:
    from knowledge.advice import TIER_ORDER, RiskTier

    a, b = assess(resources, before), assess(resources, after)
    rows, worrying = [], []
    if a.accepted and b.accepted:
        for name, direction in COMPARED.items():
            x, y = a.features.get(name), b.features.get(name)
            if x is None or y is None:
                continue
            change = y - x
            real = abs(change) >= max(MIN_CHANGE[name], 0.2 * abs(x))
            toward = real and direction * change > 0
            if toward:
                worrying.append(name)
            rows.append({"feature": name, "before": x, "after": y, "change": change, "beyond_noise": real,
                         "toward_warning_signs": toward})
    tier_change = None
    if a.tier and b.tier:
        ia, ib = TIER_ORDER.index(RiskTier(a.tier)), TIER_ORDER.index(RiskTier(b.tier))
        tier_change = "up" if ib > ia else "down" if ib < ia else "same"
    mel = CODES[CODES.index("mel")]
    mel_change = b.probs[mel] - a.probs[mel] if a.probs and b.probs else None
    return Comparison(a, b, rows, mel_change, tier_change, worrying)

"""A dermoscopy-checklist style score from what the feature analyser measures; it can only escalate.

In the spirit of the ABCD rule (Stolz et al. 1994), the 7-point checklist (Argenziano et al. 1998)
and the 3-point checklist (Soyer et al. 2004), as far as our measurements reach:

| criterion (points) | from | checklist it echoes |
|---|---|---|
| asymmetry in 1 or 2 axes, shape or colour (0-2) | ``asymmetric_axes`` | ABCD "A"; 3-point asymmetry |
| irregular or notched outline, or >= 4 of 8 abrupt border segments (1) | compactness, concavity, ``abrupt_segments`` | ABCD "B" |
| three or more dermoscopic colours (1), five or more (2) | ``colour_count`` | ABCD "C" |
| blue-grey present (1) | ``colours`` | 7-point blue-whitish veil; 3-point blue-white structures |
| black present (1) | ``colours`` | ABCD black; black dots and blotches |
| marked colour variegation (1) | ``variegation`` | 7-point irregular pigmentation |

It cannot measure: pigment network (typical or atypical), streaks and pseudopods, dots and globules,
regression structures, vascular patterns, milia-like cysts, size in millimetres (no scale on the
image) or evolution (only the person can report that: ``knowledge.patient``). It is **not a
validated score**: a crude proxy for a few of the checklists' criteria. Its cut-off is chosen on
the val split (``agents.triage_artifact``) so that it escalates few benign lesions, and it only ever
raises the tier, never lowers it.
"""

from __future__ import annotations

from typing import Any, Mapping

from models.features.config import BORDER, COLOUR_RULES

MAX_SCORE = 8
MEASURED = ("asymmetry", "border", "colours", "blue_grey", "black", "variegation")
NOT_MEASURED = ("pigment network", "streaks", "dots and globules", "regression structures", "vascular pattern",
                "diameter in mm", "evolution")

CRITERIA_NAMES: dict[str, dict[str, str]] = {
    "asymmetry": {"en": "asymmetry", "zh": "不对称"},
    "border": {"en": "irregular or abrupt border", "zh": "边界不规则或边缘截然中断"},
    "colours": {"en": "several colours", "zh": "多种颜色"},
    "blue_grey": {"en": "blue-grey areas", "zh": "蓝灰色区域"},
    "black": {"en": "black areas", "zh": "黑色区域"},
    "variegation": {"en": "marked colour variegation", "zh": "颜色明显斑驳"},
}


def checklist_points(values: Mapping[str, Any]) -> dict[str, int]:
    """Points per criterion from a ``LesionFeatures`` dump (``FeatureRef.values``); empty when none."""
    if not values:
        return {}
    cut = BORDER.get(values.get("outline", "segmenter"), BORDER["segmenter"])
    irregular = (values.get("compactness", 0.0) > cut.irregular_compactness_above
                 or values.get("concavity", 0.0) > cut.notched_concavity_above
                 or values.get("abrupt_segments", 0) >= 4)
    colours = values.get("colours") or []
    count = int(values.get("colour_count", len(colours)))
    points = {
        "asymmetry": min(int(values.get("asymmetric_axes", 0)), 2),
        "border": int(irregular),
        "colours": 2 if count >= 5 else 1 if count >= 3 else 0,
        "blue_grey": int("blue_grey" in colours),
        "black": int("black" in colours),
        "variegation": int(values.get("variegation", 0.0) > COLOUR_RULES.variegation_marked_above),
    }
    return {k: v for k, v in points.items() if v}


def checklist_score(values: Mapping[str, Any]) -> int:
    return sum(checklist_points(values).values())

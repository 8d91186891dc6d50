"""Risk tiers, the advice attached to each, and the disclaimer: one home for every layer.

The tier of a malignancy probability (akiec + bcc + mel) against the thresholds in settings is
defined here; the graph (``agents.risk``) adds its prediction-level rules on top, and the Qwen2-VL
training export uses the same words, so the model learns the advice the app gives.
"""

from __future__ import annotations

from enum import Enum

from knowledge.settings import RiskThresholds, get_settings
from knowledge.taxonomy import Language


class RiskTier(str, Enum):
    LOW = "low"
    MONITOR = "monitor"
    SOON = "see a dermatologist soon"
    URGENT = "urgent"


TIER_ORDER: tuple[RiskTier, ...] = (RiskTier.LOW, RiskTier.MONITOR, RiskTier.SOON, RiskTier.URGENT)

TIER_NAMES: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {"en": "low", "zh": "低"},
    RiskTier.MONITOR: {"en": "monitor", "zh": "观察"},
    RiskTier.SOON: {"en": "see a dermatologist soon", "zh": "尽快就诊皮肤科"},
    RiskTier.URGENT: {"en": "urgent", "zh": "紧急"},
}

TIER_ADVICE: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {
        "en": "Nothing here calls for urgent action: keep an eye on it as part of routine skin self-examination, and have it checked if it grows, changes shape or colour, bleeds or itches.",
        "zh": "目前无需紧急处理：在日常皮肤自查中留意即可；若它变大、形状或颜色改变、出血或瘙痒，请就医检查。",
    },
    RiskTier.MONITOR: {
        "en": "Monitor it: take a photograph now and compare in about three months, and see a doctor sooner if it changes, bleeds or itches.",
        "zh": "观察：现在拍照记录，约三个月后对比；若有变化、出血或瘙痒，应尽早就医。",
    },
    RiskTier.SOON: {
        "en": "Have it examined by a dermatologist within the next few weeks.",
        "zh": "请在几周内由皮肤科医生检查。",
    },
    RiskTier.URGENT: {
        "en": "See a dermatologist promptly (within about two weeks) for an examination and, if needed, a biopsy; do not wait to see whether it changes.",
        "zh": "请尽快（约两周内）就诊皮肤科进行检查，必要时做活检；不要等待观察它是否变化。",
    },
}

DISCLAIMER: dict[str, str] = {
    "en": "dermagraph is decision support for research and teaching, not a diagnosis. Any lesion that worries you, changes, bleeds or itches should be examined by a doctor.",
    "zh": "dermagraph 仅用于科研与教学的辅助决策，并非诊断。任何令您担心、发生变化、出血或瘙痒的病变都应由医生检查。",
}


def tier_for_malignancy(malignancy: float, thresholds: RiskThresholds | None = None) -> RiskTier:
    """Tier for a probability of a malignant or pre-malignant class (akiec + bcc + mel)."""
    t = thresholds or get_settings().risk
    if malignancy >= t.urgent_at:
        return RiskTier.URGENT
    if malignancy >= t.soon_at:
        return RiskTier.SOON
    if malignancy >= t.monitor_at:
        return RiskTier.MONITOR
    return RiskTier.LOW


def tier_name(tier: RiskTier, lang: Language = "en") -> str:
    return TIER_NAMES[tier][lang]


def tier_advice(tier: RiskTier, lang: Language = "en") -> str:
    return TIER_ADVICE[tier][lang]


def disclaimer(lang: Language = "en") -> str:
    return DISCLAIMER[lang]

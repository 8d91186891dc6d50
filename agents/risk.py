"""Risk tier from the calibrated probabilities: low / monitor / see a dermatologist soon / urgent.

Driven by the malignancy probability (akiec + bcc + mel) against the thresholds in settings.
A melanoma probability alone above the 'soon' threshold raises the tier one step, because a
missed melanoma costs far more than a missed keratinocyte lesion.
"""

from __future__ import annotations

from enum import Enum

from knowledge.schema import Prediction
from knowledge.settings import RiskThresholds, get_settings
from knowledge.taxonomy import Language


class RiskTier(str, Enum):
    LOW = "low"
    MONITOR = "monitor"
    SOON = "see a dermatologist soon"
    URGENT = "urgent"


TIER_ORDER = [RiskTier.LOW, RiskTier.MONITOR, RiskTier.SOON, RiskTier.URGENT]

TIER_TEXT: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {
        "en": "Low: no sign of a malignant lesion in this estimate; keep an eye on it as part of routine skin self-examination.",
        "zh": "低：本次估计未见恶性病变迹象；在日常皮肤自查中留意即可。",
    },
    RiskTier.MONITOR: {
        "en": "Monitor: photograph it and compare in 2-3 months; see a doctor sooner if it changes, bleeds or itches.",
        "zh": "观察：拍照记录，2-3个月后对比；若有变化、出血或瘙痒，应尽早就医。",
    },
    RiskTier.SOON: {
        "en": "See a dermatologist soon (within a few weeks) for an examination.",
        "zh": "请尽快（几周内）就诊皮肤科进行检查。",
    },
    RiskTier.URGENT: {
        "en": "Urgent: arrange to see a dermatologist as soon as possible (within about two weeks).",
        "zh": "紧急：请尽快（约两周内）就诊皮肤科。",
    },
}

TIER_NAMES: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {"en": "low", "zh": "低"},
    RiskTier.MONITOR: {"en": "monitor", "zh": "观察"},
    RiskTier.SOON: {"en": "see a dermatologist soon", "zh": "尽快就诊皮肤科"},
    RiskTier.URGENT: {"en": "urgent", "zh": "紧急"},
}


def risk_tier(prediction: Prediction, thresholds: RiskThresholds | None = None) -> RiskTier:
    t = thresholds or get_settings().risk
    m = prediction.malignancy
    if m >= t.urgent_at:
        tier = RiskTier.URGENT
    elif m >= t.soon_at:
        tier = RiskTier.SOON
    elif m >= t.monitor_at:
        tier = RiskTier.MONITOR
    else:
        tier = RiskTier.LOW
    if prediction.probs["mel"] >= t.soon_at and tier != RiskTier.URGENT:
        tier = TIER_ORDER[TIER_ORDER.index(tier) + 1]
    if prediction.abstained and tier == RiskTier.LOW:
        tier = RiskTier.MONITOR  # an uncertain estimate never reassures
    return tier


def tier_name(tier: RiskTier, lang: Language = "en") -> str:
    return TIER_NAMES[tier][lang]


def tier_advice(tier: RiskTier, lang: Language = "en") -> str:
    return TIER_TEXT[tier][lang]

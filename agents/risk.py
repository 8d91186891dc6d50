"""The risk tier of a prediction: the malignancy-probability tier (``knowledge.advice``) plus two rules.

* A melanoma probability alone above the 'soon' threshold raises the tier one step, because a
  missed melanoma costs far more than a missed keratinocyte lesion.
* An abstained (uncertain) estimate is never 'low': uncertainty must not reassure.
"""

from __future__ import annotations

from knowledge.advice import TIER_ORDER, RiskTier, tier_advice, tier_for_malignancy, tier_name
from knowledge.schema import Prediction
from knowledge.settings import RiskThresholds, get_settings

__all__ = ["RiskTier", "risk_tier", "tier_advice", "tier_name"]


def risk_tier(prediction: Prediction, thresholds: RiskThresholds | None = None) -> RiskTier:
    t = thresholds or get_settings().risk
    tier = tier_for_malignancy(prediction.malignancy, t)
    if prediction.probs["mel"] >= t.soon_at and tier != RiskTier.URGENT:
        tier = TIER_ORDER[TIER_ORDER.index(tier) + 1]
    if prediction.abstained and tier == RiskTier.LOW:
        tier = RiskTier.MONITOR
    return tier

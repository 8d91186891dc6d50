"""Risk tiers follow the malignancy probability, and uncertainty never reassures."""

from agents.risk import RiskTier, risk_tier, tier_advice, tier_name
from knowledge.schema import Prediction
from knowledge.taxonomy import CODES


def pred(**probs: float) -> Prediction:
    rest = (1 - sum(probs.values())) / (len(CODES) - len(probs))
    return Prediction.from_probs([probs.get(c, rest) for c in CODES], backend="test", abstain_below=0.4)


def test_tiers_rise_with_malignancy_probability():
    assert risk_tier(pred(nv=0.97, akiec=0.0, bcc=0.0, mel=0.0)) == RiskTier.LOW
    assert risk_tier(pred(nv=0.8, bcc=0.15, mel=0.0, akiec=0.0)) == RiskTier.MONITOR
    assert risk_tier(pred(nv=0.55, bcc=0.4, mel=0.0, akiec=0.0)) == RiskTier.SOON
    assert risk_tier(pred(bcc=0.7, nv=0.2, mel=0.0, akiec=0.0)) == RiskTier.URGENT


def test_melanoma_probability_raises_the_tier():
    # 35% malignancy alone would be 'soon'; with 35% of it melanoma it becomes 'urgent'
    assert risk_tier(pred(mel=0.35, nv=0.6, akiec=0.0, bcc=0.0)) == RiskTier.URGENT


def test_an_abstained_estimate_is_never_low():
    unsure = pred(nv=0.35, bkl=0.33, df=0.27, akiec=0.01, bcc=0.01, mel=0.01)
    assert unsure.abstained and unsure.malignancy < 0.1
    assert risk_tier(unsure) == RiskTier.MONITOR


def test_tier_texts_exist_in_both_languages():
    for tier in RiskTier:
        assert tier_name(tier, "en") and tier_name(tier, "zh")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in tier_advice(tier, "zh"))

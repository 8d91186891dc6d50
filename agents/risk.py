"""The triage rule: which tier a lesion gets, and why. Leans, by design, towards "have it examined".

1. Per class, the most urgent that applies (NICE NG12; ``knowledge.advice.CLASS_TIER``):
   * p(melanoma) at or above its cut-off -> **urgent**, and the answer leads with "melanoma cannot
     be excluded", whatever the top class;
   * p(akiec + bcc + mel) at or above its cut-off -> the tier of the malignant class most suspected
     (bcc: see a dermatologist soon; akiec: see a clinician; mel: see a dermatologist soon);
   * the top class's own tier (melanoma urgent, BCC soon, akiec clinician, benign classes low).
   Both cut-offs are chosen on val for sensitivity >= 0.95, raised while <= 40% of val naevi are referred
   (``settings.triage``), and read from the classifier's manifest.
2. An abstained (uncertain) estimate is at least "see a clinician".
3. The measured-feature checklist score (``agents.checklist``) at or above its val cut-off raises
   the tier one step.
4. The person's history raises it: any warning sign (grew, changed, bleeds, itches, does not heal,
   new in an adult of 50 or more) -> at least "see a dermatologist soon"; the NICE NG12 weighted
   7-point checklist at 3 or more, or the EFG signs of nodular melanoma (elevated, firm, growing)
   -> urgent. A suspected BCC on the face is seen sooner (the advice says so).
Nothing lowers a tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from knowledge.advice import (CLASS_TIER, REFERRAL_TIERS, TIER_ORDER, RiskTier, at_least, escalate, tier_advice,
                              tier_name)
from knowledge.calibration import triage_policy_drift
from knowledge.patient import PatientInfo
from knowledge.schema import Prediction
from knowledge.settings import get_settings
from knowledge.taxonomy import MALIGNANT_CODES

from agents.checklist import checklist_points

__all__ = ["RiskTier", "Triage", "TriageCutoffs", "triage", "risk_tier", "tier_advice", "tier_name", "REFERRAL_TIERS",
           "TIER_ORDER"]

FACE_SITES = ("face", "ear", "scalp", "neck")


@dataclass(frozen=True)
class TriageCutoffs:
    """The numbers the rule needs: per classifier (val-chosen, from its manifest) and the checklist's."""

    mel: float
    malignant: float
    checklist: int
    source: str = "fallback"  # where mel/malignant came from: "manifest" or "fallback"
    val: dict = field(default_factory=dict)  # the val figures behind them (miss rates shown on pushback)

    @classmethod
    def from_manifest_metrics(cls, triage: dict | None, checklist: int | None = None) -> "TriageCutoffs":
        policy = get_settings().triage
        cut = policy.fallback_checklist_cutoff if checklist is None else checklist
        if not triage:
            return cls(policy.fallback_mel_threshold, policy.fallback_malignant_threshold, cut)
        return cls(float(triage["mel_threshold"]), float(triage["malignant_threshold"]), cut, "manifest", dict(triage))

    def problem(self, classifier_name: str) -> str | None:
        """What a person running this classifier should be warned of: no val-chosen cut-offs (the low fallbacks
        apply, so it refers more), or cut-offs chosen under another triage policy than the settings' (None: fine)."""
        if self.source != "manifest":
            return (f"the {classifier_name} classifier has no val-chosen triage cut-offs; using the settings' low "
                    "fallbacks (it will refer more): calibrate it on val")
        if drift := triage_policy_drift(self.val):
            return f"the {classifier_name} classifier's triage cut-offs do not follow the settings ({drift}): recalibrate it on val"
        return None

    def with_checklist(self, cutoff: int) -> "TriageCutoffs":
        return TriageCutoffs(self.mel, self.malignant, cutoff, self.source, self.val)


def default_cutoffs() -> TriageCutoffs:
    return TriageCutoffs.from_manifest_metrics(None)


class Triage(BaseModel):
    """The tier and every reason for it, in the order they were applied (codes the composer words)."""

    tier: RiskTier
    reasons: list[str] = Field(default_factory=list)  # e.g. "mel_threshold", "class:bcc", "abstained", "checklist", "history"
    melanoma_not_excluded: bool = False
    suspected: str | None = None  # the malignant class the tier is for, if any
    p_mel: float = 0.0
    p_malignant: float = 0.0
    mel_threshold: float = 0.0
    malignant_threshold: float = 0.0
    checklist_score: int | None = None
    checklist_points: dict[str, int] = Field(default_factory=dict)
    checklist_cutoff: int | None = None
    history_signs: list[str] = Field(default_factory=list)
    nice_7point: int = 0  # history part of the NICE weighted 7-point checklist (+ measured irregular shape/colour)
    sooner: bool = False  # a suspected BCC on the face, or large/bleeding: seen sooner
    # What the cut-offs achieved on val (the classifier's manifest): quoted when asked to confirm "benign".
    target_sensitivity: float = 0.95
    val_mel_missed: float | None = None
    val_malignant_missed: float | None = None

    def quoted_percentages(self) -> set[float]:
        """The triage figures an answer may quote beside the classifier's probabilities."""
        values = {self.p_mel, self.p_malignant, self.mel_threshold, self.malignant_threshold, self.target_sensitivity}
        return values | {v for v in (self.val_mel_missed, self.val_malignant_missed) if v is not None}

    @property
    def referral(self) -> bool:
        return self.tier in REFERRAL_TIERS


def _nice_weighted(signs: list[str], points: dict[str, int]) -> int:
    """NICE NG12 weighted 7-point checklist: change in size, irregular shape, irregular colour (2 each);
    largest diameter >= 7 mm, inflammation, oozing, change in sensation (1 each). Size in mm and
    inflammation cannot be read here; irregular shape and colour come from the measurements."""
    score = 2 * ("grew" in signs) + 2 * ("changed" in signs and "grew" not in signs)
    score += 2 * bool(points.get("border") or points.get("asymmetry", 0) >= 2)
    score += 2 * bool(points.get("colours", 0) >= 1 or points.get("variegation"))
    score += int("bleeding" in signs) + int("itching" in signs)
    return score


def triage(prediction: Prediction, cutoffs: TriageCutoffs | None = None, features: dict | None = None,
           patient: PatientInfo | None = None) -> Triage:
    """The tier for one lesion: the prediction, its measured features (``FeatureRef.values``) and history."""
    c = cutoffs or default_cutoffs()
    p = prediction.probs
    p_mel, p_mal = p["mel"], sum(p[k] for k in MALIGNANT_CODES)
    if prediction.image_probs is not None:  # metadata may raise the estimate of malignancy, never lower it
        ip = prediction.image_probs
        p_mel, p_mal = max(p_mel, ip["mel"]), max(p_mal, sum(ip[k] for k in MALIGNANT_CODES))
    reasons: list[str] = []
    tier = CLASS_TIER[prediction.label]
    suspected = prediction.label if prediction.label in MALIGNANT_CODES else None
    if suspected:
        reasons.append(f"class:{suspected}")
    mel_flag = p_mel >= c.mel
    if mel_flag:
        tier = RiskTier.URGENT
        suspected = "mel"
        reasons.append("mel_threshold")
    if p_mal >= c.malignant and tier != RiskTier.URGENT:
        most = max(MALIGNANT_CODES, key=p.__getitem__)
        floor = RiskTier.SOON if most in ("bcc", "mel") else RiskTier.CLINICIAN
        if TIER_ORDER.index(floor) > TIER_ORDER.index(tier) or not reasons:
            reasons.append("malignant_threshold")
            suspected = suspected or most
        tier = at_least(tier, floor)
    if prediction.abstained:
        if tier == RiskTier.LOW:
            reasons.append("abstained")
        tier = at_least(tier, RiskTier.CLINICIAN)

    points = checklist_points(features or {})
    score = sum(points.values()) if features else None
    if score is not None and score >= c.checklist:
        tier = escalate(tier)
        reasons.append("checklist")

    patient = patient or PatientInfo()
    signs = list(patient.history)
    if "new" in signs and (patient.age is None or patient.age < get_settings().triage.new_lesion_age):
        signs.remove("new")  # a new mole is common in the young; it is a sign in older adults
    nice = _nice_weighted(signs, points)
    if signs:
        tier = at_least(tier, RiskTier.SOON)
        reasons.append("history")
    efg = {"elevated", "firm", "grew"} <= set(patient.history)
    if (nice >= 3 and any(s in signs for s in ("grew", "changed", "bleeding", "itching"))) or efg:
        if tier != RiskTier.URGENT:
            reasons.append("nice_7point" if nice >= 3 else "efg")
        tier = RiskTier.URGENT
    sooner = suspected == "bcc" and (patient.site in FACE_SITES or "bleeding" in signs)
    if not reasons:
        reasons.append(f"class:{prediction.label}")
    return Triage(tier=tier, reasons=reasons, melanoma_not_excluded=mel_flag, suspected=suspected, p_mel=p_mel,
                  p_malignant=p_mal, mel_threshold=c.mel, malignant_threshold=c.malignant, checklist_score=score,
                  checklist_points=points, checklist_cutoff=c.checklist, history_signs=signs, nice_7point=nice,
                  sooner=sooner, target_sensitivity=float(c.val.get("target_sensitivity", get_settings().triage.target_sensitivity)),
                  val_mel_missed=c.val.get("val_mel_missed"),
                  val_malignant_missed=(1 - c.val["val_malignant_sensitivity"]) if "val_malignant_sensitivity" in c.val else None)


def risk_tier(prediction: Prediction, cutoffs: TriageCutoffs | None = None) -> RiskTier:
    """The tier from the prediction alone (no features, no history)."""
    return triage(prediction, cutoffs).tier

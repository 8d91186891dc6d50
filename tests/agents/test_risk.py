"""The triage rule: per class, val cut-offs from the manifest, escalation only, uncertainty never reassures."""

import pytest

from agents.checklist import checklist_points, checklist_score
from agents.risk import RiskTier, TriageCutoffs, risk_tier, tier_advice, tier_name, triage
from knowledge.advice import REFERRAL_TIERS, TIER_ADVICE, TIER_ORDER
from knowledge.patient import PatientInfo
from knowledge.schema import Prediction
from knowledge.taxonomy import CODES

CUT = TriageCutoffs(mel=0.05, malignant=0.10, checklist=5, source="manifest",
                    val={"val_mel_missed": 0.04, "val_malignant_sensitivity": 0.97, "target_sensitivity": 0.95})


def pred(**probs: float) -> Prediction:
    rest = (1 - sum(probs.values())) / (len(CODES) - len(probs))
    return Prediction.from_probs([probs.get(c, rest) for c in CODES], backend="test", abstain_below=0.4)


NAEVUS = pred(nv=0.97, akiec=0.0, bcc=0.0, mel=0.01)


def test_a_confident_naevus_below_every_cut_off_is_low():
    t = triage(NAEVUS, CUT)
    assert t.tier == RiskTier.LOW and not t.referral and not t.melanoma_not_excluded
    assert t.reasons == ["class:nv"]


def test_melanoma_above_its_cut_off_is_urgent_whatever_the_top_class():
    t = triage(pred(nv=0.90, mel=0.06, akiec=0.0, bcc=0.0), CUT)
    assert t.tier == RiskTier.URGENT and t.melanoma_not_excluded and "mel_threshold" in t.reasons
    assert triage(pred(nv=0.90, mel=0.04, akiec=0.0, bcc=0.0), CUT).tier == RiskTier.LOW  # just below: the rule, not luck


def test_each_malignant_class_gets_its_own_tier():
    assert triage(pred(bcc=0.9, mel=0.01, akiec=0.0, nv=0.05), CUT).tier == RiskTier.SOON
    assert triage(pred(akiec=0.9, mel=0.01, bcc=0.0, nv=0.05), CUT).tier == RiskTier.CLINICIAN
    assert triage(pred(mel=0.9, akiec=0.0, bcc=0.0, nv=0.05), CUT).tier == RiskTier.URGENT


def test_malignant_probability_above_its_cut_off_refers_a_benign_top_class():
    t = triage(pred(nv=0.85, bcc=0.12, mel=0.0, akiec=0.0), CUT)
    assert t.tier == RiskTier.SOON and t.suspected == "bcc" and "malignant_threshold" in t.reasons
    t = triage(pred(nv=0.85, akiec=0.12, mel=0.0, bcc=0.0), CUT)
    assert t.tier == RiskTier.CLINICIAN and t.suspected == "akiec"


def test_an_abstained_estimate_is_at_least_see_a_clinician():
    unsure = pred(nv=0.35, bkl=0.33, df=0.28, akiec=0.01, bcc=0.01, mel=0.01)
    assert unsure.abstained
    t = triage(unsure, CUT)
    assert t.tier == RiskTier.CLINICIAN and "abstained" in t.reasons


def test_the_measured_checklist_raises_the_tier_one_step_at_its_cut_off():
    worrying = {"asymmetric_axes": 2, "abrupt_segments": 6, "compactness": 1.5, "concavity": 0.1, "colour_count": 4,
                "colours": ["light_brown", "dark_brown", "black", "blue_grey"], "variegation": 20.0, "outline": "segmenter"}
    assert checklist_score(worrying) == 2 + 1 + 1 + 1 + 1 + 1
    assert set(checklist_points(worrying)) == {"asymmetry", "border", "colours", "blue_grey", "black", "variegation"}
    t = triage(NAEVUS, CUT, features=worrying)
    assert t.tier == RiskTier.CLINICIAN and "checklist" in t.reasons and t.checklist_score == 7
    calm = {"asymmetric_axes": 0, "abrupt_segments": 1, "compactness": 1.1, "concavity": 0.01, "colour_count": 1,
            "colours": ["light_brown"], "variegation": 8.0, "outline": "segmenter"}
    assert triage(NAEVUS, CUT, features=calm).tier == RiskTier.LOW


def test_history_escalates_and_the_nice_checklist_or_efg_signs_make_it_urgent():
    bled = triage(NAEVUS, CUT, patient=PatientInfo(history=["bleeding"]))
    assert bled.tier == RiskTier.SOON and "history" in bled.reasons
    grew_bled = triage(NAEVUS, CUT, patient=PatientInfo(history=["grew", "bleeding"]))
    assert grew_bled.tier == RiskTier.URGENT and grew_bled.nice_7point == 3
    efg = triage(NAEVUS, CUT, patient=PatientInfo(history=["elevated", "firm", "grew"]))
    assert efg.tier == RiskTier.URGENT


def test_a_new_lesion_is_a_warning_sign_from_fifty_on():
    assert triage(NAEVUS, CUT, patient=PatientInfo(age=62, history=["new"])).tier == RiskTier.SOON
    assert triage(NAEVUS, CUT, patient=PatientInfo(age=25, history=["new"])).tier == RiskTier.LOW


def test_a_suspected_bcc_on_the_face_is_seen_sooner():
    bcc = pred(bcc=0.9, mel=0.01, akiec=0.0, nv=0.05)
    assert triage(bcc, CUT, patient=PatientInfo(site="face")).sooner
    assert not triage(bcc, CUT, patient=PatientInfo(site="back")).sooner


@pytest.mark.parametrize("probs", [dict(nv=0.97, mel=0.01, akiec=0.0, bcc=0.0), dict(bcc=0.9, mel=0.01, akiec=0.0, nv=0.05),
                                   dict(mel=0.2, nv=0.75, akiec=0.0, bcc=0.0), dict(akiec=0.6, nv=0.3, mel=0.01, bcc=0.0)])
def test_features_and_history_never_lower_a_tier(probs):
    p = pred(**probs)
    base = TIER_ORDER.index(triage(p, CUT).tier)
    calm = {"asymmetric_axes": 0, "colour_count": 1, "colours": [], "variegation": 1.0}
    for kwargs in ({"features": calm}, {"patient": PatientInfo(history=["itching"])}, {"patient": PatientInfo(age=80)}):
        assert TIER_ORDER.index(triage(p, CUT, **kwargs).tier) >= base


def test_without_val_cut_offs_the_fallbacks_refer_more_not_less(settings):
    fallback = TriageCutoffs.from_manifest_metrics(None)
    assert fallback.source == "fallback"
    assert fallback.mel <= CUT.mel and fallback.malignant <= CUT.malignant
    assert risk_tier(pred(nv=0.95, mel=0.03, akiec=0.0, bcc=0.0)) == RiskTier.URGENT  # 3% melanoma is above the fallback


def test_cut_offs_missing_or_chosen_under_another_policy_are_named_and_the_shipped_ones_are_not(settings):
    from knowledge.artifacts import read_manifest

    assert "no val-chosen triage cut-offs" in TriageCutoffs.from_manifest_metrics(None).problem("qwen2vl")
    shipped = read_manifest(settings.artifacts_dir / "classifier").metrics["triage"]
    assert TriageCutoffs.from_manifest_metrics(shipped).problem("ensemble") is None
    old_policy = {k: v for k, v in shipped.items() if k not in ("floor_sensitivity", "nv_referral_budget")}
    problem = TriageCutoffs.from_manifest_metrics(old_policy).problem("qwen2vl")
    assert problem and "recalibrate it on val" in problem and "naevus-referral budget None" in problem


def test_every_tier_but_low_sends_the_person_to_a_clinician_and_cites_its_guidance():
    assert set(REFERRAL_TIERS) == set(TIER_ORDER) - {RiskTier.LOW}
    for tier in TIER_ORDER:
        assert tier_name(tier, "en") and tier_name(tier, "zh")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in tier_advice(tier, "zh"))
        assert "three months" not in tier_advice(tier, "en") and "三个月" not in tier_advice(tier, "zh")
    for tier in REFERRAL_TIERS:
        assert "NICE NG12" in TIER_ADVICE[tier]["en"] and "NICE NG12" in TIER_ADVICE[tier]["zh"]
    assert "two weeks" in tier_advice(RiskTier.URGENT, "en") and "两周" in tier_advice(RiskTier.URGENT, "zh")


def test_consultations_saved_with_the_old_monitor_tier_still_load():
    assert RiskTier("monitor") == RiskTier.CLINICIAN

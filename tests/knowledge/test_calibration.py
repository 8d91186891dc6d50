"""Temperature scaling recovers the temperature that made scores over- or under-confident."""

import numpy as np

from knowledge.calibration import expected_calibration_error, fit_temperature, softmax
from knowledge.metrics import negative_log_likelihood_of_scores


def calibrated_scores(n: int = 4000, classes: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(n, classes))
    labels = np.array([rng.choice(classes, p=p) for p in softmax(logits)])  # labels drawn from the model itself
    return logits, labels


def test_fit_recovers_a_known_temperature_in_either_direction():
    logits, labels = calibrated_scores()
    for true_t in (0.25, 4.0, 40.0):  # 40: summed answer log-likelihoods can be far from unit scale
        t = fit_temperature(logits * true_t, labels)
        assert abs(t / true_t - 1) < 0.1, (true_t, t)


def test_scaling_lowers_nll_and_ece_of_an_overconfident_model():
    logits, labels = calibrated_scores()
    overconfident = logits * 3
    t = fit_temperature(overconfident, labels)
    assert negative_log_likelihood_of_scores(overconfident / t, labels) < negative_log_likelihood_of_scores(overconfident, labels)
    assert expected_calibration_error(softmax(overconfident / t), labels) < expected_calibration_error(softmax(overconfident), labels) / 2


def test_sensitivity_threshold_reaches_the_target_and_is_the_largest_that_does():
    from knowledge.calibration import sensitivity_threshold

    rng = np.random.default_rng(0)
    scores, positive = rng.random(1000), rng.random(1000) < 0.2
    for target in (0.8, 0.95, 0.99):
        t = sensitivity_threshold(scores, positive, target)
        assert (scores[positive] >= t).mean() >= target
        higher = np.sort(scores[positive])[np.searchsorted(np.sort(scores[positive]), t) + 1]
        assert (scores[positive] >= higher).mean() < target


def test_triage_thresholds_report_their_cost_on_the_same_data():
    from knowledge.calibration import triage_thresholds
    from knowledge.taxonomy import CODES, MALIGNANT_CODES

    probs, labels = calibrated_scores()
    probs = np.exp(probs - probs.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    out = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, 0.95)
    assert out["val_mel_sensitivity"] >= 0.95 and out["val_malignant_sensitivity"] >= 0.95
    assert 0 <= out["val_benign_referral_rate"] <= 1 and out["n_val"] == len(labels)


def test_a_naevus_referral_budget_buys_sensitivity_above_the_floor_and_never_below_it():
    from knowledge.calibration import SENSITIVITY_STEP, triage_thresholds
    from knowledge.taxonomy import CODES, MALIGNANT_CODES

    logits, labels = calibrated_scores()
    probs = softmax(logits)
    floor = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, 0.95)
    budget = floor["val_nv_referral_rate"] + 0.04
    out = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, 0.95, nv_referral_budget=budget)
    assert out["target_sensitivity"] > 0.95 and out["floor_sensitivity"] == 0.95
    assert out["mel_threshold"] < floor["mel_threshold"] and out["val_mel_missed"] <= floor["val_mel_missed"]
    assert out["val_mel_sensitivity"] >= out["target_sensitivity"] and out["val_nv_referral_rate"] <= budget
    # ...and it is the highest such sensitivity: one more step would spend more than the budget.
    higher = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, out["target_sensitivity"] + SENSITIVITY_STEP)
    assert higher["val_nv_referral_rate"] > budget
    # A budget the floor already exceeds changes nothing: the floor holds.
    tight = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, 0.95, nv_referral_budget=0.01)
    assert tight["target_sensitivity"] == 0.95 and tight["mel_threshold"] == floor["mel_threshold"]
    unlimited = triage_thresholds(probs, labels, CODES, MALIGNANT_CODES, 0.95, nv_referral_budget=1.0, ceiling=0.99)
    assert unlimited["target_sensitivity"] == 0.99


def test_the_shipped_classifiers_cut_offs_follow_the_triage_policy():
    """artifacts/classifier: cut-offs at or above the floor sensitivity on val, within the naevus-referral budget
    (unless the floor alone exceeds it), chosen under the policy in settings (else the build step is stale)."""
    from knowledge.artifacts import read_manifest
    from knowledge.calibration import triage_policy_drift
    from knowledge.settings import get_settings

    policy = get_settings().triage
    metrics = read_manifest(get_settings().artifacts_dir / "classifier").metrics
    for key in ("triage", "triage_with_metadata"):
        t = metrics[key]
        assert triage_policy_drift(t) is None
        assert t["val_mel_sensitivity"] >= t["target_sensitivity"] >= policy.target_sensitivity
        assert t["val_malignant_sensitivity"] >= policy.target_sensitivity
        assert t["target_sensitivity"] == policy.target_sensitivity or t["val_nv_referral_rate"] <= policy.nv_referral_budget
    assert triage_policy_drift({"target_sensitivity": 0.95}) is not None  # cut-offs from before the budget

"""Temperature scaling recovers the temperature that made scores over- or under-confident."""

import numpy as np

from knowledge.calibration import expected_calibration_error, fit_temperature, negative_log_likelihood, softmax


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
    assert negative_log_likelihood(overconfident / t, labels) < negative_log_likelihood(overconfident, labels)
    assert expected_calibration_error(softmax(overconfident / t), labels) < expected_calibration_error(softmax(overconfident), labels) / 2

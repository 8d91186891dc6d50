"""The member-robustness tool measures a real encoder on real val images under a real corruption."""

from __future__ import annotations

from evals.member_robustness import member_robustness
from knowledge.settings import get_settings


def test_a_severe_corruption_costs_a_shipped_member_accuracy():
    folder = get_settings().artifacts_dir / "encoder_lite2"
    out = member_robustness([folder], sample=21, corruptions=("gaussian_blur",), severities=(5,))[str(folder)]
    assert out["n"] >= 14 and 0 <= out["clean"] <= 1
    assert set(out["per_corruption"]) == {"gaussian_blur"} and out["mean_drop"] == out["per_corruption"]["gaussian_blur"]
    # Heavy blur wipes out the network, dots and border the classes differ by; it was never in the member's
    # training (dimming, this test's old corruption, it now shrugs off: exposure was)
    assert out["mean_drop"] > 0

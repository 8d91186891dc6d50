"""The README states only figures the claims file holds, and the claims file is well-formed and traceable."""

from pathlib import Path

import pytest

from evals.claims import Claim, drift, load_claims, lookup, sample_problems
from evals.harness import available_suites

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_claim_names_a_real_suite_and_a_sane_tolerance():
    claims = load_claims()
    assert len(claims) >= 20
    suites = set(available_suites())
    for c in claims:
        assert c.suite in suites, c.key
        assert 0 <= c.tolerance <= 0.1 * max(1.0, abs(c.value)), c.key
        if c.sample_floor is not None:
            assert c.sample_floor <= c.value, c.key
        if c.sample_ceiling is not None:
            assert c.sample_ceiling >= c.value, c.key


@pytest.mark.parametrize("claim", [c for c in load_claims() if c.readme], ids=lambda c: c.key)
def test_the_readme_states_each_claim_in_the_claims_words(claim: Claim):
    assert claim.readme in README, f"README lacks {claim.readme!r} ({claim.key} = {claim.value})"


def test_drift_and_sample_bounds_catch_a_regression():
    claim = next(c for c in load_claims() if c.sample_floor is not None and c.sample_floor > 0)

    def put(report, dotted, value):
        *parents, leaf = dotted.split(".")
        node = report
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    report: dict = {}
    for c in load_claims():
        if c.suite == claim.suite:
            put(report, c.metric, c.value)
    assert lookup(report, claim.metric) == claim.value
    assert drift(claim.suite, report) == [] and sample_problems(claim.suite, report) == []
    put(report, claim.metric, claim.sample_floor - 0.05)
    assert [m for m in drift(claim.suite, report) if m.startswith(claim.key)]
    assert [m for m in sample_problems(claim.suite, report) if m.startswith(claim.key)]

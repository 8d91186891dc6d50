"""The README's figures, in one place (``evals/claims.yaml``), checked three ways.

* ``tests/test_readme_claims.py``: every claim's README text is in README.md, so the README cannot state a
  figure the claims file does not hold (and the claims file names where each figure comes from).
* ``dermagraph eval`` (a full run on the test split with the default classifier): each suite's figures are
  compared with their claims; a figure that moved beyond its tolerance is listed in the index ("claims"),
  so a regression, or a better model, shows up as a row to act on.
* the test that runs a suite on CI's small sample asserts the claim's ``sample_floor`` / ``sample_ceiling``,
  so a regression fails a test (the sample is noisy, hence its own, looser bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

CLAIMS_FILE = Path(__file__).resolve().parent / "claims.yaml"


@dataclass(frozen=True)
class Claim:
    suite: str
    metric: str  # dotted path into the suite's JSON report, e.g. "by_language.zh.accuracy"
    value: float  # the full run's figure, as the README states it
    tolerance: float
    readme: str | None = None  # the words the README uses for it (checked to be there)
    sample_floor: float | None = None
    sample_ceiling: float | None = None

    @property
    def key(self) -> str:
        return f"{self.suite}.{self.metric}"


@lru_cache(maxsize=1)
def load_claims(path: Path = CLAIMS_FILE) -> tuple[Claim, ...]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    claims = []
    for suite, metrics in raw.items():
        for metric, spec in metrics.items():
            claims.append(Claim(suite=suite, metric=metric, value=float(spec["value"]),
                                tolerance=float(spec.get("tolerance", 0.0)), readme=spec.get("readme"),
                                sample_floor=spec.get("sample_floor"), sample_ceiling=spec.get("sample_ceiling")))
    return tuple(claims)


def lookup(report: Mapping[str, Any], dotted: str) -> Any:
    node: Any = report
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"report has no {dotted!r} (missing {part!r})")
        node = node[part]
    return node


def drift(suite: str, report: Mapping[str, Any]) -> list[str]:
    """The claims of ``suite`` whose full-run figure moved beyond its tolerance (empty: the README holds)."""
    out = []
    for claim in load_claims():
        if claim.suite != suite:
            continue
        try:
            value = float(lookup(report, claim.metric))
        except (KeyError, TypeError, ValueError):
            out.append(f"{claim.key}: not in the report")
            continue
        if abs(value - claim.value) > claim.tolerance + 1e-9:
            out.append(f"{claim.key}: {value:.4g} against the README's {claim.value:.4g} (tolerance {claim.tolerance:g})")
    return out


def sample_problems(suite: str, report: Mapping[str, Any]) -> list[str]:
    """The claims of ``suite`` that a sample run breaks (its floor or ceiling)."""
    out = []
    for claim in load_claims():
        if claim.suite != suite or (claim.sample_floor is None and claim.sample_ceiling is None):
            continue
        value = float(lookup(report, claim.metric))
        if claim.sample_floor is not None and value < claim.sample_floor:
            out.append(f"{claim.key}: {value:.4g} below its sample floor {claim.sample_floor:g} (full run {claim.value:g})")
        if claim.sample_ceiling is not None and value > claim.sample_ceiling:
            out.append(f"{claim.key}: {value:.4g} above its sample ceiling {claim.sample_ceiling:g} (full run {claim.value:g})")
    return out

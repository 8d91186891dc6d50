"""Patient metadata (age, sex, body site) fused with the image's class scores, by Bayes' rule.

With the image x and the metadata m conditionally independent given the class y,
p(y | x, m) is proportional to p(y | x) * p(m | y): the class scores gain ``weight * log p(field | y)``
for every field the user gave, each likelihood counted on the training split with add-one smoothing.
A missing field contributes nothing, so every subset of fields is handled exactly (no drop-out training
needed), and the image model never sees metadata, so it cannot learn to lean on it. ``weight`` (shrinking
the naive independence assumption) is chosen on val.

``dx_type`` (how the diagnosis was confirmed) is never used: it leaks the label. HAM10000's "unknown"
site and sex are treated as missing (a user never reports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from knowledge.taxonomy import BODY_SITES, CODES, SEXES

# Age bands (years, lower edges): HAM10000 ages come in steps of 5.
AGE_EDGES: tuple[float, ...] = (0, 15, 30, 40, 50, 60, 70, 80)
FIELDS = ("age", "sex", "site")


def age_band(age: float) -> int:
    return int(np.searchsorted(AGE_EDGES, age, side="right") - 1)


def _values(name: str) -> list[str]:
    if name == "age":
        return [str(i) for i in range(len(AGE_EDGES))]
    if name == "sex":
        return [s for s in SEXES if s != "unknown"]
    return [s for s in BODY_SITES if s != "unknown"]


def field_values(age: float | None = None, sex: str | None = None, site: str | None = None) -> dict[str, str]:
    """The metadata a prior can use, as strings; missing or unknown fields are left out."""
    out: dict[str, str] = {}
    if age is not None and not (isinstance(age, float) and np.isnan(age)) and age > 0:
        out["age"] = str(age_band(float(age)))
    if sex in SEXES and sex != "unknown":
        out["sex"] = str(sex)
    if site is not None and site in BODY_SITES and site != "unknown":
        out["site"] = site
    return out


def metadata_of(patient: Any) -> dict[str, str]:
    """The fields a metadata prior can use, from a ``knowledge.patient.PatientInfo`` (or None)."""
    if patient is None:
        return {}
    return field_values(getattr(patient, "age", None), getattr(patient, "sex", None), getattr(patient, "site", None))


@dataclass
class MetadataPrior:
    """log p(value | class) per field, from training counts; ``weight`` chosen on val."""

    log_likelihood: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # field -> value -> (7,)
    weight: float = 1.0

    @classmethod
    def fit(cls, rows: Iterable[tuple[str, Mapping[str, str]]], alpha: float = 1.0) -> "MetadataPrior":
        """``rows``: (class code, field_values(...)) for the training split."""
        counts = {name: {v: np.zeros(len(CODES)) for v in _values(name)} for name in FIELDS}
        for dx, values in rows:
            for name, value in values.items():
                counts[name][value][CODES.index(dx)] += 1
        table: dict[str, dict[str, list[float]]] = {}
        for name, by_value in counts.items():
            matrix = np.stack([by_value[v] for v in by_value]) + alpha  # (values, classes)
            log_p = np.log(matrix / matrix.sum(0, keepdims=True))  # p(value | class)
            table[name] = {v: log_p[i].round(5).tolist() for i, v in enumerate(by_value)}
        return cls(table)

    def log_scores(self, values: Mapping[str, str]) -> np.ndarray:
        """The (7,) term added to the class scores for one person's metadata (zeros when none is given)."""
        out = np.zeros(len(CODES))
        for name, value in values.items():
            if name in self.log_likelihood and value in self.log_likelihood[name]:
                out += np.asarray(self.log_likelihood[name][value])
        return self.weight * out

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "age_edges": list(AGE_EDGES), "log_likelihood": self.log_likelihood}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "MetadataPrior":
        if list(raw.get("age_edges", AGE_EDGES)) != list(AGE_EDGES):
            raise ValueError("metadata prior: age bands differ from this code's; rebuild the classifier artifact")
        return cls(dict(raw["log_likelihood"]), float(raw["weight"]))

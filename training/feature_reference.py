"""Where the feature cut-offs in ``retrieval.features.config`` come from: the training split.

``python -m training.feature_reference [--per-class N]`` measures every feature on ground-truth
masks of the train split (never val or test) and prints, per feature, percentiles for melanoma and
naevus and the share of each above the configured cut-off. The cut-offs were set near the upper
quartile of naevi, so "asymmetric" or "irregular" means "more than three in four benign naevi
of the training data", a reference population rather than a diagnosis.
"""

from __future__ import annotations

import argparse
import random
import numpy as np
from tqdm import tqdm

from knowledge.ham10000 import LesionRecord, load_dataset
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import get_class
from retrieval.features.masks import read_mask
from retrieval.features.measure import measure_lesion
from retrieval.features.schema import LesionFeatures

MELANOMA, NAEVUS = get_class("mel").code, get_class("nv").code


def measure_records(records: list[LesionRecord], progress: bool = True) -> list[LesionFeatures | None]:
    """Features from each record's ground-truth mask (None where the mask is unusable)."""
    out: list[LesionFeatures | None] = []
    for r in tqdm(records, desc="measuring", unit="img", disable=not progress, leave=False):
        try:
            out.append(measure_lesion(r.image_path, read_mask(r.mask_path)))  # type: ignore[arg-type]
        except ValueError:
            out.append(None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=400, help="train images per class (melanoma, naevus)")
    args = parser.parse_args()
    from retrieval.features.config import COLOUR_RULES, SHAPE

    dataset = load_dataset()
    train = records_in(dataset, load_split(dataset=dataset), "train")
    rng = random.Random(0)
    groups = {}
    for code in (MELANOMA, NAEVUS):
        pool = [r for r in train if r.dx == code]
        groups[code] = [f for f in measure_records(rng.sample(pool, min(args.per_class, len(pool)))) if f is not None]
    cutoffs = {
        "shape_asymmetry_max": SHAPE.asymmetric_shape_above, "colour_asymmetry_max": SHAPE.asymmetric_colour_above,
        "compactness": SHAPE.irregular_compactness_above, "concavity": SHAPE.notched_concavity_above,
        "edge_steepness_mean": SHAPE.abrupt_edge_above, "variegation": COLOUR_RULES.variegation_marked_above,
        "shape_asymmetry_major": SHAPE.asymmetric_shape_above, "shape_asymmetry_minor": SHAPE.asymmetric_shape_above,
    }
    print(f"{'feature':24} {'class':5} {'p25':>8} {'p50':>8} {'p75':>8} {'p90':>8}  above cut-off")
    for name in groups[NAEVUS][0].scalars():
        for code, feats in groups.items():
            values = np.array([f.scalars()[name] for f in feats])
            p = np.percentile(values, [25, 50, 75, 90])
            cut = cutoffs.get(name)
            above = f"{np.mean(values > cut):.0%} > {cut}" if cut is not None else ""
            print(f"{name:24} {code:5} {p[0]:8.3f} {p[1]:8.3f} {p[2]:8.3f} {p[3]:8.3f}  {above}")


if __name__ == "__main__":
    main()

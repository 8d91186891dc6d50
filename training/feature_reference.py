"""Where the feature cut-offs in ``models.features.config`` come from (never the test split).

``python -m training.feature_reference [--split train|val] [--outline truth|predicted] [--per-class N]``
measures every feature on melanomas and naevi, from the ground-truth outline or from the shipped
segmenter's (``analyse_lesion``), and prints per feature the quartiles per class and the share of
each above the configured cut-off. The cut-offs sit near the upper quartile of naevi, so
"asymmetric" or "irregular" means "more than about three in four benign naevi", a reference
population rather than a diagnosis. Shape cut-offs come from the training split's ground-truth
outlines; the border cut-offs from val's predicted outlines, because the segmenter draws smoother
outlines than the annotators (see docs/features.md).
"""

from __future__ import annotations

import argparse
import random
import numpy as np
from tqdm import tqdm

from knowledge.cases import Case
from knowledge.ham10000 import load_dataset
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import get_class
from models.features.masks import read_mask
from models.features.measure import measure_lesion
from models.features.schema import LesionFeatures

MELANOMA, NAEVUS = get_class("mel").code, get_class("nv").code


def measure_records(records: list[Case], outline: str = "truth", progress: bool = True) -> list[LesionFeatures | None]:
    """Features from each record's ground-truth or predicted outline (None where there is none)."""
    from models.features import analyse_lesion

    out: list[LesionFeatures | None] = []
    for r in tqdm(records, desc="measuring", unit="img", disable=not progress, leave=False):
        if outline == "predicted":
            out.append(analyse_lesion(r.image_path).features)
            continue
        try:
            out.append(measure_lesion(r.image_path, read_mask(r.mask_path)))  # type: ignore[arg-type]
        except ValueError:
            out.append(None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=400, help="images per class (melanoma, naevus)")
    parser.add_argument("--split", choices=("train", "val"), default="train")
    parser.add_argument("--outline", choices=("truth", "predicted"), default="truth")
    args = parser.parse_args()
    from models.features.config import BORDER, COLOUR_RULES, SHAPE

    dataset = load_dataset()
    records = records_in(dataset, load_split(dataset=dataset), args.split)
    rng = random.Random(0)
    groups = {}
    for code in (MELANOMA, NAEVUS):
        pool = [r for r in records if r.dx == code]
        picked = rng.sample(pool, min(args.per_class, len(pool)))
        groups[code] = [f for f in measure_records(picked, args.outline) if f is not None]
    outline = "segmenter" if args.outline == "predicted" else "annotated"
    cutoffs = {
        "shape_asymmetry_max": SHAPE.asymmetric_shape_above, "colour_asymmetry_max": SHAPE.asymmetric_colour_above,
        "compactness": BORDER[outline].irregular_compactness_above, "concavity": BORDER[outline].notched_concavity_above,
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

"""Example images for the app: one test-split image per class, never seen in training or the case index."""

from __future__ import annotations

from knowledge.cases import Case
from knowledge.ham10000 import HamDataset, load_dataset
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import CODES


def example_records(dataset: HamDataset | None = None, split: dict[str, str] | None = None) -> list[Case]:
    """The first test image (by image id) of each class, preferring histopathology-confirmed ones.

    Deterministic, so the examples and the screenshots in the docs do not change between runs.
    """
    dataset = dataset or load_dataset()
    split = split or load_split(dataset=dataset)
    test = sorted(records_in(dataset, split, "test"), key=lambda r: r.image_id)
    chosen = []
    for code in CODES:
        of_class = [r for r in test if r.dx == code]
        histo = [r for r in of_class if r.dx_type == "histo"]
        if of_class:
            chosen.append((histo or of_class)[0])
    return chosen

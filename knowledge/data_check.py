"""``dermagraph data check``: scan the HAM10000 folder and the split file, and report counts and every problem.

Its own module because it reads both the data (``knowledge.ham10000``) and the split (``knowledge.splits``),
which itself stands on the data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from knowledge.cases import Case
from knowledge.ham10000 import scan_folder
from knowledge.settings import get_settings
from knowledge.splits import SplitError, read_split
from knowledge.taxonomy import CODES


@dataclass
class DataReport:
    root: str
    layout: str
    images: int
    lesions: int
    masks: int
    class_counts: dict[str, int]
    dx_type_counts: dict[str, int]
    split_counts: dict[str, dict[str, int]]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_dataset(
    data_dir: Path | str | None = None,
    split_file: Path | str | None = None,
    decode: bool = True,
    progress: bool = True,
) -> DataReport:
    """Scan everything and report counts and every problem found (decoding each image if asked)."""
    settings = get_settings()
    root = Path(data_dir) if data_dir is not None else settings.data_dir
    dataset, problems = scan_folder(root)
    if decode:
        from knowledge.images import ImageError, open_image

        iterator: Iterable[Case] = dataset.records
        if progress:
            from tqdm import tqdm

            iterator = tqdm(dataset.records, desc="decoding images", unit="img", leave=False)
        for record in iterator:
            try:
                open_image(record.image_path)
            except ImageError as exc:
                problems.append(f"{record.image_path}: {exc}")
    split_counts: dict[str, dict[str, int]] = {}
    split_path = Path(split_file) if split_file is not None else settings.split_file
    if split_path.is_file():
        try:
            assignment = read_split(split_path, dataset)
        except SplitError as exc:
            problems.append(str(exc))
        else:
            for name in ("train", "val", "test"):
                ids = [i for i, s in assignment.items() if s == name]
                counts = Counter(dataset.get(i).dx for i in ids)
                split_counts[name] = {"images": len(ids), **{c: counts.get(c, 0) for c in CODES}}
    else:
        problems.append(f"{split_path}: split file not found (run `dermagraph data split`)")
    return DataReport(
        root=str(dataset.root),
        layout=dataset.layout,
        images=len(dataset),
        lesions=len(dataset.lesion_ids),
        masks=sum(r.mask_path is not None for r in dataset.records),
        class_counts=dataset.class_counts(),
        dx_type_counts=dict(sorted(Counter(r.dx_type for r in dataset.records).items())),
        split_counts=split_counts,
        problems=problems,
    )

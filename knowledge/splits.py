"""Lesion-disjoint train/val/test splits.

Images are grouped by ``lesion_id``; the near-duplicate pairs (same lesion filed under two lesion
ids, and byte-identical files) merge their groups first. Groups are then dealt to the splits
class by class, in an order fixed by a seeded hash, each group going to the split furthest below
its target share of that class's images. Same data + same seed gives the same file, on any
machine and any library version.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Mapping

from knowledge.ham10000 import HamDataset
from knowledge.taxonomy import CODES

SPLITS: tuple[str, ...] = ("train", "val", "test")


class SplitError(ValueError):
    """A split file is malformed or does not fit the dataset."""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def duplicate_groups(dataset: HamDataset) -> dict[str, str]:
    """image_id -> group key: the lesion, merged across near-duplicate pairs."""
    uf = _UnionFind()
    for r in dataset.records:
        uf.union(f"L:{r.lesion_id}", f"I:{r.image_id}")
    for a, b in dataset.near_duplicate_pairs:
        if a in dataset and b in dataset:
            uf.union(f"I:{a}", f"I:{b}")
    return {r.image_id: uf.find(f"I:{r.image_id}") for r in dataset.records}


def _order_key(seed: int, group: str) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def make_split(
    dataset: HamDataset,
    seed: int = 20180814,
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
) -> dict[str, str]:
    """Assign every image to train/val/test; no group crosses splits."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise SplitError(f"fractions {fractions} must be three positive numbers summing to 1")
    groups = duplicate_groups(dataset)
    members: dict[str, list[str]] = defaultdict(list)
    for image_id, g in groups.items():
        members[g].append(image_id)
    group_dx: dict[str, str] = {}
    for g, ids in members.items():
        counts = Counter(dataset.get(i).dx for i in ids)
        group_dx[g] = min(counts, key=lambda c: (-counts[c], c))  # majority, ties by code
    assignment: dict[str, str] = {}
    for code in CODES:
        class_groups = sorted((g for g in members if group_dx[g] == code), key=lambda g: _order_key(seed, g))
        total = sum(len(members[g]) for g in class_groups)
        filled = dict.fromkeys(SPLITS, 0)
        # Small held-out splits first, so rare classes always reach val and test.
        for g in class_groups:
            n = len(members[g])
            deficits = {s: fractions[i] * total - filled[s] for i, s in enumerate(SPLITS)}
            target = max(("test", "val", "train"), key=lambda s: deficits[s])
            filled[target] += n
            for image_id in members[g]:
                assignment[image_id] = target
    return assignment


def split_to_csv(assignment: Mapping[str, str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_id", "split"])
    for image_id in sorted(assignment):
        writer.writerow([image_id, assignment[image_id]])
    return buf.getvalue()


def write_split(assignment: Mapping[str, str], path: Path) -> Path:
    """Write atomically (temp file, then rename) so a crash never leaves half a split."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(split_to_csv(assignment))
    tmp.replace(path)
    return path


def read_split(path: Path | str, dataset: HamDataset | None = None) -> dict[str, str]:
    """Read an (image_id, split) CSV; with a dataset, check every id belongs to it."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: split file not found")
    assignment: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or {"image_id", "split"} - set(reader.fieldnames):
            raise SplitError(f"{path}: needs columns image_id and split, found {reader.fieldnames}")
        for line_no, row in enumerate(reader, start=2):
            image_id, split = (row["image_id"] or "").strip(), (row["split"] or "").strip()
            if split not in SPLITS:
                raise SplitError(f"{path.name} row {line_no}: split {split!r} is not one of {', '.join(SPLITS)}")
            if image_id in assignment:
                raise SplitError(f"{path.name} row {line_no}: {image_id} is listed twice")
            if dataset is not None and image_id not in dataset:
                raise SplitError(f"{path.name} row {line_no}: {image_id} is not in the dataset at {dataset.root}")
            assignment[image_id] = split
    if not assignment:
        raise SplitError(f"{path}: no rows")
    return assignment


def load_split(split_file: Path | str | None = None, dataset: HamDataset | None = None) -> dict[str, str]:
    from knowledge.settings import get_settings

    return read_split(split_file if split_file is not None else get_settings().split_file, dataset)


def records_in(dataset: HamDataset, assignment: Mapping[str, str], split: str | Iterable[str]):
    """The dataset's records in the given split(s), in dataset order."""
    wanted = {split} if isinstance(split, str) else set(split)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise SplitError(f"unknown split(s) {sorted(unknown)}; expected {', '.join(SPLITS)}")
    return [r for r in dataset.records if assignment.get(r.image_id) in wanted]


def leaks(dataset: HamDataset, assignment: Mapping[str, str]) -> list[str]:
    """Groups (lesions merged with their duplicates) found in more than one split."""
    seen: dict[str, set[str]] = defaultdict(set)
    for image_id, group in duplicate_groups(dataset).items():
        if image_id in assignment:
            seen[group].add(assignment[image_id])
    return sorted(g for g, splits in seen.items() if len(splits) > 1)

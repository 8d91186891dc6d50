"""HAM10000 access: one typed record per image, from either supported folder layout.

Layouts accepted (``--data-dir`` or ``DERMAGRAPH_DATA``):

* compact (vendored in this repo): ``images/part_1/``, ``images/part_2/``, ``masks/ISIC_*.png``,
  ``HAM10000_metadata.csv``, optional ``near_duplicates.csv``;
* official (Kaggle / Harvard Dataverse download): ``HAM10000_images_part_1/``,
  ``HAM10000_images_part_2/``, ``HAM10000_metadata.csv``, optionally
  ``HAM10000_segmentations_lesion_tschandl/ISIC_*_segmentation.png``.

Nothing is dropped silently: a malformed row or a missing file raises ``DataError`` naming the
file and row. ``knowledge.data_check.check_dataset`` collects every problem instead of stopping at the first.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from knowledge.cases import Case
from knowledge.taxonomy import CODES, CONFIRMATIONS, SEXES

METADATA_NAME = "HAM10000_metadata.csv"
METADATA_COLUMNS = ("lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization")
IMAGE_DIRS = (
    "images/part_1",
    "images/part_2",
    "HAM10000_images_part_1",
    "HAM10000_images_part_2",
    "HAM10000_images",
    "images",
)
MASK_DIRS = ("masks", "HAM10000_segmentations_lesion_tschandl", "segmentations")
IMAGE_ID_RE = re.compile(r"^ISIC_\d{7}$")
LESION_ID_RE = re.compile(r"^HAM_\d{7}$")


class DataError(ValueError):
    """The data folder or a file in it is not what dermagraph needs; the message says where."""


@dataclass
class HamDataset:
    root: Path
    layout: str
    records: tuple[Case, ...]
    near_duplicate_pairs: tuple[tuple[str, str], ...] = ()
    _by_id: dict[str, Case] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {r.image_id: r for r in self.records}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.records)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._by_id

    def get(self, image_id: str) -> Case:
        try:
            return self._by_id[image_id]
        except KeyError:
            raise KeyError(f"{image_id!r} is not an image of the HAM10000 data at {self.root}") from None

    def subset(self, image_ids: Iterable[str]) -> list[Case]:
        return [self.get(i) for i in image_ids]

    @property
    def lesion_ids(self) -> set[str]:
        return {r.lesion_id for r in self.records}

    def class_counts(self) -> dict[str, int]:
        counts = Counter(r.dx for r in self.records)
        return {code: counts.get(code, 0) for code in CODES}

    def fingerprint(self) -> str:
        """A hash of what the models learn from: ids, lesion ids and labels (not file bytes)."""
        h = hashlib.sha256()
        for r in sorted(self.records, key=lambda r: r.image_id):
            h.update(f"{r.image_id},{r.lesion_id},{r.dx}\n".encode())
        return h.hexdigest()[:16]


def detect_layout(root: Path) -> str:
    if (root / "images" / "part_1").is_dir():
        return "compact"
    if (root / "HAM10000_images_part_1").is_dir() or (root / "HAM10000_images").is_dir():
        return "official"
    if (root / "images").is_dir():
        return "flat"
    raise DataError(
        f"{root}: no HAM10000 image folder found; expected images/part_1 (compact copy) or "
        "HAM10000_images_part_1 and HAM10000_images_part_2 (official download)"
    )


def _index_files(root: Path, dirs: Iterable[str], suffixes: tuple[str, ...], strip: str = "") -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        folder = root / d
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.suffix.lower() not in suffixes or not path.is_file():
                continue
            stem = path.stem[: -len(strip)] if strip and path.stem.endswith(strip) else path.stem
            found.setdefault(stem, path)
    return found


def _parse_age(raw: str, where: str) -> float | None:
    if raw.strip() == "":
        return None
    try:
        age = float(raw)
    except ValueError:
        raise DataError(f"{where}: age {raw!r} is not a number") from None
    if not 0 <= age <= 120:
        raise DataError(f"{where}: age {age} is outside 0-120")
    return age


def _parse_row(row: dict[str, str], where: str) -> dict[str, object]:
    missing = [c for c in METADATA_COLUMNS if row.get(c) is None]
    if missing:
        raise DataError(f"{where}: row has too few fields (missing {', '.join(missing)})")
    if None in row:  # csv.DictReader puts surplus fields under the key None
        raise DataError(f"{where}: row has more fields than the header")
    image_id, lesion_id = row["image_id"].strip(), row["lesion_id"].strip()
    if not IMAGE_ID_RE.match(image_id):
        raise DataError(f"{where}: image_id {image_id!r} is not of the form ISIC_0000000")
    if not LESION_ID_RE.match(lesion_id):
        raise DataError(f"{where}: lesion_id {lesion_id!r} is not of the form HAM_0000000")
    dx = row["dx"].strip()
    if dx not in CODES:
        raise DataError(f"{where}: dx {dx!r} is not one of {', '.join(CODES)}")
    dx_type = row["dx_type"].strip()
    if dx_type not in CONFIRMATIONS:
        raise DataError(f"{where}: dx_type {dx_type!r} is not one of {', '.join(CONFIRMATIONS)}")
    sex = row["sex"].strip() or "unknown"
    if sex not in SEXES:
        raise DataError(f"{where}: sex {sex!r} is not one of {', '.join(SEXES)}")
    return {
        "image_id": image_id,
        "lesion_id": lesion_id,
        "dx": dx,
        "dx_type": dx_type,
        "age": _parse_age(row["age"], where),
        "sex": sex,
        "localization": row["localization"].strip() or "unknown",
    }


def read_metadata(csv_path: Path) -> tuple[list[dict[str, object]], list[str]]:
    """Parse the metadata CSV; returns the rows and a list of problems (one per bad row)."""
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: metadata file not found")
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = tuple(reader.fieldnames or ())
        missing = [c for c in METADATA_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{csv_path}: header lacks column(s) {', '.join(missing)}; found {', '.join(header)}")
        for line_no, raw in enumerate(reader, start=2):
            where = f"{csv_path.name} row {line_no}"
            try:
                parsed = _parse_row(raw, where)
            except DataError as exc:
                problems.append(str(exc))
                continue
            image_id = str(parsed["image_id"])
            if image_id in seen:
                problems.append(f"{where}: image_id {image_id} already listed on row {seen[image_id]}")
                continue
            seen[image_id] = line_no
            rows.append(parsed)
    return rows, problems


def read_near_duplicates(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    pairs = []
    with path.open(newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            a, b = (row.get("image_id_a") or "").strip(), (row.get("image_id_b") or "").strip()
            if not IMAGE_ID_RE.match(a) or not IMAGE_ID_RE.match(b):
                raise DataError(f"{path.name} row {line_no}: expected two image ids, got {a!r}, {b!r}")
            pairs.append((a, b))
    return pairs


def scan_folder(root: Path) -> tuple[HamDataset, list[str]]:
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(
            f"{root}: data folder not found. Point --data-dir or DERMAGRAPH_DATA at a HAM10000 folder."
        )
    layout = detect_layout(root)
    rows, problems = read_metadata(root / METADATA_NAME)
    images = _index_files(root, IMAGE_DIRS, (".jpg", ".jpeg", ".png"))
    masks = _index_files(root, MASK_DIRS, (".png",), strip="_segmentation")
    records = []
    for row in rows:
        image_id = str(row["image_id"])
        path = images.get(image_id)
        if path is None:
            problems.append(f"{image_id}: image file not found under {root} (listed in {METADATA_NAME})")
            continue
        records.append(Case(**row, image_path=path, mask_path=masks.get(image_id)))  # type: ignore[arg-type]
    listed = {str(r["image_id"]) for r in rows}
    for image_id in sorted(set(images) - listed):
        if IMAGE_ID_RE.match(image_id):
            problems.append(f"{images[image_id]}: image has no row in {METADATA_NAME}")
    pairs = tuple(read_near_duplicates(root / "near_duplicates.csv"))
    for a, b in pairs:
        for image_id in (a, b):
            if image_id not in listed:
                problems.append(f"near_duplicates.csv: {image_id} is not in {METADATA_NAME}")
    return HamDataset(root=root, layout=layout, records=tuple(records), near_duplicate_pairs=pairs), problems


def load_dataset(data_dir: Path | str | None = None) -> HamDataset:
    """Load every record; raise ``DataError`` listing the problems if anything is wrong."""
    from knowledge.settings import get_settings

    root = Path(data_dir) if data_dir is not None else get_settings().data_dir
    return _load_cached(Path(root).expanduser().resolve())


@lru_cache(maxsize=4)
def _load_cached(root: Path) -> HamDataset:
    dataset, problems = scan_folder(root)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataError(
            f"{len(problems)} problem(s) in the HAM10000 data at {root}:\n  {shown}{more}\n"
            "Run `dermagraph data check` for the full list."
        )
    return dataset

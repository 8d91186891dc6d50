"""The HAM10000 data layer: typed records from either layout, and loud errors on bad data."""

import csv
import shutil
from pathlib import Path

import pytest

from knowledge.cases import Case
from knowledge.data_check import check_dataset
from knowledge.ham10000 import DataError, load_dataset

EXPECTED_CLASS_COUNTS = {"akiec": 327, "bcc": 514, "bkl": 1099, "df": 115, "mel": 1113, "nv": 6705, "vasc": 142}


def test_vendored_copy_has_every_image_lesion_and_mask(dataset):
    assert len(dataset) == 10_015
    assert len(dataset.lesion_ids) == 7_470
    assert dataset.class_counts() == EXPECTED_CLASS_COUNTS
    assert all(r.mask_path is not None and r.mask_path.is_file() for r in dataset)
    assert dataset.layout == "compact"


def test_records_are_typed(dataset):
    r = dataset.get("ISIC_0027419")
    assert isinstance(r, Case)
    assert (r.lesion_id, r.dx, r.dx_type, r.age, r.sex, r.localization) == (
        "HAM_0000118", "bkl", "histo", 80.0, "male", "scalp"
    )
    assert r.image_path.name == "ISIC_0027419.jpg" and r.image_path.is_file()
    missing_age = [x for x in dataset if x.age is None]
    assert len(missing_age) == 57


def _write_metadata(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"])
        w.writeheader()
        w.writerows(rows)


def _official_copy(tmp_path: Path, dataset, n: int = 12) -> tuple[Path, list]:
    """A small folder in the official Kaggle/Dataverse layout, from real records."""
    root = tmp_path / "archive (6)"
    part1, part2 = root / "HAM10000_images_part_1", root / "HAM10000_images_part_2"
    seg = root / "HAM10000_segmentations_lesion_tschandl"
    for d in (part1, part2, seg):
        d.mkdir(parents=True)
    records = list(dataset)[:: len(dataset) // n][:n]
    rows = []
    for i, r in enumerate(records):
        shutil.copy(r.image_path, (part1 if i % 2 else part2) / r.image_path.name)
        shutil.copy(r.mask_path, seg / f"{r.image_id}_segmentation.png")
        rows.append({"lesion_id": r.lesion_id, "image_id": r.image_id, "dx": r.dx, "dx_type": r.dx_type,
                     "age": "" if r.age is None else r.age, "sex": r.sex, "localization": r.localization})
    _write_metadata(root / "HAM10000_metadata.csv", rows)
    return root, records


def test_official_layout_is_accepted(tmp_path, dataset):
    root, records = _official_copy(tmp_path, dataset)
    loaded = load_dataset(root)
    assert loaded.layout == "official"
    assert [r.image_id for r in loaded] == [r.image_id for r in records]
    assert all(r.mask_path and r.mask_path.name.endswith("_segmentation.png") for r in loaded)


def test_malformed_row_names_file_and_row(tmp_path, dataset):
    root, _ = _official_copy(tmp_path, dataset, n=4)
    meta = root / "HAM10000_metadata.csv"
    lines = meta.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[2], "melanoma", 1)
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"HAM10000_metadata.csv row 4: dx 'melanoma' is not one of"):
        load_dataset(root)


def test_short_row_and_bad_age_are_reported(tmp_path, dataset):
    root, _ = _official_copy(tmp_path, dataset, n=4)
    meta = root / "HAM10000_metadata.csv"
    lines = meta.read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:4])
    parts = lines[2].split(",")
    parts[4] = "old"
    lines[2] = ",".join(parts)
    meta.write_text("\n".join(lines) + "\n")
    report = check_dataset(root, decode=False, progress=False)
    assert any("row 2: row has too few fields" in p for p in report.problems)
    assert any("row 3: age 'old' is not a number" in p for p in report.problems)
    assert report.images == 2  # the two good rows are kept, the two bad ones are reported, none vanish


def test_missing_image_is_named(tmp_path, dataset):
    root, records = _official_copy(tmp_path, dataset, n=4)
    victim = next(root.glob("HAM10000_images_part_*/*.jpg"))
    victim.unlink()
    with pytest.raises(DataError, match=f"{victim.stem}: image file not found"):
        load_dataset(root)


def test_corrupt_image_is_found_by_check(tmp_path, dataset):
    root, _ = _official_copy(tmp_path, dataset, n=4)
    victim = next(root.glob("HAM10000_images_part_*/*.jpg"))
    victim.write_bytes(victim.read_bytes()[:300])
    report = check_dataset(root, split_file=tmp_path / "none.csv", progress=False)
    assert any(victim.name in p and "damaged or truncated" in p for p in report.problems)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="data folder not found"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no HAM10000 image folder found"):
        load_dataset(tmp_path / "empty")

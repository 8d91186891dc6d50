"""`agents.batch` and `dermagraph batch`: a row per image with the same estimate and tier as a consultation,
unreadable files recorded and skipped, a stopped run resumed, a changed file redone."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.batch import COLUMNS, list_images, run_batch
from knowledge.taxonomy import CODES
from tests.agents.test_session_faults import accepted_test_image

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def read(out: Path) -> list[dict[str, str]]:
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture()
def folder(tmp_path, dataset, split):
    root = tmp_path / "images"
    (root / "visit-2").mkdir(parents=True)
    picked = {}
    for code in ("mel", "nv", "bcc"):
        record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == code)
        target = root / ("visit-2" if code == "bcc" else "") / f"{record.image_id}.jpg"
        shutil.copy(record.image_path, target)
        picked[str(target.relative_to(root))] = record
    (root / "notes.txt").write_text("not an image, not listed")
    (root / "broken.jpg").write_bytes(b"\x00" * 64)
    (root / ".hidden.jpg").write_bytes(b"\x00" * 64)
    return root, picked


def test_each_image_gets_the_consultations_estimate_and_tier(folder, tmp_path, resources, consult):
    root, picked = folder
    out = tmp_path / "results.csv"
    summary = run_batch(root, out, resources)
    rows = {r["path"]: r for r in read(out)}
    assert list(read(out)[0]) == list(COLUMNS)
    assert set(rows) == set(picked) | {"broken.jpg"}  # no .txt, no hidden file
    assert summary.images == 4 and summary.errors == 1 and summary.done_now == 4
    assert rows["broken.jpg"]["error"] and not rows["broken.jpg"]["tier"]
    for key, record in picked.items():
        row = rows[key]
        turn = consult.ask(f"batch-{record.image_id}", "What is this lesion?", image=record.image_path)
        if turn.intake and not turn.intake["accepted"]:
            assert row["intake_accepted"] == "no" and row["tier"] == ""
            continue
        assert row["intake_accepted"] == "yes" and row["label"] == turn.diagnosis["label"]
        assert row["tier"] == turn.risk_tier  # the same rule, features included
        probs = [float(row[f"p_{c}"]) for c in CODES]
        assert abs(sum(probs) - 1) < 0.01
        assert all(abs(float(row[f"p_{c}"]) - turn.diagnosis["probabilities"][c]) < 1e-3 for c in CODES)
    assert (tmp_path / "results.csv.README.txt").read_text().startswith("dermagraph batch results")


def test_a_stopped_run_resumes_and_a_changed_file_is_redone(folder, tmp_path, resources, dataset, split):
    root, picked = folder
    out = tmp_path / "results.csv"
    images = list_images(root)
    first = run_batch(root, out, resources, images=images[:2])  # stopped after two
    assert first.done_now == 2 and len(read(out)) == 2
    second = run_batch(root, out, resources)
    assert second.resumed == 2 and second.done_now == 2 and len(read(out)) == 4
    other = accepted_test_image(dataset, split, "bkl", resources.intake_gate)
    changed = images[0]
    key = str(changed.relative_to(root))
    assert changed.name.startswith("ISIC_")
    before = {r["path"]: r["sha256"] for r in read(out)}
    shutil.copy(other.image_path, changed)  # same name, new content
    third = run_batch(root, out, resources)
    assert third.done_now == 1 and third.resumed == 3
    latest = {r["path"]: r for r in read(out)}  # the newest row of a path wins
    assert latest[key]["sha256"] != before[key] and latest[key]["tier"]


def test_a_csv_with_other_columns_is_not_overwritten(folder, tmp_path, resources):
    root, _ = folder
    out = tmp_path / "mine.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="other columns"):
        run_batch(root, out, resources)
    assert out.read_text() == "a,b\n1,2\n"


def test_the_command_shows_progress_and_a_summary(folder, tmp_path):
    root, picked = folder
    out = tmp_path / "cli.csv"
    run = subprocess.run([DERMAGRAPH, "batch", str(root), "--out", str(out), "--age", "64", "--site", "back"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "4 image(s)" in run.stdout and "1 unreadable" in run.stdout
    assert "batch" in run.stderr and "4/4" in run.stderr  # the progress bar
    assert len(read(out)) == 4
    missing = subprocess.run([DERMAGRAPH, "batch", str(tmp_path / "nowhere"), "--out", str(out)],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr

"""Comparing two images of one lesion: the same image twice changes nothing; a grown lesion is said to have grown;
a refused image is never compared; the CLI prints the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from agents.compare import compare_images
from tests.agents.test_session_faults import accepted_test_image
from ui.panels import comparison_markdown

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def test_the_same_image_twice_is_stable(resources, dataset, split):
    record = accepted_test_image(dataset, split, "nv", resources.intake_gate)
    result = compare_images(resources, record.image_path, record.image_path)
    assert result.tier_change == "same" and result.mel_change == 0 and result.worrying == []
    assert result.rows and all(not row["beyond_noise"] for row in result.rows)
    text = comparison_markdown(result, "zh")
    assert "没有测量特征的变化" in text and "并非诊断" in text


def test_a_lesion_that_grew_is_said_to_have_grown(resources, dataset, split, tmp_path):
    record = accepted_test_image(dataset, split, "mel", resources.intake_gate)
    img = Image.open(record.image_path).convert("RGB")
    w, h = img.size
    closer = img.crop((w // 6, h // 6, w - w // 6, h - h // 6)).resize((w, h))  # the same lesion, 1.5x larger in frame
    path = tmp_path / "later.png"
    closer.save(path)
    result = compare_images(resources, record.image_path, path)
    area = next(r for r in result.rows if r["feature"] == "area_fraction")
    assert area["after"] > area["before"] and area["toward_warning_signs"] and "area_fraction" in result.worrying
    text = comparison_markdown(result, "en")
    assert "Changed toward the melanoma warning signs" in text and "area (share of the image)" in text
    assert "zoom" in text  # the caveat: a closer photograph also looks larger


def test_a_refused_image_is_not_compared(resources, dataset, split):
    record = accepted_test_image(dataset, split, "nv", resources.intake_gate)
    noise = Path(__file__).resolve().parents[2] / "evals" / "data" / "ood" / "gaussian_noise.png"
    result = compare_images(resources, record.image_path, noise)
    assert not result.after.accepted and result.rows == [] and result.tier_change is None
    assert "cannot be compared" in comparison_markdown(result, "en")


def test_the_command_line(dataset, split, tmp_path):
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "bkl")
    run = subprocess.run([DERMAGRAPH, "compare", str(record.image_path), str(record.image_path), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads(run.stdout)
    assert set(payload) >= {"before", "after", "rows", "mel_change", "tier_change", "worrying"}
    bad = subprocess.run([DERMAGRAPH, "compare", str(tmp_path / "none.jpg"), str(record.image_path)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr

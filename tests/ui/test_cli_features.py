"""`dermagraph features IMAGE` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))
DOCUMENTED_KEYS = {"image", "width", "height", "delineated", "reason", "reason_zh", "features", "statements", "checks",
                   "description", "overlay", "scale_note"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=300)


def test_json_output_has_the_documented_keys_and_writes_the_overlay(tmp_path, dataset):
    record = dataset.get("ISIC_0031369")
    out = tmp_path / "outline.png"
    result = run("features", str(record.image_path), "--json", "--overlay", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == DOCUMENTED_KEYS
    assert payload["delineated"] is True and payload["overlay"] == str(out)
    assert payload["features"]["asymmetric_axes"] in (0, 1, 2)
    assert [s["key"] for s in payload["statements"]][:2] == ["asymmetry", "border"]
    assert all(set(s) == {"key", "text_en", "text_zh", "values"} for s in payload["statements"])
    assert payload["description"].endswith(".")
    with Image.open(out) as img:
        assert img.size == (payload["width"], payload["height"]) == (200, 150)


def test_chinese_description_and_plain_output(dataset):
    record = dataset.get("ISIC_0031369")
    result = run("features", str(record.image_path), "--lang", "zh")
    assert result.returncode == 0, result.stderr
    assert "颜色" in result.stdout and "asymmetry" in result.stdout


def test_a_blank_image_says_it_could_not_delineate(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((150, 200, 3), 200, np.uint8)).save(path)
    result = run("features", str(path), "--json", "--overlay", str(tmp_path / "never.png"))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["delineated"] is False and "uniform" in payload["reason"]
    assert payload["overlay"] is None and not (tmp_path / "never.png").exists()


def test_bad_input_fails_with_one_line_and_no_traceback(tmp_path):
    missing = run("features", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2 and "file not found" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "notes.txt").write_text("not an image")
    garbage = run("features", str(tmp_path / "notes.txt"))
    assert garbage.returncode == 2 and "Traceback" not in garbage.stderr
    bad_lang = run("features", str(tmp_path / "notes.txt"), "--lang", "fr")
    assert bad_lang.returncode != 0

"""`dermagraph explain IMAGE --out map.png` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=600)


def test_explain_writes_the_map_and_says_what_it_is(tmp_path, dataset, split):
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "mel")
    out = tmp_path / "maps" / "mel.png"
    result = run("explain", str(record.image_path), "--out", str(out), "--class", "mel", "--json", "--lang", "zh")
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    assert payload["class"] == "mel" and payload["name"] == "黑色素瘤" and 0 <= payload["probability"] <= 1
    assert "不是病变的轮廓" in payload["note"]
    with Image.open(out) as img, Image.open(record.image_path) as src:
        assert img.size == src.size and 0 <= payload["peak"]["x"] < img.width and 0 <= payload["peak"]["y"] < img.height
    plain = run("explain", str(record.image_path), "--out", str(tmp_path / "top.png"))
    assert plain.returncode == 0 and "heat map of" in plain.stdout and "not an outline" in plain.stderr


def test_bad_arguments_fail_clearly_before_loading_models(tmp_path):
    for args, words in ((["--class", "melanoma"], "--class must be one of"), (["--out", str(tmp_path / "x.jpg")], ".png")):
        out = ["--out", str(tmp_path / "x.png")] if "--out" not in args else []
        result = run("explain", str(tmp_path / "missing.jpg"), *out, *args)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    missing = run("explain", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "x.png"))
    assert missing.returncode == 2 and "not found" in missing.stderr

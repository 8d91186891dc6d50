"""`dermagraph data ...` through the real console script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=300, **kw)


def test_data_check_json_reports_the_published_counts():
    out = run("data", "check", "--json", "--no-decode")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["images"], report["lesions"], report["ok"]) == (10_015, 7_470, True)
    assert report["class_counts"] == {"akiec": 327, "bcc": 514, "bkl": 1099, "df": 115, "mel": 1113, "nv": 6705, "vasc": 142}
    splits = report["split_counts"]
    assert sum(splits[s]["images"] for s in ("train", "val", "test")) == 10_015
    assert 0.65 < splits["train"]["images"] / 10_015 < 0.75


def test_data_check_on_a_missing_folder_fails_with_a_message(tmp_path):
    out = run("data", "check", "--data-dir", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "data folder not found" in out.stderr and "Traceback" not in out.stderr


def test_data_split_writes_the_same_file_as_shipped(tmp_path, settings):
    target = tmp_path / "split.csv"
    out = run("data", "split", "--out", str(target))
    assert out.returncode == 0, out.stderr
    assert target.read_text() == settings.split_file.read_text()


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0 and "data" in out.stdout

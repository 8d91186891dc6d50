"""The harness runs registered suites and writes JSON + markdown + plots; external sets work."""

import csv
import json
import shutil

import pytest

from evals.harness import EvalContext, available_suites, read_labels, run_suites, stratified_sample
from knowledge.ham10000 import DataError


def test_data_suite_writes_json_markdown_and_plot(tmp_path):
    run_suites(["data"], EvalContext(out_dir=tmp_path))
    report = json.loads((tmp_path / "data.json").read_text())
    assert report["n"] == 10_015 and report["counts"]["test"]["df"] > 0
    assert (tmp_path / "data.class_balance.png").stat().st_size > 1000
    assert "![data.class_balance]" in (tmp_path / "data.md").read_text()


def test_unknown_suite_names_the_available_ones(tmp_path):
    with pytest.raises(ValueError, match="available: .*data"):
        run_suites(["nope"], EvalContext(out_dir=tmp_path))
    assert "data" in available_suites()


def test_stratified_sample_keeps_every_class(tmp_path):
    items = EvalContext(out_dir=tmp_path).items("test")
    sample = stratified_sample(items, 60)
    assert {it.dx for it in sample} == {it.dx for it in items}
    assert 50 <= len(sample) <= 80


def test_external_labelled_folder(tmp_path, dataset):
    images = tmp_path / "imgs"
    images.mkdir()
    picks = [r for r in dataset if r.dx in ("mel", "nv")][:4]
    with (tmp_path / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image_id", "dx"])
        for i, r in enumerate(picks):
            shutil.copy(r.image_path, images / f"case{i}.jpg")
            w.writerow([f"case{i}", r.dx])
    items = read_labels(tmp_path / "labels.csv", images)
    assert [it.dx for it in items] == [r.dx for r in picks]
    run_suites(["data"], EvalContext(out_dir=tmp_path / "out", labels_csv=tmp_path / "labels.csv", images_dir=images))
    assert json.loads((tmp_path / "out" / "data.json").read_text())["n"] == 4
    (tmp_path / "bad.csv").write_text("image_id,dx\ncase0,cancer\n")
    with pytest.raises(DataError, match="row 2: dx 'cancer'"):
        read_labels(tmp_path / "bad.csv", images)

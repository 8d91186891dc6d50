"""`dermagraph export llamafactory`: valid LLaMA-Factory data whose answers come from real sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from knowledge.advice import TIER_ORDER, tier_for_class
from knowledge.corpus import load_corpus
from knowledge.images import open_image
from knowledge.prompts import DISCLAIMER, TIER_ADVICE, class_answer
from knowledge.taxonomy import confirmation_name, get_class
from models.qwen2vl.budget import CUTOFF_LEN
from training.qwen2vl.export import YAML_NAME, export_llamafactory, validate_export
from models.features import describe, measure_lesion, summarise
from models.features.masks import read_mask
from training.qwen2vl.samples import FeatureAnswers, SourceUnavailable, build_samples

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("lf")
    summary = export_llamafactory(out, limit=21)
    return out, summary


def rows(out: Path, split: str) -> list[dict]:
    return json.loads((out / f"ham10000_{split}.json").read_text())


def test_every_sample_has_one_image_tag_per_existing_image(export):
    out, summary = export
    assert summary.problems == [] and validate_export(out)[0] == []
    for split in ("train", "val", "test"):
        data = rows(out, split)
        assert len(data) == summary.counts[split] == 21 * 4  # every vendored image has a mask
        for row in data:
            assert sum(m["content"].count("<image>") for m in row["messages"]) == len(row["images"]) == 1
            assert Path(row["images"][0]).is_file()
            assert [m["role"] for m in row["messages"]] == ["user", "assistant"]


def test_the_yaml_has_the_seed_settings_and_never_names_the_test_split(export):
    out, _ = export
    config = yaml.safe_load((out / YAML_NAME).read_text())
    assert config["template"] == "qwen2_vl" and config["finetuning_type"] == "lora"
    assert (config["lora_rank"], config["lora_alpha"], config["learning_rate"]) == (8, 16, 5e-5)
    assert (config["per_device_train_batch_size"], config["num_train_epochs"]) == (4, 3.0)
    assert config["image_max_pixels"] == 600 * 450 and config["cutoff_len"] == CUTOFF_LEN
    assert config["dataset"] == "ham10000_train" and config["eval_dataset"] == "ham10000_val"
    assert "test" not in json.dumps({k: v for k, v in config.items() if k != "dataset_dir"})
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["ham10000_train"]["formatting"] == "sharegpt"
    assert info["ham10000_train"]["columns"] == {"messages": "messages", "images": "images"}


def test_no_val_or_test_image_is_in_the_training_file(export, split):
    out, _ = export
    train_ids = {r["image_id"] for r in rows(out, "train")}
    assert train_ids and all(split[i] == "train" for i in train_ids)
    assert all(split[r["image_id"]] == "test" for r in rows(out, "test"))


def test_answers_come_from_the_metadata_the_malignancy_flag_the_corpus_and_measurements(export, dataset):
    out, summary = export
    assert summary.tasks == ("identify", "describe", "advise", "medical_qa")
    corpus_text = " ".join(" ".join(body.split()) for doc in load_corpus() for _, body in doc.sections)
    for row in rows(out, "train"):
        record = dataset.get(row["image_id"])
        answer = row["messages"][1]["content"]
        if row["task"] == "identify":
            assert answer.startswith(class_answer(record.dx))
            assert confirmation_name(record.dx_type) in answer
        elif row["task"] == "advise":
            assert DISCLAIMER in answer and get_class(record.dx).name_en.lower() in answer
            expected = tier_for_class(record.dx)  # the tier the class calls for (NICE NG12), as the app says
            assert TIER_ADVICE[expected.name.lower()] in answer
            assert all(TIER_ADVICE[t.name.lower()] not in answer for t in TIER_ORDER if t != expected)
        elif row["task"] == "describe":
            img = open_image(record.image_path)
            measured = measure_lesion(img, read_mask(record.mask_path, img.size))
            assert answer == summarise(describe(measured), "en")
        else:
            quoted = answer.rsplit(" (Source:", 1)[0]
            assert quoted in corpus_text
            assert get_class(record.dx).name_en.lower() in row["messages"][0]["content"]


def test_every_class_is_in_a_limited_export_and_no_sample_reaches_the_cutoff(export):
    out, summary = export
    dx = {r["messages"][1]["content"].split("(")[1].split(")")[0] for r in rows(out, "train") if r["task"] == "identify"}
    assert len(dx) == 7
    assert 35 < summary.max_tokens < CUTOFF_LEN


def test_validation_reports_a_missing_image_and_a_missing_tag(export, tmp_path):
    out, _ = export
    for name in ("dataset_info.json", YAML_NAME, "ham10000_val.json", "ham10000_test.json"):
        (tmp_path / name).write_text((out / name).read_text())
    data = rows(out, "train")
    data[0]["images"] = [str(tmp_path / "gone.jpg")]
    data[1]["messages"][0]["content"] = data[1]["messages"][0]["content"].replace("<image>", "")
    (tmp_path / "ham10000_train.json").write_text(json.dumps(data))
    problems, _ = validate_export(tmp_path)
    assert any("gone.jpg not found" in p for p in problems)
    assert any("0 <image> tags for 1 images" in p for p in problems)


def test_features_are_described_only_where_a_ground_truth_mask_exists(dataset):
    with_mask = dataset.records[0]
    without = with_mask.model_copy(update={"mask_path": None})
    analyser = FeatureAnswers()
    samples = build_samples([with_mask, without], "train", ("identify", "describe"), features=analyser)
    assert [(s.image_id, s.task) for s in samples] == [(with_mask.image_id, "identify"), (with_mask.image_id, "describe"),
                                                       (without.image_id, "identify")]
    with pytest.raises(SourceUnavailable, match="describe needs the lesion-feature analyser"):
        build_samples([with_mask], "train", ("describe",))


def test_cli_export_prints_counts_as_json(tmp_path):
    out = subprocess.run([DERMAGRAPH, "export", "llamafactory", "--out", str(tmp_path), "--limit", "7",
                          "--task", "identify", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["samples"] == {"train": 7, "val": 7, "test": 7} and report["tasks"] == ["identify"]
    bad = subprocess.run([DERMAGRAPH, "export", "llamafactory", "--out", str(tmp_path), "--task", "haiku"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown task 'haiku'" in bad.stderr and "Traceback" not in bad.stderr

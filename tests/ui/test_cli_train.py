"""`dermagraph train ...` and `dermagraph calibrate ...` on their success paths, the README's command lines through the
real console script, on a tiny real subset (a split file of a few dozen HAM10000 images) or the tiny local Qwen2-VL:
each writes what it says where it is told, and never touches the shipped artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge.taxonomy import CODES, MALIGNANT_CODES

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(*args: str, var: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DERMAGRAPH_VAR": str(var), "COLUMNS": "200"}  # checkpoints go to the test's own var folder
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=600, env=env)


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory, dataset, split) -> Path:
    """32 train images, 4 val images of each class (the triage cut-offs need melanomas and other malignant lesions),
    8 test images, all from the shipped split."""
    rows = [(r.image_id, "train") for r in dataset if split[r.image_id] == "train"][:32]
    for code in CODES:
        rows += [(r.image_id, "val") for r in dataset if split[r.image_id] == "val" and r.dx == code][:4]
    rows += [(r.image_id, "test") for r in dataset if split[r.image_id] == "test"][:8]
    path = tmp_path_factory.mktemp("split") / "tiny_split.csv"
    path.write_text("image_id,split\n" + "".join(f"{i},{s}\n" for i, s in rows))
    return path


@pytest.fixture(scope="module")
def shipped(settings):
    """The shipped artifacts' digest before the module's commands run; checked unchanged after them."""
    before = tree_digest(settings.artifacts_dir)
    yield
    assert tree_digest(settings.artifacts_dir) == before, "a train or calibrate command wrote into artifacts/"


def test_train_segmenter_on_a_tiny_split_writes_a_loadable_artifact_with_its_val_metrics(tmp_path, tiny_split, dataset,
                                                                                         shipped):
    from knowledge.artifacts import read_manifest, split_fingerprint
    from knowledge.splits import load_split
    from models.features import analyse_lesion, load_segmenter

    out = tmp_path / "segmenter"
    done = run("train", "segmenter", "--split-file", str(tiny_split), "--epochs", "1", "--threads", "1", "--out", str(out),
               var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = read_manifest(out)
    m = manifest.metrics
    assert manifest.config["epochs"] == 1 and m["train_images"] == 32 and m["val_images"] == 4 * len(CODES)
    assert manifest.split_fingerprint == split_fingerprint(load_split(tiny_split, dataset))  # trained on that split
    assert 0 < m["val_dice"] <= 1 and m["threshold"] in manifest.config["thresholds"]
    assert f"wrote {out}: val Dice {m['val_dice']:.4f}" in " ".join(done.stdout.split())
    segmenter = load_segmenter(out)
    assert segmenter.threshold == m["threshold"]
    assert analyse_lesion(dataset.records[0].image_path, segmenter).mask.shape == (150, 200)


def test_calibrate_encoder_on_a_tiny_val_split_stores_triage_cut_offs_that_reach_the_target_sensitivity(
        tmp_path, tiny_split, settings, shipped):
    artifact = Path(shutil.copytree(settings.artifacts_dir / "encoder", tmp_path / "encoder"))
    done = run("calibrate", "encoder", "--artifact", str(artifact), "--split-file", str(tiny_split), "--json",
               var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    target = settings.triage.target_sensitivity
    # the policy's sensitivity is a floor; a naevus-referral budget may buy more (4 val naevi: 0 or 1 referred)
    assert result["floor_sensitivity"] == target <= result["target_sensitivity"] and result["n_val"] == 4 * len(CODES)
    assert result["n_val_mel"] == 4 and result["n_val_malignant"] == 4 * len(MALIGNANT_CODES)
    assert 0 < result["mel_threshold"] < 1 and 0 < result["malignant_threshold"] < 1
    # the cut-offs are chosen to refer at least the target share of val's melanomas and malignant lesions
    assert result["val_mel_sensitivity"] >= target and result["val_malignant_sensitivity"] >= target
    stored = json.loads((artifact / "manifest.json").read_text())["metrics"]["triage"]
    assert stored == result  # written into the artifact it was pointed at (the shipped one is checked unchanged)


def test_train_then_calibrate_qwen2vl_with_the_tiny_model_writes_an_adapter_and_its_calibration(tmp_path, tiny_qwen2vl,
                                                                                               shipped):
    adapter = tmp_path / "adapter"
    trained = run("train", "qwen2vl", "--base", str(tiny_qwen2vl), "--adapter-out", str(adapter), "--limit", "4",
                  "--task", "identify", "--max-steps", "2", "--batch-size", "2", var=tmp_path / "var")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "wrote " + str(adapter) + ": 2 steps on 4 samples" in " ".join(trained.stdout.split())
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0 and (adapter / "adapter_config.json").is_file()
    log = [json.loads(line) for line in (adapter / "train_log.jsonl").read_text().splitlines() if line.strip()]
    assert log and all(entry["loss"] > 0 for entry in log if "loss" in entry)

    calibrated = run("calibrate", "qwen2vl", "--base", str(tiny_qwen2vl), "--adapter", str(adapter), "--limit", "8", "--json",
                     var=tmp_path / "var")
    assert calibrated.returncode == 0, calibrated.stderr[-3000:]
    record = json.loads(calibrated.stdout)
    assert record["images"] == 8 and record["adapter"] == str(adapter) and record["temperature"] > 0
    assert record["nll_after"] <= record["nll_before"]  # the fitted temperature never makes val NLL worse
    assert 0 <= record["ece_after"] <= 1 and {"mel_threshold", "malignant_threshold"} <= set(record["triage"])
    assert json.loads((adapter / "calibration.json").read_text())["temperature"] == record["temperature"]


def test_train_encoder_fast_recipe_on_a_tiny_split_writes_a_loadable_artifact(tmp_path, tiny_split, shipped):
    out = tmp_path / "encoder"
    done = run("train", "encoder", "--recipe", "fast", "--epochs", "1", "--text-steps", "2", "--split-file",
               str(tiny_split), "--out", str(out), var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"wrote {out}" in done.stdout.replace("\n", "")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["n_train"] == 32 and manifest["metrics"]["n_val"] == 28
    assert manifest["config"]["train"]["epochs"] == 1 and manifest["config"]["train"]["text_steps"] == 2
    assert manifest["metrics"]["triage"]["n_val_mel"] == 4
    from models.encoder import load_encoder

    from knowledge.images import open_image
    from knowledge.ham10000 import load_dataset

    encoder = load_encoder(out, with_text=False)
    probs = encoder.predict_proba([open_image(load_dataset().records[0].image_path)])
    assert probs.shape == (1, len(CODES)) and abs(probs.sum() - 1) < 1e-5


def test_train_encoder_refuses_a_split_without_val_melanomas_before_training(tmp_path, dataset, split):
    rows = [(r.image_id, "train") for r in dataset if split[r.image_id] == "train"][:16]
    rows += [(r.image_id, "val") for r in dataset if split[r.image_id] == "val" and r.dx == "nv"][:4]
    path = tmp_path / "no_mel.csv"
    path.write_text("image_id,split\n" + "".join(f"{i},{s}\n" for i, s in rows))
    done = run("train", "encoder", "--recipe", "fast", "--epochs", "1", "--split-file", str(path), "--out",
               str(tmp_path / "enc"), var=tmp_path / "var")
    assert done.returncode == 2 and "val split has no mel" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "enc").exists()


def test_train_classifier_fits_the_ensemble_head_on_a_tiny_val_split(tmp_path, tiny_split, shipped):
    out = tmp_path / "classifier"
    done = run("train", "classifier", "--split-file", str(tiny_split), "--out", str(out), "--stacked", var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    head, metrics = manifest["config"]["head"], manifest["metrics"]
    assert metrics["n_val"] == 28 and abs(sum(head["weights"]) - 1) < 1e-9
    assert 0.3 < head["exposure_floor"]["brightness"] < 0.8 and 0.01 < head["exposure_floor"]["contrast"] < 0.2  # on by default
    assert 1.3 < head["deblocker"]["ceiling"] < 2.2 and "hair" not in head  # on by default; hair removal opt-in
    assert 0.05 <= head["denoiser"]["ceiling"] < 0.1  # above the noisiest training photo
    assert set(manifest["config"]["member_weights_sha256"]) == {"encoder", "encoder_lesion", "encoder_lite2"}
    assert metrics["triage"]["n_val_mel"] == 4 and metrics["triage"]["val_mel_sensitivity"] >= 0.95
    pool = metrics["val_linear_pool"]  # the linear pool's in-sample figures, kept beside the stacked head's
    assert pool["val_with_metadata"]["nll"] <= metrics["grid_val_nll"]["metadata_weight=0"] + 1e-3
    # 4 val images per class: the stacked head is fitted, its C chosen by cross-validated NLL, and the figures and
    # triage cut-offs the manifest reports are the cross-fitted ones (worse than in-sample, never better).
    assert metrics["val_cross_fitted"] is True and len(head["stack"]["coef"]) == len(CODES)
    assert len(head["stack"]["coef"][0]) == 3 * len(CODES) and len(head["stack_metadata"]["coef"][0]) == 4 * len(CODES)
    chosen = min((v, k) for k, v in metrics["grid_val_nll"].items() if k.startswith("stack_c="))
    assert chosen[1] == f"stack_c={head['stack']['c']:g}" and metrics["val_image_only"]["nll"] == pytest.approx(chosen[0], abs=1e-3)

    from models.classifiers import get_classifier
    from knowledge.images import open_image
    from knowledge.ham10000 import load_dataset

    ensemble = get_classifier("ensemble", artifact_dir=out)
    img = open_image(load_dataset().records[0].image_path)
    pred = ensemble.classify(img)
    assert abs(sum(pred.probs.values()) - 1) < 1e-6
    # The stacker's probabilities are a logistic regression over every member's log-softmax; not the linear pool's.
    from models.encoder.ensemble import EnsembleHead, log_softmax

    assert ensemble.head.stacked and ensemble.temperature == 1.0
    logits = ensemble.member_logits([img])
    z = np.hstack([log_softmax(x) for x in logits]) @ ensemble.head.stack.coef.T + ensemble.head.stack.intercept
    manual = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert [pred.probs[c] for c in CODES] == pytest.approx(manual[0].tolist(), abs=1e-6)
    assert not np.allclose(ensemble.head.image.apply(ensemble.head.scores(logits), ensemble.head.log_prior), manual, atol=1e-3)
    # An artifact whose stacker does not fit its members is a clear error.
    from knowledge.artifacts import ArtifactError

    raw = ensemble.head.to_dict()
    raw["stack"] = {**raw["stack"], "coef": [row[:14] for row in raw["stack"]["coef"]]}
    with pytest.raises(ArtifactError, match="does not fit 3 members"):
        EnsembleHead.from_dict(raw)


def test_train_classifier_takes_any_members_and_the_backend_loads_them(tmp_path, tiny_split, shipped):
    """A third member (here a second copy of the whole-image encoder under another name): the head weighs three, the
    backend loads the three the head names; an unknown member is a clear error before anything is fitted."""
    from knowledge.settings import get_settings

    members = tmp_path / "members"
    members.mkdir()
    for name, source in (("encoder", "encoder"), ("encoder_lesion", "encoder_lesion"), ("encoder_b", "encoder")):
        (members / name).symlink_to(get_settings().artifacts_dir / source, target_is_directory=True)
    out = tmp_path / "classifier"
    bad = run("train", "classifier", "--split-file", str(tiny_split), "--out", str(out), "--artifacts", str(members),
              "--members", "encoder,encoder_c", var=tmp_path / "var")
    assert bad.returncode == 2 and "no encoder artifact encoder_c" in bad.stderr and not out.exists()
    done = run("train", "classifier", "--split-file", str(tiny_split), "--out", str(out), "--artifacts", str(members),
               "--members", "encoder,encoder_lesion,encoder_b", "--no-exposure-floor", "--no-deblock", "--no-denoise",
               "--sharpen", "--hair-removal",
               var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-2000:]
    head = json.loads((out / "manifest.json").read_text())["config"]["head"]
    assert not {"stack", "exposure_floor", "deblocker", "denoiser"} & set(head)  # the opt-outs
    assert 0 < head["hair"]["ceiling"] < 0.05 and 0.003 < head["sharpener"]["ceiling"] < 0.015  # the opt-ins
    from training.encoder.ensemble import classifier_staleness

    assert "input checks sharpener, hair differ from the default exposure_floor, deblocker, denoiser" in classifier_staleness(tmp_path)
    assert head["members"] == ["encoder", "encoder_lesion", "encoder_b"] and len(head["weights"]) == 3
    assert abs(sum(head["weights"]) - 1) < 1e-9

    from knowledge.ham10000 import load_dataset
    from knowledge.images import open_image
    from models.classifiers import get_classifier

    ensemble = get_classifier("ensemble", artifact_dir=out, members_dir=members)
    img = open_image(load_dataset().records[0].image_path)
    logits = ensemble.member_logits([img])
    assert len(logits) == 3 and abs(sum(ensemble.classify(img).probs.values()) - 1) < 1e-6
    assert (logits[0] == logits[2]).all() and not (logits[0] == logits[1]).all()  # same encoder twice; the crop differs


def test_train_intent_on_a_small_labelled_set_writes_a_model_that_reads_questions(tmp_path):
    import yaml

    from training.intent import TRAIN_FILES

    items = yaml.safe_load(TRAIN_FILES[0].read_text(encoding="utf-8"))
    small = [it for intent in sorted({i["intent"] for i in items}) for it in [i for i in items if i["intent"] == intent][:8]]
    data = tmp_path / "small.yaml"
    data.write_text(yaml.safe_dump(small, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "intent"
    done = run("train", "intent", "--data", str(data), "--out", str(out), var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["n_train"] == 80 and 0 < manifest["metrics"]["cv"]["best"]["cv_accuracy"] <= 1
    assert manifest["metrics"]["delay_cv_recall"] >= 0.9 and 0 < manifest["metrics"]["delay_threshold"] < 1
    from models.intent import IntentModel

    model = IntentModel.load(out)
    assert model.predict_one("can I cut it off myself with scissors").intent in model.labels
    assert model.delay_coef is not None and isinstance(model.predict_one("can it wait until after Christmas").delay, bool)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- text: hello\n  intent: gossip\n  lang: en\n", encoding="utf-8")
    refused = run("train", "intent", "--data", str(bad), "--out", str(tmp_path / "x"), var=tmp_path / "var")
    assert refused.returncode == 2 and "gossip" in refused.stderr and "Traceback" not in refused.stderr


def test_train_history_on_a_small_labelled_set_writes_a_reader_and_refuses_bad_labels(tmp_path):
    """The learned history reader trains from labelled messages (one of the shipped training sets, cut down), writes
    its thresholds and CV figures, reads messages back; a label that is no sign, or the held-out set, is refused."""
    import yaml

    from training.history import HELDOUT_FILE, TRAIN_FILES

    items = yaml.safe_load(TRAIN_FILES[0].read_text(encoding="utf-8"))[:120]
    data = tmp_path / "small.yaml"
    data.write_text(yaml.safe_dump(items, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "history"
    done = run("train", "history", "--data", str(data), "--out", str(out), var=tmp_path / "var")
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["n_train"] == 120 and 0 < manifest["metrics"]["cv"]["best"]["cv_mean_average_precision"] <= 1
    assert set(manifest["metrics"]["per_sign"]) == {"grew", "changed", "bleeding", "itching", "not_healing", "new", "elevated", "firm"}
    from models.history import HistoryModel

    model = HistoryModel.load(out)
    read = model.predict([it["text"] for it in items[:20]])
    assert len(read) == 20 and all(set(r) <= set(model.labels) for r in read)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- text: it glows in the dark\n  lang: en\n  signs: [glowing]\n", encoding="utf-8")
    refused = run("train", "history", "--data", str(bad), "--out", str(tmp_path / "x"), var=tmp_path / "var")
    assert refused.returncode == 2 and "glowing" in refused.stderr and "Traceback" not in refused.stderr
    held = run("train", "history", "--data", str(HELDOUT_FILE), "--out", str(tmp_path / "y"), var=tmp_path / "var")
    assert held.returncode == 2 and "held-out" in held.stderr


@pytest.mark.parametrize("name, module", [("intent", "training.intent:intent_staleness"),
                                          ("history", "training.history:history_staleness")])
def test_the_shipped_text_models_were_trained_on_every_training_file_as_they_are_now(tmp_path, name, module):
    import importlib
    import shutil

    from knowledge.settings import get_settings

    path, fn = module.split(":")
    staleness = getattr(importlib.import_module(path), fn)
    assert staleness() == [], f"artifacts/{name} is stale: run `dermagraph build` (or `dermagraph train {name}`)"
    copy = tmp_path / name
    shutil.copytree(get_settings().artifacts_dir / name, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["data_fingerprint"] = "0" * 16  # as if a training file had changed since
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert staleness(copy) != []

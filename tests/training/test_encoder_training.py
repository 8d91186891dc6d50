"""Training the encoder: a tiny real run learns and writes a loadable artifact; the shipped one matches the config."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from knowledge.artifacts import read_manifest
from training.encoder.augment import augment
from knowledge.calibration import fit_temperature
from training.encoder.config import FinetuneConfig, TrainConfig, recipe_config
from training.encoder.train import encoder_staleness, train_encoder


def test_shipped_encoder_artifact_matches_the_default_config(dataset):
    reasons = encoder_staleness(dataset=dataset)
    assert reasons == [], f"artifacts/encoder is stale ({reasons}); rerun `dermagraph train encoder` and commit it"


def test_shipped_manifest_records_what_built_it(settings):
    manifest = read_manifest(settings.artifacts_dir / "encoder")
    assert manifest.config == recipe_config().manifest_config()
    triage = manifest.metrics["triage"]  # the triage rule's cut-offs, chosen on val
    assert triage["val_mel_sensitivity"] >= triage["target_sensitivity"] >= triage["floor_sensitivity"]
    assert triage["floor_sensitivity"] == settings.triage.target_sensitivity  # the policy's floor
    assert set(manifest.files) == {"weights.safetensors", "case_embeddings.npz"}
    assert manifest.metrics["temperature"] > 0 and 0 < manifest.metrics["val"]["balanced_accuracy"] <= 1
    assert manifest.git_commit and manifest.data_fingerprint and manifest.split_fingerprint
    total = sum((settings.artifacts_dir / "encoder" / name).stat().st_size for name in manifest.files)
    assert total < 40e6  # shipped in git: tens of MB at most


def test_every_shipped_ensemble_member_matches_the_recipe_its_build_step_trains(dataset, settings):
    from models.encoder.ensemble import EnsembleHead
    from training.encoder.train import member_staleness
    from ui.build import MEMBERS, STEPS

    head = EnsembleHead.from_dict(read_manifest(settings.artifacts_dir / "classifier").config["head"])
    steps = {s.name for s in STEPS}
    for name in head.members:
        assert name in steps, f"the shipped head's member {name} has no `dermagraph build` step"
        if name != "encoder":
            recipe = read_manifest(settings.artifacts_dir / name).config
            assert member_staleness(name, MEMBERS[name][0], dataset) == [], recipe
            # A member is a classifier only: the similar-case index reads the main encoder's case embeddings.
            assert set(read_manifest(settings.artifacts_dir / name).files) == {"weights.safetensors"}


@pytest.mark.slow
def test_a_tiny_training_run_lowers_the_loss_and_writes_a_loadable_artifact(tmp_path, dataset):
    from models.encoder import load_case_embeddings, load_encoder

    cfg = TrainConfig(epochs=4, max_train_per_class=8, batch_size=28, text_steps=6, text_batch=16, warmup_steps=2)
    result = train_encoder(cfg, artifact_dir=tmp_path / "encoder", dataset=dataset, progress=False, log=lambda m: None,
                           work_dir=tmp_path / "work")
    ce = [h["ce"] for h in result.history if h["phase"] == "image"]
    clip = [h["clip"] for h in result.history if h["phase"] == "text"]
    assert len(ce) == 4 and ce[-1] < ce[0], result.history
    assert len(clip) == 3 and clip[-1] < clip[0], result.history
    manifest = json.loads((tmp_path / "encoder" / "manifest.json").read_text())
    assert manifest["config"] == cfg.manifest_config() and manifest["data_fingerprint"] == dataset.fingerprint()
    assert manifest["metrics"]["n_train"] == 56
    encoder = load_encoder(tmp_path / "encoder")
    assert encoder.temperature == pytest.approx(manifest["metrics"]["temperature"])
    ids, emb = load_case_embeddings(tmp_path / "encoder")
    assert len(ids) == manifest["metrics"]["n_train"] + manifest["metrics"]["n_val"] == len(emb)
    # Resuming: the same config with more epochs continues from the saved checkpoint.
    logs: list[str] = []
    longer = TrainConfig(**{**cfg.__dict__, "epochs": 5})
    (tmp_path / "work" / "runs").mkdir(exist_ok=True)
    import shutil

    from training.encoder.train import run_dir

    shutil.copytree(run_dir(cfg, tmp_path / "work"), run_dir(longer, tmp_path / "work"))
    more = train_encoder(longer, artifact_dir=tmp_path / "encoder2", dataset=dataset, progress=False, log=logs.append,
                         work_dir=tmp_path / "work")
    assert any("resuming" in line for line in logs)
    assert [h["epoch"] for h in more.history if h["phase"] == "image"] == [1, 2, 3, 4, 5]


def test_augmentation_keeps_the_frame_and_changes_the_pixels(dataset):
    from knowledge.images import open_image

    img = open_image(dataset.records[0].image_path)
    views = [augment(img, random.Random(i)) for i in range(3)]
    assert all(v.size == img.size for v in views)
    assert all(np.abs(np.asarray(v, float) - np.asarray(img, float)).mean() > 2 for v in views)
    assert np.array_equal(np.asarray(augment(img, random.Random(7))), np.asarray(augment(img, random.Random(7))))


def test_temperature_scaling_recovers_an_overconfident_models_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 7))
    labels = np.array([rng.choice(7, p=np.exp(z) / np.exp(z).sum()) for z in true_logits])
    assert fit_temperature(true_logits * 3, labels) == pytest.approx(3, rel=0.1)


@pytest.mark.slow
def test_the_full_recipe_fine_tunes_every_layer_resumes_and_writes_a_loadable_artifact(tmp_path, dataset):
    from dataclasses import replace

    import torch

    from models.encoder import load_encoder

    cfg = replace(FinetuneConfig(), epochs=1, max_train_per_class=6, batch_size=8, text_steps=2, text_batch=8, warmup_steps=1,
                  workers=0)
    logs: list[str] = []
    result = train_encoder(cfg, artifact_dir=tmp_path / "encoder", dataset=dataset, progress=False, log=logs.append,
                           work_dir=tmp_path / "work")
    manifest = json.loads((tmp_path / "encoder" / "manifest.json").read_text())
    assert manifest["config"]["train"]["recipe"] == "full" and manifest["metrics"]["n_train"] == 42
    assert "triage" in manifest["metrics"] and any(line.startswith("epoch 1/1") for line in logs)
    trained, fresh = load_encoder(tmp_path / "encoder", with_text=False), FinetuneConfig()
    from models.encoder.model import create_encoder

    untouched = create_encoder(fresh.model, with_text=False)
    stem = "tower.net._conv_stem.weight"
    assert not torch.allclose(trained.state_dict()[stem].float(), untouched.state_dict()[stem].float(), atol=1e-4)
    assert trained.tower.spec.input_size == (192, 144) and trained.tower.spec.color_constancy
    again = train_encoder(cfg, artifact_dir=tmp_path / "encoder2", dataset=dataset, progress=False, log=logs.append,
                          work_dir=tmp_path / "work", case_embeddings=False)
    assert any("resuming" in line for line in logs) and again.history == result.history
    # An ensemble member leaves the case embeddings out and still loads.
    assert set(read_manifest(tmp_path / "encoder2").files) == {"weights.safetensors"}
    assert load_encoder(tmp_path / "encoder2", with_text=False).temperature == pytest.approx(again.metrics["temperature"])
    assert "p_at_10" in result.metrics["val"]
    # A member with no text side and no case embeddings skips the train-embedding pass (and so reports no P@10).
    bare = train_encoder(replace(cfg, text_steps=0), artifact_dir=tmp_path / "encoder3", dataset=dataset, progress=False,
                         log=logs.append, work_dir=tmp_path / "work", case_embeddings=False)
    assert "p_at_10" not in bare.metrics["val"] and set(read_manifest(tmp_path / "encoder3").files) == {"weights.safetensors"}


def test_cuda_is_refused_clearly_where_there_is_none():
    from training.encoder.train import train_default_encoder

    if torch_cuda_available():
        pytest.skip("a CUDA device is visible")
    with pytest.raises(ValueError, match="no CUDA device"):
        train_default_encoder(recipe="full", device="cuda", progress=False, log=lambda m: None)
    with pytest.raises(ValueError, match="unknown encoder recipe"):
        train_default_encoder(recipe="huge", progress=False)


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def test_dermoscopy_augmentation_adds_hair_frames_and_noise_reproducibly(dataset):
    from knowledge.images import open_image
    from training.encoder.augment import add_frame, add_hair, dermoscopy_augment

    img = open_image(dataset.records[0].image_path)
    hair = np.asarray(add_hair(img, random.Random(1), 12), float)
    assert (np.abs(hair - np.asarray(img, float)).max(axis=2) > 40).mean() > 0.005  # dark strands cross the image
    framed = np.asarray(add_frame(img, random.Random(3)), float)
    assert framed[0, 0].sum() < np.asarray(img, float)[0, 0].sum()  # corners darkened
    a, b = dermoscopy_augment(img, random.Random("x")), dermoscopy_augment(img, random.Random("x"))
    assert a.size == img.size and np.array_equal(np.asarray(a), np.asarray(b))


def test_photometric_augmentation_degrades_like_a_phone_photo_and_leaves_the_older_recipes_alone(dataset):
    from knowledge.images import open_image
    from training.encoder.augment import dermoscopy_augment, photometric_augment
    from training.encoder.config import recipe_config

    img = open_image(dataset.records[0].image_path)
    base = np.asarray(img, float)
    views = [np.asarray(photometric_augment(img, random.Random(i), 1.0), float) for i in range(40)]
    assert all(v.shape == base.shape for v in views)
    changed = [v for v in views if not np.array_equal(v, base)]
    assert 10 <= len(changed) < 40  # each degradation has a probability: some views stay clean
    assert min(v.mean() for v in views) < 0.8 * base.mean()  # some under-exposed
    assert min(v.std() for v in views) < 0.8 * base.std()  # some washed out
    # Strength 0 and the recipes without it: the random stream (and so every v3-v5 training view) is unchanged.
    assert np.array_equal(np.asarray(photometric_augment(img, random.Random(1), 0.0)), base)
    plain = dermoscopy_augment(img, random.Random("y"))
    assert np.array_equal(np.asarray(plain), np.asarray(dermoscopy_augment(img, random.Random("y"), 1.0, 0.0)))
    assert "photometric" not in recipe_config("lite2").manifest_config()["train"]  # shipped artifacts keep their hash
    assert recipe_config("lite2_robust").manifest_config()["train"]["photometric"] == 1.0
    robust, full = recipe_config("full_robust").manifest_config(), recipe_config("full").manifest_config()
    assert robust["train"].pop("photometric") == 1.0 and robust == full  # the full recipe, plus degradations


def test_shades_of_grey_removes_a_colour_cast():
    from knowledge.images import shades_of_grey

    rng = np.random.default_rng(0)
    scene = rng.uniform(0.2, 0.8, (64, 64, 3))
    cast = scene * np.array([1.0, 0.8, 0.55])  # a yellow light
    balanced = shades_of_grey(cast)
    means = balanced.reshape(-1, 3).mean(0)
    assert means.max() / means.min() < 1.05 < (cast.reshape(-1, 3).mean(0).max() / cast.reshape(-1, 3).mean(0).min())

"""Training the segmenter: a few steps on a small real subset learn, checkpoint, resume and ship an artifact."""

from __future__ import annotations

import pytest

from knowledge.artifacts import read_manifest
from models.features import analyse_lesion, load_segmenter
from training.segmenter.config import SegmenterTrainConfig
from training.segmenter.train import segmentation_loss, segmenter_staleness, train_segmenter

TINY = SegmenterTrainConfig(epochs=3, batch_size=16, train_limit=96, val_limit=32)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, dataset, split):
    root = tmp_path_factory.mktemp("segmenter")
    result = train_segmenter(TINY, artifact_dir=root / "artifact", runs_dir=root / "runs", dataset=dataset,
                             assignment=split, progress=False, threads=1, log=lambda _: None)
    return root, result


def test_a_few_steps_on_real_images_lower_the_loss(tiny_run):
    _, result = tiny_run
    losses = [h["loss"] for h in result.history]
    assert len(losses) == TINY.epochs
    assert losses[-1] < losses[0] * 0.9
    assert result.metrics["train_images"] == 96 and result.metrics["val_images"] == 32


def test_the_artifact_has_small_fp16_weights_a_manifest_and_loads(tiny_run, dataset):
    root, result = tiny_run
    folder = root / "artifact"
    manifest = read_manifest(folder)
    assert manifest.config == TINY.to_dict() and manifest.data_fingerprint == dataset.fingerprint()
    assert manifest.metrics["threshold"] in TINY.thresholds
    assert (folder / "weights.safetensors").stat().st_size < 2_000_000  # ~0.5 M parameters in fp16
    segmenter = load_segmenter(folder)
    assert segmenter.threshold == manifest.metrics["threshold"]
    image = dataset.records[0].image_path
    assert analyse_lesion(image, segmenter).mask.shape == (150, 200)


def test_rerunning_the_same_recipe_resumes_instead_of_retraining(tiny_run, dataset, split):
    root, first = tiny_run
    messages: list[str] = []
    again = train_segmenter(TINY, artifact_dir=root / "again", runs_dir=root / "runs", dataset=dataset,
                            assignment=split, progress=False, threads=1, log=messages.append, write_artifact=False)
    assert any("resuming" in m for m in messages)
    assert not any(m.startswith("epoch ") for m in messages)  # nothing left to train
    assert again.history == first.history


def test_the_loss_rewards_overlap():
    import torch

    target = torch.zeros(2, 1, 8, 8)
    target[:, :, 2:6, 2:6] = 1
    good = segmentation_loss(target * 20 - 10, target)
    bad = segmentation_loss(-(target * 20 - 10), target)
    assert good < 0.05 < 1.5 < bad


def test_the_shipped_segmenter_matches_the_default_recipe_and_data():
    assert segmenter_staleness() == []

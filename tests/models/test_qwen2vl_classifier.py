"""The qwen2vl backend: scored class probabilities, generation, calibration, and clear load errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.classifiers import get_classifier
from models.classifiers.qwen2vl import CALIBRATION_FILE, calibrate
from knowledge.schema import Classifier, Prediction
from knowledge.taxonomy import CODES
from models.qwen2vl.loading import ModelMismatchError


def make_adapter(base, folder, seed: int = 1):
    """A LoRA adapter as training leaves it (B no longer zero), written with PEFT."""
    from training.qwen2vl.train import TrainConfig, load_for_training

    model, _ = load_for_training(TrainConfig(base=str(base), adapter_out=folder), torch.float32)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def adapter(tiny_qwen2vl, tmp_path_factory):
    return make_adapter(tiny_qwen2vl, tmp_path_factory.mktemp("adapter"))


@pytest.fixture(scope="module")
def classifier(tiny_qwen2vl, adapter):
    return get_classifier("qwen2vl", base=str(tiny_qwen2vl), adapter=adapter, device="cpu")


def test_class_scores_form_a_calibrated_distribution_over_the_seven_classes(classifier, val_images):
    images, _ = val_images
    assert isinstance(classifier, Classifier) and classifier.name == "qwen2vl"
    predictions = classifier.classify_batch(images)
    assert len(predictions) == len(images)
    for p in predictions:
        assert isinstance(p, Prediction) and p.backend == "qwen2vl"
        assert list(p.probs) == list(CODES) and abs(sum(p.probs.values()) - 1) < 1e-6
        assert p.label == max(p.probs, key=p.probs.get)
    # scored in one batched forward per chunk, the same as one image at a time
    single = classifier.classify(images[2])
    assert np.allclose(list(single.probs.values()), list(predictions[2].probs.values()), atol=1e-5)


def test_scores_are_answer_likelihoods_and_mean_scoring_divides_by_length(classifier, val_images):
    images, _ = val_images
    total = classifier.class_scores(images[:1], scoring="sum")[0]
    mean = classifier.class_scores(images[:1], scoring="mean")[0]
    assert (total < 0).all() and (mean < 0).all()
    lengths = total / mean
    assert (lengths >= 5).all() and len(set(np.round(lengths).astype(int))) > 1  # class sentences differ in length


def test_generate_returns_text(classifier, val_images):
    text = classifier.generate(val_images[0][0], "Describe the colours of this lesion.", max_new_tokens=4)
    assert isinstance(text, str)


def test_calibration_fits_a_temperature_on_val_and_the_backend_uses_it(tiny_qwen2vl, adapter):
    record = calibrate(base=str(tiny_qwen2vl), adapter=adapter, limit=14, device="cpu")
    saved = json.loads((adapter / CALIBRATION_FILE).read_text())
    assert saved["split"] == "val" and saved["images"] == 14 and saved["temperature"] == record["temperature"] > 0
    assert saved["nll_after"] <= saved["nll_before"] + 1e-9
    reloaded = get_classifier("qwen2vl", base=str(tiny_qwen2vl), adapter=adapter, device="cpu")
    assert reloaded.calibration.temperature == pytest.approx(saved["temperature"])
    # The triage cut-offs are chosen on the same val images and travel with the backend (agents.risk reads them).
    assert saved["triage"]["val_mel_sensitivity"] >= saved["triage"]["target_sensitivity"]
    assert reloaded.triage == saved["triage"]
    img = np.full((150, 200, 3), 128, dtype=np.uint8)
    assert reloaded.classify(img).temperature == pytest.approx(saved["temperature"])


def test_an_adapter_for_another_base_is_a_clear_error(adapter, tmp_path):
    from training.qwen2vl.tiny import TinySpec, build_tiny_qwen2vl

    other = build_tiny_qwen2vl(tmp_path / "wider", TinySpec(hidden_size=96, intermediate_size=192, num_attention_heads=6,
                                                           num_key_value_heads=2))
    with pytest.raises(ModelMismatchError, match=r"was trained on .* and does not fit base .*wider.*LoRA targets differ"):
        get_classifier("qwen2vl", base=str(other), adapter=adapter, device="cpu")


def test_an_adapter_recorded_against_another_base_name_is_refused_unless_allowed(tiny_qwen2vl, adapter, tmp_path):
    import shutil

    renamed = shutil.copytree(tiny_qwen2vl, tmp_path / "Qwen2-VL-2B")  # same shapes, another model as far as we know
    with pytest.raises(ModelMismatchError, match=r"was trained on .*qwen2vl-tiny, not on .*Qwen2-VL-2B"):
        get_classifier("qwen2vl", base=str(renamed), adapter=adapter, device="cpu")
    assert get_classifier("qwen2vl", base=str(renamed), adapter=adapter, device="cpu", strict_base=False).name == "qwen2vl"


def test_bad_inputs_fail_with_a_message(tiny_qwen2vl, tmp_path):
    with pytest.raises(ValueError, match="needs base="):
        get_classifier("qwen2vl")
    with pytest.raises(FileNotFoundError, match="not a PEFT adapter folder"):
        get_classifier("qwen2vl", base=str(tiny_qwen2vl), adapter=tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelMismatchError, match="needs a Qwen2-VL"):
        get_classifier("qwen2vl", base=str(tmp_path))
    with pytest.raises(ValueError, match="either merged weights or an adapter"):
        get_classifier("qwen2vl", merged=str(tiny_qwen2vl), adapter=tmp_path)

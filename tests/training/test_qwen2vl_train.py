"""Native LoRA training: answer-only loss, the loss goes down, adapters reload exactly, runs resume."""

from __future__ import annotations

import json

import pytest
import torch

from knowledge.prompts import class_answer, question
from models.qwen2vl.sequences import IGNORE_INDEX, Example, build_batch
from training.qwen2vl.train import TrainConfig, latest_checkpoint, train_qwen2vl


def test_labels_cover_the_answer_and_end_token_only(tiny_qwen2vl, val_images):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_qwen2vl)
    images, codes = val_images
    answer = class_answer(codes[0])
    batch = build_batch(processor, [Example(images[0], question("identify"), answer),
                                    Example(images[1], question("advise"), "Short.")])
    ids, labels = batch["input_ids"], batch["labels"]
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert (ids == image_pad).sum().item() == 2 * 35  # two 200x150 images, 35 tokens each
    labelled = labels[0][labels[0] != IGNORE_INDEX]
    assert processor.tokenizer.decode(labelled) == answer + "<|im_end|>\n"
    assert (labels[ids == image_pad] == IGNORE_INDEX).all()
    assert (labels[batch["attention_mask"] == 0] == IGNORE_INDEX).all()  # padding of the shorter row
    with pytest.raises(ValueError, match="exceeds max_length"):
        build_batch(processor, [Example(images[0], question("identify"), answer)], max_length=40)


@pytest.fixture(scope="module")
def trained(tiny_qwen2vl, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapter")
    config = TrainConfig(base=str(tiny_qwen2vl), adapter_out=out, limit=4, tasks=("identify",), max_steps=5,
                         per_device_batch=4, learning_rate=5e-3, warmup_ratio=0.0, save_every=2, log_every=1)
    return config, train_qwen2vl(config)


@pytest.mark.slow
def test_a_few_steps_on_one_real_batch_lower_the_loss(trained):
    config, result = trained
    assert result.steps == 5 and result.samples == 4
    assert result.losses[-1] < result.losses[0] - 0.05, result.losses
    log = [json.loads(line) for line in (config.adapter_out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5]
    manifest = json.loads((config.adapter_out / "manifest.json").read_text())
    assert manifest["kind"] == "qwen2vl-lora" and manifest["metrics"]["steps"] == 5


@pytest.mark.slow
def test_only_language_model_lora_weights_are_saved(trained):
    from safetensors import safe_open

    config, _ = trained
    with safe_open(str(config.adapter_out / "adapter_model.safetensors"), framework="pt") as fh:
        keys = list(fh.keys())
    assert keys and all("lora_" in k and "language_model" in k for k in keys)
    assert not any("visual" in k for k in keys)


def test_an_adapter_saves_and_reloads_to_identical_logits(tiny_qwen2vl, val_images, tmp_path):
    from models.qwen2vl.loading import load_qwen2vl
    from training.qwen2vl.train import load_for_training

    model, processor = load_for_training(TrainConfig(base=str(tiny_qwen2vl), adapter_out=tmp_path), torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():  # as after training: LoRA B is no longer zero
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    batch = build_batch(processor, [Example(val_images[0][0], question("identify"), class_answer("mel"))])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    model.eval()
    with torch.no_grad():
        before = model(**inputs).logits
    model.save_pretrained(tmp_path / "adapter")
    reloaded = load_qwen2vl(tiny_qwen2vl, adapter=tmp_path / "adapter", device="cpu")
    with torch.no_grad():
        after = reloaded.model(**inputs).logits
        plain = load_qwen2vl(tiny_qwen2vl, device="cpu").model(**inputs).logits
    assert torch.equal(before, after)
    assert not torch.allclose(before, plain, atol=1e-3)  # and the adapter does change the model


@pytest.mark.slow
def test_a_rerun_resumes_from_the_last_checkpoint(trained):
    config, first = trained
    assert latest_checkpoint(config.adapter_out).name == "step-5"
    config.max_steps = 6
    again = train_qwen2vl(config)
    assert again.resumed_from == 5 and again.steps == 6 and len(again.losses) == 1

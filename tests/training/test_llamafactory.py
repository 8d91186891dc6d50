"""LLaMA-Factory smoke (`make test-llamafactory`): one real llamafactory-cli training step on our
export with the tiny local Qwen2-VL, then our backend loads the adapter it wrote and scores images.

Needs ``.venv-llamafactory`` (scripts/llamafactory_venv.sh); skipped where that venv is not built.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from knowledge.settings import REPO_ROOT

LF_CLI = REPO_ROOT / ".venv-llamafactory" / "bin" / "llamafactory-cli"

pytestmark = [
    pytest.mark.llamafactory,
    pytest.mark.slow,
    pytest.mark.skipif(not LF_CLI.exists(), reason="LLaMA-Factory venv not built (make test-llamafactory)"),
]


def test_llamafactory_trains_on_the_export_and_our_backend_scores_its_adapter(tiny_qwen2vl, val_images, tmp_path):
    from safetensors.torch import load_file

    from models.classifiers import get_classifier
    from training.qwen2vl.export import YAML_NAME, export_llamafactory

    data, out = tmp_path / "data", tmp_path / "lora"
    summary = export_llamafactory(data, limit=7)
    assert summary.problems == []
    overrides = [
        f"model_name_or_path={tiny_qwen2vl}", f"output_dir={out}", "max_steps=1", "bf16=false",
        "per_device_train_batch_size=2", "eval_dataset=null", "eval_strategy='no'", "preprocessing_num_workers=1",
        "dataloader_num_workers=0", "plot_loss=false", "save_steps=1", "report_to=none", "warmup_ratio=0",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    run = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "train.sh"), str(data / YAML_NAME), *overrides],
                         capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert log[-1]["current_steps"] == 1
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert any("lora_B" in k and v.abs().max() > 0 for k, v in weights.items())  # one step moved LoRA B off zero
    assert not any("visual" in k for k in weights)  # vision tower and merger frozen

    images, _ = val_images
    tuned = get_classifier("qwen2vl", base=str(tiny_qwen2vl), adapter=out, device="cpu")
    plain = get_classifier("qwen2vl", base=str(tiny_qwen2vl), device="cpu")
    predictions = tuned.classify_batch(images)
    assert all(abs(sum(p.probs.values()) - 1) < 1e-6 and p.backend == "qwen2vl" for p in predictions)
    assert not np.allclose(tuned.class_scores(images), plain.class_scores(images))

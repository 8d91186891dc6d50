"""Benchmark `qwen2vl_tiny`: the Qwen2-VL code paths on the tiny local model (CPU).

What it measures is the pipeline's own overhead (processor, batching, 7-way answer scoring, a
LoRA training step, generation) with a model so small that the numbers bound what the code adds;
real 2B/7B figures come from a GPU run (docs/qwen2vl.md).
"""

from __future__ import annotations

import time
from pathlib import Path

from evals.bench import benchmark, timings


@benchmark("qwen2vl_tiny")
def qwen2vl_tiny(out_dir: Path, quick: bool) -> dict:
    import torch

    from models.classifiers import get_classifier
    from knowledge.ham10000 import load_dataset
    from knowledge.images import open_image
    from knowledge.prompts import question
    from knowledge.splits import load_split, records_in
    from models.qwen2vl.records import class_interleaved
    from models.qwen2vl.sequences import Example, answer_token_logprobs, build_batch
    from training.qwen2vl.tiny import tiny_model_dir
    from training.qwen2vl.train import TrainConfig, load_for_training

    base = tiny_model_dir()
    dataset = load_dataset()
    records = class_interleaved(records_in(dataset, load_split(dataset=dataset), "val"), 8)
    images = [open_image(r.image_path) for r in records]
    t0 = time.perf_counter()
    classifier = get_classifier("qwen2vl", base=str(base), device="cpu")
    load_s = time.perf_counter() - t0
    repeat = 3 if quick else 7
    batch8 = timings(lambda: classifier.classify_batch(images), repeat=repeat)
    single = timings(lambda: classifier.classify(images[0]), repeat=repeat)
    generate = timings(lambda: classifier.generate(images[0], question("describe"), max_new_tokens=16), repeat=repeat)

    model, processor = load_for_training(TrainConfig(base=str(base), adapter_out=out_dir / "qwen2vl-bench"), torch.float32)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
    batch = build_batch(processor, [Example(img, question("identify"), "Lesion type: Melanoma (mel).") for img in images[:4]])
    model.train()

    def train_step() -> None:
        logprobs, mask = answer_token_logprobs(model, batch)
        (-logprobs.sum() / mask.sum()).backward()
        optimizer.step()
        optimizer.zero_grad()

    step = timings(train_step, repeat=repeat)
    per_image = batch8["p50_ms"] / len(images)
    return {
        "load_s": round(load_s, 2),
        "classify_batch_8_ms": batch8,
        "classify_ms_per_image_batched_p50": round(per_image, 1),
        "classify_single_ms": single,
        "batching_speedup": round(single["p50_ms"] / per_image, 2),
        "generate_16_tokens_ms": generate,
        "train_step_batch_4_ms": step,
        "summary": (f"tiny model, CPU: classify {per_image:.0f} ms/image batched vs {single['p50_ms']:.0f} ms single "
                    f"(7 answers scored each); LoRA step (batch 4) {step['p50_ms']:.0f} ms; "
                    f"generate 16 tokens {generate['p50_ms']:.0f} ms (p50)"),
    }

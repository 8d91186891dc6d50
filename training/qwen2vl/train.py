"""`dermagraph train qwen2vl`: LoRA fine-tuning of Qwen2-VL on HAM10000 with transformers + PEFT.

Read top to bottom: load the base, wrap the language model's attention and MLP projections in
LoRA (vision tower frozen; the 2x2 patch merger optionally trainable), build the same turns the
LLaMA-Factory export writes, and run an accelerate loop whose loss covers answer tokens only (the
prompt and the image are labelled -100). One process per GPU through ``accelerate launch`` or
``torchrun`` (accelerate reads the environment they set); bf16 on GPUs; gradient checkpointing;
a checkpoint (adapter + optimizer + scheduler + position in the epoch) every ``save_every`` steps,
from which a rerun with the same ``--adapter-out`` resumes.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from knowledge.artifacts import Manifest, atomic_replace_dir, atomic_write_text, split_fingerprint, staging_dir, write_manifest
from knowledge.images import open_image
from models.qwen2vl.budget import CUTOFF_LEN, IMAGE_MAX_PIXELS
from models.qwen2vl.sequences import Example, answer_token_logprobs, build_batch
from training.common import read_checkpoint, write_checkpoint
from training.qwen2vl.samples import Sample

LANGUAGE_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.pt"
LOG_FILE = "train_log.jsonl"


@dataclass
class TrainConfig:
    base: str
    adapter_out: Path
    split_file: Path | None = None
    data_dir: Path | None = None
    tasks: tuple[str, ...] | None = None  # default: every task whose source is available
    limit: int | None = None  # about N training images (every class represented), for smoke runs
    epochs: float = 3.0
    max_steps: int | None = None
    per_device_batch: int = 4
    grad_accum: int = 1
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    train_merger: bool = False
    gradient_checkpointing: bool = True
    save_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    resume: bool = True
    image_max_pixels: int = IMAGE_MAX_PIXELS
    max_length: int = CUTOFF_LEN
    num_workers: int = 0

    def manifest_config(self) -> dict[str, Any]:
        skip = {"adapter_out", "split_file", "data_dir", "resume", "num_workers", "save_every", "keep_checkpoints", "log_every"}
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if k not in skip}


@dataclass
class TrainResult:
    adapter_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0
    samples: int = 0
    main_process: bool = True  # False on the other ranks of a multi-process run


def lora_target_pattern(train_merger: bool) -> str:
    """PEFT regex: the language model's projections (and the patch merger's MLP if asked)."""
    language = rf".*language_model.*\.({'|'.join(LANGUAGE_TARGETS)})"
    return rf"({language})|(.*visual\.merger\.mlp\.\d+)" if train_merger else language


def load_for_training(config: TrainConfig, dtype: Any) -> tuple[Any, Any]:
    """Base model wrapped with fresh LoRA adapters, and the processor."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    from models.qwen2vl.loading import read_model_config

    read_model_config(config.base)
    model = Qwen2VLForConditionalGeneration.from_pretrained(config.base, dtype=dtype)
    model.config.use_cache = False
    if config.gradient_checkpointing:  # non-reentrant: works with frozen embeddings and LoRA
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=lora_target_pattern(config.train_merger),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)  # freezes everything but the LoRA matrices (vision tower included)
    processor = AutoProcessor.from_pretrained(config.base)
    processor.tokenizer.padding_side = "right"
    return model, processor


def training_samples(config: TrainConfig) -> tuple[list[Sample], dict[str, str], Any]:
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in
    from models.qwen2vl.records import class_interleaved
    from training.qwen2vl.samples import available_tasks, build_samples, sources_for

    tasks = tuple(config.tasks) if config.tasks else available_tasks()
    corpus, features = sources_for(tasks)
    dataset = load_dataset(config.data_dir)
    assignment = load_split(config.split_file, dataset)
    records = class_interleaved(records_in(dataset, assignment, "train"), config.limit)
    return build_samples(records, "train", tasks, corpus, features), assignment, dataset


class _Collate:
    """Samples -> model batch (images decoded here, so dataloader workers do the JPEG work)."""

    def __init__(self, processor: Any, config: TrainConfig):
        self.processor, self.config = processor, config

    def __call__(self, samples: Sequence[Sample]) -> dict[str, Any]:
        examples = [Example(open_image(s.image_path), s.turn.question, s.turn.answer) for s in samples]
        return build_batch(self.processor, examples, end_turn=True, max_pixels=self.config.image_max_pixels,
                           max_length=self.config.max_length)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """A fixed shuffle per (seed, epoch): a resumed run sees the same order it would have seen."""
    import numpy as np

    return np.random.default_rng([seed, epoch]).permutation(n).tolist()


def latest_checkpoint(adapter_out: Path) -> Path | None:
    folder = Path(adapter_out) / CHECKPOINTS
    done = [p for p in folder.glob("step-*") if (p / STATE_FILE).is_file()] if folder.is_dir() else []
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def save_checkpoint(accelerator: Any, model: Any, optimizer: Any, scheduler: Any, config: TrainConfig,
                    step: int, epoch: int, batch_in_epoch: int) -> None:
    if not accelerator.is_main_process:
        return
    folder = Path(config.adapter_out) / CHECKPOINTS
    final = folder / f"step-{step}"
    tmp = staging_dir(final)
    accelerator.unwrap_model(model).save_pretrained(tmp)
    write_checkpoint(tmp / STATE_FILE, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                        "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch})
    atomic_replace_dir(tmp, final)  # a crash mid-save leaves the previous checkpoint as the latest
    for old in sorted(folder.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[: -config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(checkpoint: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    state = read_checkpoint(checkpoint / STATE_FILE, map_location="cpu")
    if state is None:
        raise FileNotFoundError(f"{checkpoint / STATE_FILE}: no trainer state in this checkpoint")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state


def train_qwen2vl(config: TrainConfig, progress: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Fine-tune and write the adapter (PEFT format, loadable by the qwen2vl backend) to ``adapter_out``."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader, Subset
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    started = time.perf_counter()
    adapter_out = Path(config.adapter_out)
    on_gpu = torch.cuda.is_available()
    bf16 = on_gpu and torch.cuda.is_bf16_supported()
    # cpu=True on a machine without CUDA lets torchrun/accelerate run several CPU processes (gloo).
    accelerator = Accelerator(gradient_accumulation_steps=config.grad_accum, mixed_precision="bf16" if bf16 else "no",
                              cpu=not on_gpu)
    set_seed(config.seed)
    samples, assignment, dataset = training_samples(config)
    if not samples:
        raise ValueError("no training samples: the train split is empty")
    model, processor = load_for_training(config, torch.bfloat16 if bf16 else torch.float32)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    batches_per_epoch = math.ceil(len(samples) / (config.per_device_batch * accelerator.num_processes))
    updates_per_epoch = max(1, batches_per_epoch // config.grad_accum)
    total_steps = config.max_steps or max(1, math.ceil(updates_per_epoch * config.epochs))
    # accelerate steps a prepared scheduler once per process per optimizer step: scale its horizon to match
    n = accelerator.num_processes
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps) * n, total_steps * n)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    step, epoch, skip = 0, 0, 0
    checkpoint = latest_checkpoint(adapter_out) if config.resume else None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, accelerator.unwrap_model(model), optimizer, scheduler)
        step, epoch, skip = state["step"], state["epoch"], state["batch_in_epoch"]
    resumed_from = step
    collate = _Collate(processor, config)
    log_path = adapter_out / LOG_FILE
    adapter_out.mkdir(parents=True, exist_ok=True)
    losses: list[float] = []
    bar = tqdm(total=total_steps, initial=step, desc="qwen2vl lora", disable=not accelerator.is_main_process)
    model.train()
    while step < total_steps:
        order = Subset(samples, epoch_order(len(samples), config.seed, epoch))
        loader = accelerator.prepare(DataLoader(order, batch_size=config.per_device_batch, shuffle=False,
                                                collate_fn=collate, num_workers=config.num_workers))
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        for batch_index, batch in enumerate(batches, start=skip):
            with accelerator.accumulate(model):
                logprobs, mask = answer_token_logprobs(model, batch)
                loss = -logprobs.sum() / mask.sum().clamp(min=1)
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            step += 1
            value = accelerator.gather(loss.detach()).mean().item()
            losses.append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}")
            if accelerator.is_main_process and (step % config.log_every == 0 or step == total_steps or step == 1):
                entry = {"step": step, "epoch": epoch, "loss": value, "lr": scheduler.get_last_lr()[0],
                         "seconds": round(time.perf_counter() - started, 1)}
                with log_path.open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")
                if progress:
                    progress(entry)
            if step % config.save_every == 0 or step == total_steps:  # the last one lets --max-steps grow later
                save_checkpoint(accelerator, model, optimizer, scheduler, config, step, epoch, batch_index + 1)
            if step >= total_steps:
                break
        else:
            epoch, skip = epoch + 1, 0
            continue
        break
    bar.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(adapter_out)
        manifest = Manifest(
            name=adapter_out.name,
            kind="qwen2vl-lora",
            data_fingerprint=dataset.fingerprint(),
            split_fingerprint=split_fingerprint(assignment),
            config=config.manifest_config(),
            metrics={"steps": step, "samples": len(samples), "first_loss": losses[0] if losses else None,
                     "last_loss": losses[-1] if losses else None, "seconds": round(time.perf_counter() - started, 1),
                     "processes": accelerator.num_processes, "bf16": bf16},
        )
        write_manifest(adapter_out, manifest, hash_files=False)
        atomic_write_text(adapter_out / "README.md", _adapter_readme(config))
    return TrainResult(adapter_out, step, losses, time.perf_counter() - started, resumed_from, len(samples),
                       accelerator.is_main_process)


def _adapter_readme(config: TrainConfig) -> str:
    return (
        f"# Qwen2-VL LoRA adapter (dermagraph)\n\nBase: `{config.base}`. Trained with `dermagraph train qwen2vl` on the "
        "HAM10000 train split (see manifest.json). Calibrate with `dermagraph calibrate qwen2vl --base ... --adapter ...`, "
        "then serve with `dermagraph serve --classifier qwen2vl --base ... --adapter <this folder>`.\n"
        "Research and teaching only; not a diagnostic device.\n"
    )

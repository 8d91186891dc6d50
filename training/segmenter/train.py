"""`dermagraph train segmenter`: the whole recipe, top to bottom.

1. Data: the train split (learning) and the val split (model selection and the probability
   threshold); the test split is never touched here. Images and masks at the model's input size.
2. Train a small U-Net with BCE + soft Dice, AdamW and a one-cycle schedule; flips and colour
   jitter as augmentation. A checkpoint is written every epoch under
   ``var/segmenter/runs/<config hash>/``: rerunning the same config resumes where it stopped.
3. Keep the epoch with the best val Dice; pick the probability threshold on val.
4. Write ``artifacts/segmenter`` (fp16 safetensors + manifest with config, data fingerprints,
   val metrics and wall time) atomically.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from knowledge.artifacts import (
    Manifest,
    atomic_replace_dir,
    config_hash,
    split_fingerprint,
    staleness,
    staging_dir,
    write_manifest,
)
from knowledge.ham10000 import HamDataset, load_dataset
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from models.features.masks import EVAL_SIZE, dice_jaccard
from models.features.model import create_segmenter, to_input
from models.features.segmenter import default_artifact_dir, save_weights
from training.common import read_checkpoint, write_checkpoint
from training.segmenter.config import SegmenterTrainConfig
from training.segmenter.data import MaskSet, load_mask_set, subset

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class SegmenterTrainResult:
    artifact_dir: Path | None
    metrics: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def choose_threads() -> int:
    """Threads for torch: all cores on an idle machine, one when others keep the cores busy.

    Several processes each running a spinning OpenMP pool on two shared cores are several times
    slower than one thread each (measured here: 360 vs 57 ms per training image).
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy (pixels) + soft Dice (per image): the first learns fast, the second fits the overlap."""
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    dice = (2 * inter + 1) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + (1 - dice).mean()


def augment(x: torch.Tensor, y: torch.Tensor, cfg: SegmenterTrainConfig, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image random flips (both axes) and brightness/colour jitter; x is in [-1, 1]."""
    b = x.shape[0]
    for dim in (3, 2):
        flip = torch.rand(b, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(dim), x)
        y = torch.where(flip[:, None, None, None], y.flip(dim), y)
    gain = 1 + cfg.brightness * (2 * torch.rand(b, 1, 1, 1, generator=gen) - 1)
    shift = cfg.colour_shift * (2 * torch.rand(b, 3, 1, 1, generator=gen) - 1)
    return (x * gain + shift).clamp(-1.5, 1.5), y


def _score(net: torch.nn.Module, data: MaskSet, thresholds: tuple[float, ...], flip_average: bool,
           batch: int = 128) -> dict[float, tuple[float, float]]:
    """Mean Dice and Jaccard at EVAL_SIZE for each threshold."""
    assert data.eval_masks is not None
    net.eval()
    scores: dict[float, list[np.ndarray]] = {t: [] for t in thresholds}
    with torch.inference_mode():
        for i in range(0, len(data), batch):
            x = to_input(data.images[i:i + batch])
            logits = net(x)
            if flip_average:
                logits = (logits + net(x.flip(3)).flip(3)) / 2
            prob = torch.sigmoid(F.interpolate(logits, size=EVAL_SIZE[::-1], mode="bilinear", align_corners=False))[:, 0]
            truth = data.eval_masks[i:i + batch]
            for t in thresholds:
                scores[t].append(np.stack(dice_jaccard((prob >= t).numpy(), truth)))
    net.train()
    return {t: tuple(float(v) for v in np.concatenate(s, axis=1).mean(axis=1)) for t, s in scores.items()}  # type: ignore[misc]


def run_dir_for(cfg: SegmenterTrainConfig, data_fp: str, split_fp: str, runs_dir: Path | None = None) -> Path:
    """Checkpoints of one recipe on one dataset and split (``var/segmenter/runs/<hash>`` by default)."""
    key = config_hash({"config": cfg.to_dict(), "data": data_fp, "split": split_fp})
    return (runs_dir or get_settings().var_dir / "segmenter" / "runs") / key


def train_segmenter(
    cfg: SegmenterTrainConfig | None = None,
    artifact_dir: Path | None = None,
    dataset: HamDataset | None = None,
    assignment: dict[str, str] | None = None,
    progress: bool = True,
    threads: int | None = None,
    log: Callable[[str], None] = print,
    write_artifact: bool = True,
    restart: bool = False,
    runs_dir: Path | None = None,
) -> SegmenterTrainResult:
    """Train (or resume) the segmenter and write the artifact; returns val metrics and the loss history."""
    cfg = cfg or SegmenterTrainConfig()
    started = time.perf_counter()
    dataset = dataset or load_dataset()
    assignment = assignment or load_split(dataset=dataset)
    data_fp, split_fp = dataset.fingerprint(), split_fingerprint(assignment)
    threads = threads or choose_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    log(f"segmenter: {cfg.arch.name} {cfg.arch.channels} at {cfg.arch.input_size[0]}x{cfg.arch.input_size[1]}, "
        f"{cfg.epochs} epochs, {threads} thread(s)")

    train = load_mask_set(subset(records_in(dataset, assignment, "train"), cfg.train_limit, cfg.seed),
                          cfg.arch.input_size, progress=progress, desc="train images")
    val = load_mask_set(subset(records_in(dataset, assignment, "val"), cfg.val_limit, cfg.seed),
                        cfg.arch.input_size, with_eval_masks=True, progress=progress, desc="val images")

    net = create_segmenter(cfg.arch).to(memory_format=torch.channels_last)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=cfg.warmup_fraction
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    run_dir = run_dir_for(cfg, data_fp, split_fp, runs_dir)
    checkpoint = run_dir / CHECKPOINT_NAME
    if restart:
        checkpoint.unlink(missing_ok=True)
    history: list[dict] = []
    best: dict = {"dice": -1.0, "state": None, "epoch": -1}
    start_epoch, spent = 0, 0.0
    state = read_checkpoint(checkpoint)
    if state is not None:
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        gen.set_state(state["generator"])
        history, best, spent = state["history"], state["best"], state["seconds"]
        start_epoch = state["epoch"] + 1
        log(f"resuming from {checkpoint} after epoch {start_epoch}")

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(train), generator=gen)
        losses = []
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for step in bar:
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x, y = augment(to_input(train.images[idx]), train.targets[idx].float(), cfg, gen)
            loss = segmentation_loss(net(x.contiguous(memory_format=torch.channels_last)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        dice, jaccard = _score(net, val, (0.5,), cfg.flip_average)[0.5]
        spent += time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_dice": dice, "val_jaccard": jaccard,
                        "seconds": round(spent, 1)})
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {np.mean(losses):.4f}, val Dice {dice:.4f}, "
            f"Jaccard {jaccard:.4f} ({spent / 60:.1f} min so far)")
        if dice > best["dice"]:
            best = {"dice": dice, "epoch": epoch + 1,
                    "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
        write_checkpoint(checkpoint, {
            "net": net.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "generator": gen.get_state(), "history": history, "best": best, "epoch": epoch, "seconds": spent,
        })

    if best["state"] is not None:
        net.load_state_dict(best["state"])
    by_threshold = _score(net, val, cfg.thresholds, cfg.flip_average)
    threshold = max(by_threshold, key=lambda t: (by_threshold[t][0], -abs(t - 0.5)))
    dice, jaccard = by_threshold[threshold]
    metrics = {
        "threshold": threshold,
        "val_dice": round(dice, 4),
        "val_jaccard": round(jaccard, 4),
        "val_dice_at_0.5": round(by_threshold[0.5][0], 4) if 0.5 in by_threshold else None,
        "best_epoch": best["epoch"],
        "train_images": len(train),
        "val_images": len(val),
        "train_minutes": round(spent / 60, 2),
        "threads": threads,
        "parameters": sum(p.numel() for p in net.parameters()),
        "eval_size": list(EVAL_SIZE),
    }
    log(f"val: Dice {dice:.4f}, Jaccard {jaccard:.4f} at threshold {threshold} (best epoch {best['epoch']}); "
        f"training took {spent / 60:.1f} min")
    folder = None
    if write_artifact:
        folder = export_segmenter(net, cfg, metrics, artifact_dir or default_artifact_dir(), data_fp, split_fp,
                                  history)
        log(f"wrote {folder}")
    return SegmenterTrainResult(folder, metrics, history, time.perf_counter() - started)


def export_segmenter(net: torch.nn.Module, cfg: SegmenterTrainConfig, metrics: dict, folder: Path,
                     data_fp: str, split_fp: str, history: list[dict]) -> Path:
    """Write weights + manifest into a fresh folder, then swap it in: readers see the old or the new artifact."""
    folder = Path(folder)
    staging = staging_dir(folder)
    save_weights(net, staging)
    manifest = Manifest(
        name="segmenter", kind="lesion-segmentation", data_fingerprint=data_fp, split_fingerprint=split_fp,
        config=cfg.to_dict(), metrics={**metrics, "history": history},
        notes="Small U-Net on HAM10000 lesion masks (Tschandl et al. 2020), train split; threshold and epoch chosen on val.",
    )
    write_manifest(staging, manifest)
    return atomic_replace_dir(staging, folder)


def segmenter_staleness(artifact_dir: Path | None = None) -> list[str]:
    """Why the shipped segmenter does not match what the default recipe would build now (empty: current)."""
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    return staleness(artifact_dir or default_artifact_dir(), SegmenterTrainConfig().to_dict(),
                     dataset.fingerprint(), split_fingerprint(assignment))


def train_default_segmenter() -> SegmenterTrainResult:
    return train_segmenter(SegmenterTrainConfig())

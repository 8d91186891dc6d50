"""The v3 image side: the whole tower fine-tuned on freshly augmented images every epoch.

Where the fast recipe (``train.py``) caches a frozen trunk once and trains only the last blocks on
those activations, this one decodes and augments every image anew each epoch
(``augment.dermoscopy_augment``: geometry, lighting, hair, the round frame, blur, noise), runs the
whole EfficientNet (stem included, BatchNorm in training mode) and keeps an exponential moving
average of the weights, which is what gets evaluated and shipped.

Resumable at any point: a checkpoint (weights, EMA, optimiser, epoch and position in the epoch)
is written every ``checkpoint_minutes`` and at the end of every epoch under
``var/encoder/runs/<config hash>/``; the epoch's order and each image's augmentation are seeded by
(seed, epoch, image), so a resumed run sees the same batches it would have seen.
"""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from knowledge.cases import Case
from knowledge.images import open_image
from knowledge.metrics import log_class_prior
from knowledge.taxonomy import CODES
from models.encoder.lesion_view import Box, jittered_lesion_view, lesion_view
from models.encoder.model import DermEncoder
from models.encoder.preprocess import to_tensor
from models.encoder.towers import TowerSpec
from training.encoder.augment import dermoscopy_augment
from training.encoder.calibrate import val_metrics
from training.common import set_lr, warmup_cosine, write_checkpoint
from training.encoder.losses import image_side_loss


class AugmentedImages(Dataset):
    """Items ``order[i]`` of ``records``, each augmented with an RNG seeded by (seed, epoch, image id).

    With ``boxes`` (image id -> lesion box) and a ``margin``, each image is first cropped around its
    lesion with a jittered margin (the lesion-centred view).
    """

    def __init__(self, records: Sequence[Case], order: Sequence[int], spec: TowerSpec, epoch: int, seed: int,
                 strength: float, boxes: dict[str, Box] | None = None, margin: float | None = None,
                 photometric: float = 0.0) -> None:
        self.records, self.order, self.spec = records, list(order), spec
        self.epoch, self.seed, self.strength, self.photometric = epoch, seed, strength, photometric
        self.boxes, self.margin = boxes, margin

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        record = self.records[self.order[i]]
        rng = random.Random(f"{self.seed}:{self.epoch}:{record.image_id}")
        img = open_image(record.image_path)
        if self.margin is not None and self.boxes is not None:
            img = jittered_lesion_view(img, self.boxes[record.image_id], self.margin, rng)
        img = dermoscopy_augment(img, rng, self.strength, self.photometric)
        return to_tensor(img, self.spec), CODES.index(record.dx)


class PlainImages(Dataset):
    def __init__(self, records: Sequence[Case], spec: TowerSpec, boxes: dict[str, Box] | None = None,
                 margin: float | None = None, prepare: Callable[[Image.Image], Image.Image] | None = None) -> None:
        self.records, self.spec, self.boxes, self.margin, self.prepare = records, spec, boxes, margin, prepare

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = open_image(self.records[i].image_path)
        if self.prepare is not None:
            img = self.prepare(img)
        if self.margin is not None and self.boxes is not None:
            img = lesion_view(img, self.boxes[self.records[i].image_id], self.margin)
        return to_tensor(img, self.spec)


@torch.inference_mode()
def predict_records(model: DermEncoder, records: Sequence[Case], device: str = "cpu", batch_size: int = 64,
                    progress: bool = False, desc: str = "embedding",
                    boxes: dict[str, Box] | None = None, prepare: Callable[[Image.Image], Image.Image] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(L2-normalised embeddings, logits) of the un-augmented images, with the inference TTA (flip).

    A lesion-view model (``config.lesion_margin``) needs ``boxes`` (image id -> lesion box); ``prepare`` is applied
    to each image first (the classifier's exposure floor).
    """
    model.eval()
    margin = model.config.lesion_margin
    if margin is not None and boxes is None:
        raise ValueError("a lesion-view encoder needs the lesion boxes of the records")
    loader = DataLoader(PlainImages(records, model.tower.spec, boxes, margin, prepare), batch_size=batch_size, num_workers=1)
    embs, logits = [], []
    for x in tqdm(loader, desc=desc, unit="batch", disable=not progress, leave=False):
        x = x.to(device)
        flipped = model.tower(torch.flip(x, dims=[3])) if model.config.tta_flip else None
        e, z = model._tta_heads(model.tower(x), flipped)
        embs.append(e.float().cpu())
        logits.append(z.float().cpu())
    return torch.cat(embs).numpy(), torch.cat(logits).numpy()


def param_groups(model: DermEncoder, head_lr: float, tower_lr: float) -> list[dict]:
    """Heads at ``head_lr``; the tower at ``tower_lr``; the text tower frozen (it trains afterwards)."""
    heads = [p for n, p in model.named_parameters() if n.split(".")[0] in ("neck", "image_proj", "class_head")]
    tower = model.tower.top_parameters()
    for p in model.parameters():
        p.requires_grad = False
    for p in heads + tower:
        p.requires_grad = True
    return [{"params": heads, "lr": head_lr}, {"params": tower, "lr": tower_lr}]


def image_state(model: DermEncoder) -> dict[str, torch.Tensor]:
    """The tensors the image side trains (tower, neck, heads), BatchNorm statistics included."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("text.")}


class WeightEMA:
    """Exponential moving average of the image-side weights and buffers (Polyak averaging)."""

    def __init__(self, model: DermEncoder, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in image_state(model).items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: DermEncoder, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))  # warm start: early weights are not averaged in for long
        for k, v in image_state(model).items():
            if k in self.shadow:
                self.shadow[k].mul_(decay).add_(v.detach().float(), alpha=1 - decay)

    def copy_to(self, model: DermEncoder) -> None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()}, strict=False)


def save_checkpoint(path: Path, model: DermEncoder, ema: WeightEMA, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """``state`` with the live image-side weights, their EMA and the optimiser, written atomically."""
    write_checkpoint(path, dict(state, image=image_state(model), ema=ema.shadow, image_optimizer=optimizer.state_dict()))


def finetune_image_side(model: DermEncoder, cfg, train_records: list[Case], val_records: list[Case],
                        state: dict, ckpt_path: Path, progress: bool, log: Callable[[str], None], device: str = "cpu",
                        boxes: dict[str, Box] | None = None) -> None:
    """Epochs of whole-network fine-tuning; on return the model holds the EMA weights."""
    model.to(device)
    groups = param_groups(model, cfg.lr, cfg.tower_lr)
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    ema = WeightEMA(model, cfg.ema_decay)
    if "image" in state:  # resume
        model.load_state_dict(state["image"], strict=False)
        ema.shadow = {k: v.float() for k, v in state["ema"].items()}
        optimizer.load_state_dict(state["image_optimizer"])
    base_lrs = [g["lr"] for g in groups]
    labels = np.array([CODES.index(r.dx) for r in train_records])
    log_prior = torch.from_numpy(log_class_prior(labels, len(CODES))).float().to(device)
    steps_per_epoch = len(train_records) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    epoch, step_in_epoch = state.get("epoch", 0), state.get("step_in_epoch", 0)
    history: list[dict] = state.setdefault("history", [])
    bar = tqdm(total=total, initial=epoch * steps_per_epoch + step_in_epoch, desc="image side (whole network)",
               unit="step", disable=not progress)
    last_save = time.monotonic()
    while epoch < cfg.epochs:
        order = torch.randperm(len(train_records), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).tolist()
        order = order[: steps_per_epoch * cfg.batch_size][step_in_epoch * cfg.batch_size :]
        data = AugmentedImages(train_records, order, model.tower.spec, epoch, cfg.seed, cfg.aug_strength,
                               boxes, model.config.lesion_margin, cfg.photometric)
        loader = DataLoader(data, batch_size=cfg.batch_size, num_workers=cfg.workers, drop_last=True,
                            persistent_workers=False, prefetch_factor=4 if cfg.workers else None)
        model.train()
        if model.text is not None:
            model.text.eval()
        sums = {"ce": 0.0, "supcon": 0.0, "n": 0}
        for x, y in loader:
            global_step = epoch * steps_per_epoch + step_in_epoch
            set_lr(optimizer, base_lrs, warmup_cosine(global_step, total, cfg.warmup_steps))
            x, y = x.to(device), y.to(device)
            emb, logits = model.heads(model.tower(x))
            loss, ce, sc = image_side_loss(emb, logits, y, log_prior, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(model, global_step)
            step_in_epoch += 1
            sums["ce"] += ce.item()
            sums["supcon"] += sc.item()
            sums["n"] += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, ce=f"{ce.item():.3f}")
            if time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
                save_checkpoint(ckpt_path, model, ema, optimizer, dict(state, epoch=epoch, step_in_epoch=step_in_epoch))
                last_save = time.monotonic()
        # End of epoch: measure the averaged weights on val, keep the live ones for training on.
        live = copy.deepcopy(image_state(model))
        ema.copy_to(model)
        _, val_logits = predict_records(model, val_records, device, boxes=boxes)
        vm = val_metrics(val_logits, np.array([CODES.index(r.dx) for r in val_records]))
        model.load_state_dict(live, strict=False)
        n = max(sums["n"], 1)
        history.append({"phase": "image", "epoch": epoch + 1, "ce": sums["ce"] / n, "supcon": sums["supcon"] / n,
                        "val_balanced_accuracy": vm["balanced_accuracy"], "val_accuracy": vm["accuracy"],
                        "val_auc_macro": vm.get("auc_macro"), "minutes": round(bar.format_dict["elapsed"] / 60, 1)})
        log(f"epoch {epoch + 1}/{cfg.epochs}: val balanced accuracy {vm['balanced_accuracy']:.3f} (EMA, uncalibrated), "
            f"accuracy {vm['accuracy']:.3f}, AUC {vm.get('auc_macro', float('nan')):.3f}")
        epoch, step_in_epoch = epoch + 1, 0
        state.update(epoch=epoch, step_in_epoch=0, history=history)
        save_checkpoint(ckpt_path, model, ema, optimizer, state)
        last_save = time.monotonic()
    bar.close()
    ema.copy_to(model)
    model.eval()
    for key in ("image", "ema", "image_optimizer"):  # the text side keeps its own small checkpoint state
        state.pop(key, None)

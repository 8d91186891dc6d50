"""Training data for the segmenter: images and soft masks at the model's input size, in memory.

At 64x48 the whole train split is about 65 MB of uint8 pixels, so it is decoded once and kept in
RAM; every epoch then costs only the network.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from knowledge.cases import Case
from knowledge.images import open_image
from models.features.masks import EVAL_SIZE, read_mask, soft_mask
from models.features.model import resize_for_model


@dataclass
class MaskSet:
    records: list[Case]
    images: torch.Tensor  # (N, H, W, 3) uint8 at the model's input size
    targets: torch.Tensor  # (N, 1, H, W) float16 soft masks at the model's input size
    eval_masks: np.ndarray | None = None  # (N, 150, 200) bool ground truth at EVAL_SIZE, for scoring

    def __len__(self) -> int:
        return len(self.records)


def subset(records: list[Case], limit: int | None, seed: int) -> list[Case]:
    """A seeded random subset (all records when ``limit`` is None), in dataset order."""
    if limit is None or limit >= len(records):
        return list(records)
    chosen = set(r.image_id for r in random.Random(seed).sample(records, limit))
    return [r for r in records if r.image_id in chosen]


def load_mask_set(records: list[Case], size: tuple[int, int], with_eval_masks: bool = False,
                  progress: bool = True, desc: str = "loading") -> MaskSet:
    missing = [r.image_id for r in records if r.mask_path is None]
    if missing:
        raise ValueError(f"{len(missing)} image(s) have no lesion mask, e.g. {', '.join(missing[:3])}")
    images, targets, full = [], [], []
    for r in tqdm(records, desc=desc, unit="img", disable=not progress, leave=False):
        images.append(resize_for_model(open_image(r.image_path), size))
        targets.append(soft_mask(r.mask_path, size))  # type: ignore[arg-type]
        if with_eval_masks:
            full.append(read_mask(r.mask_path, EVAL_SIZE))  # type: ignore[arg-type]
    return MaskSet(
        records=list(records),
        images=torch.from_numpy(np.stack(images)),
        targets=torch.from_numpy(np.stack(targets))[:, None].half(),
        eval_masks=np.stack(full) if with_eval_masks else None,
    )

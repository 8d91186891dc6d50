"""Ground-truth masks and overlap scores, shared by training (val) and the eval suite (test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Masks are compared at HAM10000's resolution in this repo, whatever the model's input size.
EVAL_SIZE = (200, 150)  # width, height


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A ground-truth mask as (H, W) bool, optionally resized to ``size`` (W, H)."""
    with Image.open(path) as img:
        grey = img.convert("L")
        if size is not None and grey.size != tuple(size):
            grey = grey.resize(size, Image.BILINEAR)
        return np.asarray(grey) >= 128


def soft_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A ground-truth mask area-resized to ``size`` (W, H) as float in [0, 1] (the training target)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L").resize(size, Image.BILINEAR), dtype=np.float32) / 255.0


def dice_jaccard(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image Dice and Jaccard of (N, H, W) or (H, W) boolean masks (both 1 when both are empty)."""
    pred = np.asarray(pred, dtype=bool).reshape(-1, *np.shape(pred)[-2:])
    truth = np.asarray(truth, dtype=bool).reshape(-1, *np.shape(truth)[-2:])
    inter = (pred & truth).sum(axis=(1, 2)).astype(np.float64)
    total = pred.sum(axis=(1, 2)) + truth.sum(axis=(1, 2)).astype(np.float64)
    union = total - inter
    dice = np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)
    jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return dice, jaccard

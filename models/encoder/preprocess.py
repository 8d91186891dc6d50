"""From any RGB image to the tensor a tower expects, identically in training and at inference.

HAM10000 images are 4:3 landscape crops centred on the lesion. Other uploads come in any size and
shape, so: portrait images are turned a quarter (dermoscopy has no up or down), the centre 4:3
window is kept (the lesion is usually centred), and the result is resized to the tower's input size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from knowledge.images import shades_of_grey
from models.encoder.towers import TowerSpec


def frame_window(width: int, height: int, size: tuple[int, int]) -> tuple[bool, tuple[int, int, int, int]]:
    """How ``fit_to_frame`` reads an image of ``width`` x ``height``: (turned a quarter?, the kept box
    (left, top, right, bottom) in the turned image's pixels)."""
    turned = height > width
    w, h = (height, width) if turned else (width, height)
    target_w, target_h = size
    aspect = target_w / target_h
    if w / h > aspect:  # too wide: crop the sides
        new_w = round(h * aspect)
        left = (w - new_w) // 2
        return turned, (left, 0, left + new_w, h)
    if w / h < aspect:  # too tall: crop top and bottom
        new_h = round(w / aspect)
        top = (h - new_h) // 2
        return turned, (0, top, w, top + new_h)
    return turned, (0, 0, w, h)


def fit_to_frame(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Landscape, centre-cropped to the aspect of ``size`` (width, height), then resized to it."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    turned, box = frame_window(img.width, img.height, size)
    if turned:
        img = img.transpose(Image.Transpose.ROTATE_90)
    if box != (0, 0, img.width, img.height):
        img = img.crop(box)
    if img.size != tuple(size):
        img = img.resize(tuple(size), Image.Resampling.BICUBIC)
    return img


def to_tensor(img: Image.Image, spec: TowerSpec) -> torch.Tensor:
    """(3, H, W) float tensor, normalised as the tower was trained."""
    arr = np.asarray(fit_to_frame(img, spec.input_size), dtype=np.float32) / 255.0
    if spec.color_constancy:
        arr = shades_of_grey(arr).astype(np.float32)  # the Shades of Gray white balance (ISIC 2018 winners)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return torch.from_numpy(((arr - mean) / std).transpose(2, 0, 1).copy())


def to_batch(images: Sequence[Image.Image], spec: TowerSpec) -> torch.Tensor:
    return torch.stack([to_tensor(img, spec) for img in images])

"""The figure: the image with the lesion's outline drawn on it."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from knowledge.images import ImageSource, open_image

OUTLINE_RGB = (0, 255, 64)  # green: visible on brown, red, blue-grey and white alike


def overlay(img: ImageSource, mask: np.ndarray, colour: tuple[int, int, int] = OUTLINE_RGB) -> Image.Image:
    """A copy of ``img`` (same size) with the outline of ``mask`` drawn about 1 % of the long side thick.

    A mask of another size (e.g. the model's) is scaled to the image first.
    """
    img = open_image(img)
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D array, got shape {mask.shape}")
    if mask.shape != (img.height, img.width):
        mask = np.asarray(Image.fromarray(mask).resize(img.size, Image.NEAREST))
    thickness = max(1, round(max(img.size) / 200))
    outline = mask & ~ndimage.binary_erosion(mask, iterations=thickness, border_value=0)
    pixels = np.array(img)
    pixels[outline] = colour
    return Image.fromarray(pixels)

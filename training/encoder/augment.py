"""Dermoscopy-appropriate augmentation: what changes between two photos of the same lesion.

Orientation is arbitrary under a dermatoscope (flips, any rotation), framing and zoom vary a little
(crops that keep the centre, where the lesion is), and lighting and camera colour vary (mild
brightness/contrast/saturation jitter; hue barely, because colour itself is diagnostic).
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageEnhance, ImageOps


def augment(img: Image.Image, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """A random view of ``img`` (same size); ``strength`` scales every range (0: unchanged)."""
    w, h = img.size
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < 0.5:
        img = ImageOps.flip(img)
    angle = rng.uniform(-30, 30) * strength
    if angle:
        # Rotate, then zoom in just enough that no empty corner enters the frame.
        rad = math.radians(abs(angle))
        zoom = math.cos(rad) + max(w / h, h / w) * math.sin(rad)
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR)
        cw, ch = w / zoom, h / zoom
        img = img.crop(((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)).resize((w, h), Image.Resampling.BILINEAR)
    # Crop 75-100% of the area, near the centre (the lesion is centred in dermoscopy images).
    scale = 1 - rng.uniform(0, 0.25) * strength
    cw, ch = w * math.sqrt(scale), h * math.sqrt(scale)
    dx, dy = rng.uniform(-1, 1) * (w - cw) / 2, rng.uniform(-1, 1) * (h - ch) / 2
    left, top = (w - cw) / 2 + dx, (h - ch) / 2 + dy
    img = img.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC)
    for enhancer, spread in ((ImageEnhance.Brightness, 0.2), (ImageEnhance.Contrast, 0.2), (ImageEnhance.Color, 0.2)):
        img = enhancer(img).enhance(1 + rng.uniform(-spread, spread) * strength)
    hue = rng.uniform(-0.02, 0.02) * strength
    if hue:
        hsv = img.convert("HSV")
        hch, s, v = hsv.split()
        shift = int(round(hue * 255))
        hch = hch.point(lambda x: (x + shift) % 256)
        img = Image.merge("HSV", (hch, s, v)).convert("RGB")
    return img

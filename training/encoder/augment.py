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


# --- What a dermoscopy photo carries besides the lesion (the v3 recipe's on-the-fly augmentation) ----------


def add_hair(img: Image.Image, rng: random.Random, strands: int) -> Image.Image:
    """Dark or light curved strands across the image, as body hair lies under the dermatoscope."""
    from PIL import ImageDraw

    w, h = img.size
    layer = img.copy()
    draw = ImageDraw.Draw(layer)
    for _ in range(strands):
        shade = rng.randint(10, 70) if rng.random() < 0.85 else rng.randint(150, 210)  # mostly dark, some grey-blond
        colour = (shade, int(shade * rng.uniform(0.8, 1.0)), int(shade * rng.uniform(0.6, 0.9)))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.3, 1.0) * max(w, h)
        bend = rng.uniform(-0.6, 0.6)
        points = []
        for k in range(12):
            t = k / 11
            a = angle + bend * t
            points.append((x + math.cos(a) * length * t, y + math.sin(a) * length * t))
        draw.line(points, fill=colour, width=rng.choice((1, 1, 2)))
    return Image.blend(img, layer, rng.uniform(0.7, 1.0))


def add_frame(img: Image.Image, rng: random.Random) -> Image.Image:
    """The dark round field of a contact dermatoscope, or a softer vignette."""
    import numpy as np

    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + rng.uniform(-0.08, 0.08) * h
    r = np.sqrt(((xx - cx) / (w / 2)) ** 2 + ((yy - cy) / (h / 2)) ** 2)
    arr = np.asarray(img, dtype=np.float32)
    if rng.random() < 0.5:  # hard circle
        radius = rng.uniform(0.85, 1.15)
        edge = rng.uniform(0.02, 0.08)
        mask = np.clip((radius - r) / edge, 0, 1)
    else:  # vignette
        mask = 1 - rng.uniform(0.3, 0.8) * np.clip(r - 0.5, 0, None) ** 2
    return Image.fromarray((arr * mask[..., None]).clip(0, 255).astype("uint8"))


def add_noise(img: Image.Image, rng: random.Random, sigma_range: tuple[float, float] = (2, 12)) -> Image.Image:
    """Gaussian sensor noise, its sigma (of 255) drawn from ``sigma_range``."""
    import numpy as np

    arr = np.asarray(img, dtype=np.float32)
    gen = np.random.default_rng(rng.randrange(2**32))
    sigma = rng.uniform(*sigma_range)
    return Image.fromarray((arr + gen.normal(0, sigma, arr.shape)).clip(0, 255).astype("uint8"))


def photometric_augment(img: Image.Image, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """How a photo degrades between the dermatoscope and us: re-compression by a messenger app or a phone's
    gallery (JPEG quality 20-90), under- or over-exposure (x0.45-1.25), a washed-out low-contrast picture
    (x0.45-1.1 toward the mean grey) and stronger sensor noise (sigma 4-20 of 255), each with some probability.

    The ranges are what phone photos of a dermatoscope show, set without looking at any model's errors; they
    overlap the robustness suite's milder severities (1-3) and stop short of its harshest (evals/corruptions.py),
    so that suite still measures conditions the models never trained on."""
    import io

    import numpy as np

    if rng.random() < 0.3 * strength:
        arr = np.asarray(img, dtype=np.float32)
        img = Image.fromarray((arr * rng.uniform(0.45, 1.25)).clip(0, 255).astype("uint8"))
    if rng.random() < 0.3 * strength:
        arr = np.asarray(img, dtype=np.float32)
        grey = arr.mean()
        img = Image.fromarray((grey + (arr - grey) * rng.uniform(0.45, 1.1)).clip(0, 255).astype("uint8"))
    if rng.random() < 0.2 * strength:
        img = add_noise(img, rng, (4, 20))
    if rng.random() < 0.35 * strength:  # last: compression comes after the camera's own faults
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=rng.randint(20, 90))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def dermoscopy_augment(img: Image.Image, rng: random.Random, strength: float = 1.0,
                       photometric: float = 0.0) -> Image.Image:
    """``augment`` (geometry, lighting) plus, each with some probability, hair, frame, blur and sensor noise; with
    ``photometric`` > 0, ``photometric_augment`` afterwards (at 0 the random stream is exactly the v3-v5 recipes')."""
    from PIL import ImageFilter

    img = augment(img, rng, strength)
    if rng.random() < 0.3 * strength:
        img = add_hair(img, rng, rng.randint(2, 14))
    if rng.random() < 0.25 * strength:
        img = add_frame(img, rng)
    if rng.random() < 0.2 * strength:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.2 * strength:
        img = add_noise(img, rng)
    if photometric > 0:
        img = photometric_augment(img, rng, photometric)
    return img

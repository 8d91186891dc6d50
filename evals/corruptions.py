"""Image corruptions a dermoscopy photo meets in practice, each at five severities, deterministic.

In the spirit of ImageNet-C (Hendrycks & Dietterich, ICLR 2019), restricted to what dermoscopy
images suffer: defocus (blur), sensor noise, JPEG re-compression, under-exposure, low contrast,
hairs across the lesion, the black corners of a round dermatoscope lens, and a different
orientation or magnification. Strengths scale with the image's shorter side (HAM10000: 150 px),
so a 600x450 upload is corrupted as much as a 200x150 one.

    corrupt(img, "hair", severity=3, seed=image_seed("ISIC_0024306"))

Every random choice comes from ``numpy.random.default_rng(seed)``: the same image, corruption,
severity and seed give the same pixels on every run.
"""

from __future__ import annotations

import io
import zlib
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEVERITIES = (1, 2, 3, 4, 5)
REFERENCE_SIDE = 150.0  # HAM10000's shorter side: pixel sizes below are given at this scale

# Parameters per severity 1..5.
BLUR_SIGMA_PX = (0.6, 1.0, 1.6, 2.4, 3.5)
NOISE_STD = (0.03, 0.05, 0.08, 0.11, 0.15)  # of the 0..1 range
JPEG_QUALITY = (50, 30, 18, 10, 6)
BRIGHTNESS = (0.8, 0.65, 0.5, 0.38, 0.28)  # multiplies every pixel: under-exposure
CONTRAST = (0.75, 0.6, 0.45, 0.32, 0.22)  # blend toward the mean grey
HAIRS = (3, 6, 10, 16, 24)  # dark curved strands across the image
LENS_RADIUS = (0.92, 0.84, 0.76, 0.68, 0.6)  # visible circle radius, as a share of the half-diagonal
ROTATION_DEG = (10, 20, 30, 45, 60)  # borders filled by reflection, not black
ZOOM = (1.15, 1.3, 1.5, 1.75, 2.1)  # centre crop enlarged back to full size (a closer dermatoscope)

Corruption = Callable[[Image.Image, int, np.random.Generator], Image.Image]


def image_seed(*parts: object) -> int:
    """A stable 32-bit seed from names (an image id, a corruption, a severity); Python's hash() is salted."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def _scale(img: Image.Image) -> float:
    return min(img.size) / REFERENCE_SIDE


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def gaussian_blur(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    return img.convert("RGB").filter(ImageFilter.GaussianBlur(BLUR_SIGMA_PX[severity - 1] * _scale(img)))


def gaussian_noise(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    arr = _array(img)
    return _image(arr + rng.normal(0, NOISE_STD[severity - 1], arr.shape))


def jpeg(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY[severity - 1])
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def brightness(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    return _image(_array(img) * BRIGHTNESS[severity - 1])


def contrast(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    arr = _array(img)
    grey = arr.mean()
    return _image(grey + (arr - grey) * CONTRAST[severity - 1])


def hair(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Dark, thin, gently curved strands (quadratic Bézier curves) crossing the image, as body hair does."""
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    s = _scale(img)
    t = np.linspace(0, 1, 40)[:, None]
    for _ in range(HAIRS[severity - 1]):
        # A strand through a random point, in a random direction, longer than the frame is wide.
        middle, angle = rng.uniform(0, 1, 2) * (w, h), rng.uniform(0, np.pi)
        half = 0.5 * rng.uniform(0.6, 1.2) * max(w, h) * np.array([np.cos(angle), np.sin(angle)])
        start, end = middle - half, middle + half
        bend = middle + rng.normal(0, 0.25 * min(w, h), 2)
        points = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * end
        shade = int(rng.uniform(10, 60))
        colour = (shade + int(rng.uniform(5, 25)), shade, max(shade - 10, 0))  # dark brown to black
        draw.line([tuple(p) for p in points], fill=colour, width=max(1, int(round(rng.uniform(0.7, 1.7) * s))))
    return out


def black_corners(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """The dark frame outside a round dermatoscope lens: black beyond a centred circle, with a soft edge."""
    arr = _array(img)
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) / np.hypot(w / 2, h / 2)
    edge = 0.03
    mask = np.clip((LENS_RADIUS[severity - 1] - dist) / edge + 0.5, 0, 1)[..., None]
    return _image(arr * mask)


def rotation(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Rotated about the centre (direction at random), the uncovered border filled by reflection."""
    arr = np.asarray(img.convert("RGB"))
    h, w = arr.shape[:2]
    pad = int(np.ceil(0.5 * np.hypot(w, h)))
    padded = Image.fromarray(np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="reflect"))
    angle = ROTATION_DEG[severity - 1] * rng.choice([-1, 1])
    rotated = padded.rotate(float(angle), resample=Image.Resampling.BILINEAR)
    return rotated.crop((pad, pad, pad + w, pad + h))


def scale(img: Image.Image, severity: int, rng: np.random.Generator) -> Image.Image:
    """Magnification: the centre 1/zoom of the frame enlarged back to full size."""
    rgb = img.convert("RGB")
    w, h = rgb.size
    cw, ch = w / ZOOM[severity - 1], h / ZOOM[severity - 1]
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return rgb.resize((w, h), Image.Resampling.BICUBIC, box=box)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_blur": gaussian_blur,
    "gaussian_noise": gaussian_noise,
    "jpeg": jpeg,
    "brightness": brightness,
    "contrast": contrast,
    "hair": hair,
    "black_corners": black_corners,
    "rotation": rotation,
    "scale": scale,
}


def corrupt(img: Image.Image, name: str, severity: int, seed: int = 0) -> Image.Image:
    """``img`` under corruption ``name`` at ``severity`` (1 mild .. 5 severe), same size, RGB."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    out = CORRUPTIONS[name](img, severity, np.random.default_rng(seed))
    assert out.size == img.size, (name, out.size, img.size)
    return out

"""Reading an image from a user, a file or the dataset, safely.

``open_image`` is the single door every image comes through: size limits before decoding, a
decompression-bomb guard, EXIF orientation, first frame of animations, and every colour mode
(CMYK, palette, greyscale, 16-bit, alpha) turned into 8-bit RGB. Anything else is an
``ImageError`` with a message a user can act on.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Iterable, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageSource = Union[str, Path, bytes, bytearray, Image.Image, np.ndarray]


class ImageError(ValueError):
    """The input is not an image dermagraph can use; the message says why."""


def _limits() -> tuple[int, int, int]:
    from knowledge.settings import get_settings

    s = get_settings()
    return s.max_upload_bytes, s.max_image_pixels, s.min_image_side


def read_bytes(source: str | Path | bytes | bytearray, max_bytes: int | None = None) -> bytes:
    max_bytes = max_bytes if max_bytes is not None else _limits()[0]
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name = "upload"
    else:
        path = Path(source)
        name = path.name
        if not path.exists():
            raise ImageError(f"{path}: file not found")
        if not path.is_file():
            raise ImageError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(f"{name}: file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
        data = path.read_bytes()
    if len(data) == 0:
        raise ImageError(f"{name}: file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageError(f"{name}: file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    return data


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), mode="L").convert("RGB")
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def open_image(source: ImageSource, max_bytes: int | None = None) -> Image.Image:
    """Decode ``source`` to an 8-bit RGB PIL image, or raise ``ImageError`` saying why not."""
    max_b, max_pixels, min_side = _limits()
    max_bytes = max_bytes if max_bytes is not None else max_b
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ImageError(f"array of shape {arr.shape} is not an HxWx3 image")
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        name = "array"
    elif isinstance(source, Image.Image):
        img, name = source, "image"
    else:
        data = read_bytes(source, max_bytes)
        name = Path(source).name if isinstance(source, (str, Path)) else "upload"
        head = data[:512].lstrip().lower()
        if head.startswith(b"%pdf"):
            raise ImageError(f"{name}: this is a PDF document, not an image; upload a JPEG or PNG photo")
        if head.startswith(b"<svg") or head.startswith(b"<?xml") or b"<svg" in head:
            raise ImageError(f"{name}: SVG drawings are not supported; upload a JPEG or PNG photo")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{name}: {width}x{height} pixels is over the {max_pixels / 1e6:.0f}-megapixel limit"
                    )
                img.seek(0)  # first frame of an animation
                img.load()
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"{name}: refused as a decompression bomb (too many pixels)") from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image format that can be read (use JPEG or PNG)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(f"{name}: the image is damaged or truncated ({exc})") from None
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # a broken EXIF block should not make a readable image unusable
        pass
    img = _to_rgb(img)
    if min(img.size) < min_side:
        raise ImageError(
            f"{name}: {img.size[0]}x{img.size[1]} pixels is too small; each side needs at least {min_side} pixels"
        )
    if max(img.size) / min(img.size) > 8:
        raise ImageError(f"{name}: {img.size[0]}x{img.size[1]} is too elongated to be a lesion photograph")
    return img


def image_hash(img: Image.Image) -> str:
    """Content hash of the decoded pixels (stable across re-encodings of the same file bytes)."""
    h = hashlib.sha256()
    h.update(f"{img.size}".encode())
    h.update(img.tobytes())
    return h.hexdigest()[:16]


def shades_of_grey(rgb: np.ndarray, p: int = 6) -> np.ndarray:
    """White-balance (H, W, 3) sRGB in [0, 1] with the shades-of-grey illuminant estimate (float64).

    Finlayson & Trezzi 2004; p = 6 as in Barata et al. (IEEE JBHI 2015) for dermoscopy and the ISIC
    2018/2019 winners. Dermoscopes differ in their light and camera; the estimate is the Minkowski
    p-norm mean of each channel, and each channel is scaled so that the illuminant becomes grey.
    Used by the lesion-colour measurements and, when its config says so, the encoder's input.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    illuminant = np.mean(rgb.reshape(-1, 3) ** p, axis=0) ** (1.0 / p)
    norm = np.linalg.norm(illuminant)
    if norm <= 1e-6:  # an all-black image has no illuminant to correct
        return rgb
    gains = 1.0 / np.maximum(np.sqrt(3.0) * illuminant / norm, 1e-3)  # a channel with no light is not amplified to inf
    return np.clip(rgb * gains, 0.0, 1.0)


# The exposure floor. A photo darker or flatter than almost every training photo (an under-exposed phone picture,
# a dim dermatoscope, a washed-out scan) is lifted to the darkest / flattest a training photo is before the
# classifier sees it; every other image is left exactly as it is. Shades of Gray (above) fixes the colour of the
# light, not its amount: scaling an image leaves its illuminant direction unchanged.
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 luma of sRGB values
FLOOR_PERCENTILE = 5.0  # of the training photos' statistics: the floor
MAX_EXPOSURE_GAIN = 4.0  # an image is brightened at most this much ...
MAX_CONTRAST_STRETCH = 5.0  # ... and its contrast stretched at most this much


STATS_LONG_SIDE = 512  # statistics are read on a copy at most this long (HAM10000's 200x150 as they are)


def exposure_stats(img: Image.Image) -> tuple[float, float]:
    """(brightness, contrast): the 95th percentile of luma (so a few specular highlights do not count) and its
    standard deviation, on 0..1 sRGB values. Both scale with an exposure gain; the second with a contrast loss.
    Read on a reduced copy of a large upload: a 12-megapixel photo's percentile would cost half a second."""
    if max(img.size) > STATS_LONG_SIDE:
        img = img.copy()
        img.thumbnail((STATS_LONG_SIDE, STATS_LONG_SIDE), Image.Resampling.BOX)
    luma = (np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0) @ LUMA
    return float(np.percentile(luma, 95)), float(luma.std())


class ExposureFloor:
    """The darkest and flattest a training photo is (``FLOOR_PERCENTILE`` of ``exposure_stats`` over the training
    split); ``lift`` brings an image below either up to it."""

    def __init__(self, brightness: float, contrast: float) -> None:
        if not (0 < brightness <= 1 and 0 < contrast <= 1):
            raise ValueError(f"an exposure floor needs brightness and contrast in (0, 1], got {brightness}, {contrast}")
        self.brightness, self.contrast = float(brightness), float(contrast)

    @classmethod
    def fit(cls, images: Iterable[Image.Image]) -> "ExposureFloor":
        return cls.from_stats([exposure_stats(img) for img in images])

    @classmethod
    def from_stats(cls, stats: Iterable[tuple[float, float]]) -> "ExposureFloor":
        """From the training photos' ``exposure_stats``."""
        values = np.array(list(stats))
        if len(values) == 0:
            raise ValueError("an exposure floor needs at least one training image")
        bright, contrast = np.percentile(values, FLOOR_PERCENTILE, axis=0)
        return cls(round(float(bright), 4), round(float(contrast), 4))

    def below(self, img: Image.Image) -> bool:
        bright, contrast = exposure_stats(img)
        return bright < self.brightness or contrast < self.contrast

    def lift(self, img: Image.Image) -> Image.Image:
        """``img`` itself when it is at or above the floor; otherwise brightened, then contrast-stretched about its
        mean, each only as far as the floor (and the caps above)."""
        bright, contrast = exposure_stats(img)
        if bright >= self.brightness and contrast >= self.contrast:
            return img
        arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
        if bright < self.brightness:
            arr = arr * min(self.brightness / max(bright, 1e-3), MAX_EXPOSURE_GAIN)
        contrast = float((np.clip(arr, 0, 1) @ LUMA).std())
        if contrast < self.contrast:
            mean = arr.mean()
            arr = mean + (arr - mean) * min(self.contrast / max(contrast, 1e-3), MAX_CONTRAST_STRETCH)
        return Image.fromarray((np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")

    def to_dict(self) -> dict[str, float]:
        return {"brightness": self.brightness, "contrast": self.contrast}

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> "ExposureFloor":
        return cls(raw["brightness"], raw["contrast"])


# The JPEG deblocker. A photo saved at a low JPEG quality carries 8x8 block edges that no training photo has this
# strongly (HAM10000's own images are JPEGs too, at a decent quality): the members read the block grid as texture.
# A photo blockier than almost every training photo is smoothed across its block boundaries, then blurred in
# proportion to how far it is past the training ceiling; every other image is left exactly as it is.
JPEG_BLOCK = 8
DEBLOCK_PERCENTILE = 95.0  # of the training photos' blockiness: the ceiling
DEBLOCK_SIGMA_PER_UNIT = 1.2  # Gaussian sigma (px) per unit of blockiness above the ceiling ...
DEBLOCK_SIGMA_RANGE = (0.3, 1.6)  # ... within this range
BLOCKINESS_SIDE = 512  # blockiness is read on a centred crop at most this large, on the block grid
# A photo longer than this is left as it is: the members see it reduced at least 5x (192 px), which averages its
# 8-px blocks away, and smoothing 12 megapixels would cost seconds on the hot path.
DEBLOCK_MAX_SIDE = 1024


def blockiness(img: Image.Image) -> float:
    """How much stronger the luma steps across 8x8 JPEG block boundaries are than the steps on average (1: no
    block grid; HAM10000's photos have a median of 1.46; quality 10 about 4). Read on a crop aligned to the grid."""
    w, h = img.size
    cw, ch = min(w, BLOCKINESS_SIDE), min(h, BLOCKINESS_SIDE)
    x0, y0 = (w - cw) // 2 // JPEG_BLOCK * JPEG_BLOCK, (h - ch) // 2 // JPEG_BLOCK * JPEG_BLOCK
    crop = img.crop((x0, y0, x0 + cw, y0 + ch)) if (cw, ch) != (w, h) else img
    luma = (np.asarray(crop.convert("RGB"), dtype=np.float64) @ LUMA)
    if min(luma.shape) <= JPEG_BLOCK:
        return 1.0
    dx, dy = np.abs(np.diff(luma, axis=1)), np.abs(np.diff(luma, axis=0))
    last = JPEG_BLOCK - 1  # the step between pixel 7 and pixel 8 of each block crosses its edge
    across_x = dx[:, last::JPEG_BLOCK].mean() / (dx.mean() + 1e-6)
    across_y = dy[last::JPEG_BLOCK, :].mean() / (dy.mean() + 1e-6)
    return float((across_x + across_y) / 2)


class Deblocker:
    """The blockiest a training photo is (``DEBLOCK_PERCENTILE`` of ``blockiness`` over the training split);
    ``apply`` smooths an image above it."""

    def __init__(self, ceiling: float) -> None:
        if not ceiling >= 1.0:
            raise ValueError(f"a deblocking ceiling is a blockiness ratio >= 1, got {ceiling}")
        self.ceiling = float(ceiling)

    @classmethod
    def fit(cls, images: Iterable[Image.Image]) -> "Deblocker":
        return cls.from_stats([blockiness(img) for img in images])

    @classmethod
    def from_stats(cls, values: Iterable[float]) -> "Deblocker":
        """From the training photos' ``blockiness``."""
        arr = np.array(list(values), dtype=np.float64)
        if len(arr) == 0:
            raise ValueError("a deblocking ceiling needs at least one training image")
        return cls(round(float(np.percentile(arr, DEBLOCK_PERCENTILE)), 4))

    def sigma(self, value: float) -> float:
        """The blur (px) for a photo of this blockiness; 0 at or under the ceiling."""
        if value <= self.ceiling:
            return 0.0
        return float(np.clip(DEBLOCK_SIGMA_PER_UNIT * (value - self.ceiling), *DEBLOCK_SIGMA_RANGE))

    def apply(self, img: Image.Image) -> Image.Image:
        """``img`` itself at or under the ceiling (or longer than ``DEBLOCK_MAX_SIDE``); otherwise the two pixels
        either side of every block edge replaced by their 3x3 mean, then a Gaussian blur of ``sigma(blockiness)``."""
        from PIL import ImageFilter
        from scipy import ndimage

        if max(img.size) > DEBLOCK_MAX_SIDE:
            return img
        sigma = self.sigma(blockiness(img))
        if sigma == 0.0:
            return img
        arr = np.asarray(img.convert("RGB"), dtype=np.float64)
        h, w = arr.shape[:2]
        edge = np.zeros((h, w), dtype=bool)
        for k in range(JPEG_BLOCK - 1, w - 1, JPEG_BLOCK):
            edge[:, k:k + 2] = True
        for k in range(JPEG_BLOCK - 1, h - 1, JPEG_BLOCK):
            edge[k:k + 2, :] = True
        smooth = ndimage.uniform_filter(arr, size=(3, 3, 1))
        arr[edge] = smooth[edge]
        out = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
        return out.filter(ImageFilter.GaussianBlur(sigma))

    def to_dict(self) -> dict[str, float]:
        return {"ceiling": self.ceiling}

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> "Deblocker":
        return cls(raw["ceiling"])


def prepare_input(img: Image.Image, floor: ExposureFloor | None = None, deblocker: Deblocker | None = None) -> Image.Image:
    """What the classifier's members see: lifted to the exposure floor, then deblocked (each only when given, and
    only for an image outside the training photos' range; any other image is returned as it is)."""
    if floor is not None:
        img = floor.lift(img)
    return img if deblocker is None else deblocker.apply(img)

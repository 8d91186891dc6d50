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
from typing import Union

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

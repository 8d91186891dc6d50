"""How many tokens an image costs Qwen2-VL, and the pixel budget every path resizes to.

Qwen2-VL cuts an image into 14-pixel patches and merges 2x2 patches into one language-model
token, after rounding each side to a multiple of 28 pixels (``smart_resize``). So:

* HAM10000 as vendored here, 200x150 -> 196x140 -> 7 x 5 = **35 image tokens**;
* the original ISIC resolution, 600x450 -> 588x448 -> 21 x 16 = **336 image tokens**.

``IMAGE_MAX_PIXELS = 600*450`` keeps both at full resolution and shrinks anything larger (phone
photos, 1024x768 dermoscopes) to that budget, so no image ever costs more than ~380 tokens
(worst case: a long thin image whose sides both round up). ``CUTOFF_LEN = 1024`` then leaves
over 600 tokens for the chat frame, the question and the answer (our longest answers are ~250
tokens), so LLaMA-Factory's truncation can never cut into image tokens; the export checks every
sample against it. LLaMA-Factory applies ``image_max_pixels`` / ``image_min_pixels`` by resizing
the PIL image before the processor; ``fit_pixels`` does exactly the same here.
"""

from __future__ import annotations

import math

from PIL import Image

PATCH = 14
MERGE = 2
FACTOR = PATCH * MERGE
IMAGE_MAX_PIXELS = 600 * 450
IMAGE_MIN_PIXELS = 32 * 32  # LLaMA-Factory's default
CUTOFF_LEN = 1024
PROCESSOR_MIN_PIXELS = 56 * 56  # Qwen2-VL processor's own floor (smart_resize)


def fit_pixels(img: Image.Image, max_pixels: int = IMAGE_MAX_PIXELS, min_pixels: int = IMAGE_MIN_PIXELS) -> Image.Image:
    """Resize into the pixel budget as LLaMA-Factory's Qwen2-VL plugin does (same rounding)."""
    if img.width * img.height > max_pixels:
        f = math.sqrt(max_pixels / (img.width * img.height))
        img = img.resize((int(img.width * f), int(img.height * f)))
    if img.width * img.height < min_pixels:
        f = math.sqrt(min_pixels / (img.width * img.height))
        img = img.resize((int(img.width * f), int(img.height * f)))
    if min(img.width, img.height) < FACTOR:
        img = img.resize((max(img.width, FACTOR), max(img.height, FACTOR)))
    return img if img.mode == "RGB" else img.convert("RGB")


def smart_resize(height: int, width: int, min_pixels: int = PROCESSOR_MIN_PIXELS, max_pixels: int = 16384 * 28 * 28) -> tuple[int, int]:
    """The processor's rounding to multiples of 28 (transformers ``smart_resize``, no torch needed)."""
    h_bar = round(height / FACTOR) * FACTOR
    w_bar = round(width / FACTOR) * FACTOR
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
        w_bar = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / FACTOR) * FACTOR
        w_bar = math.ceil(width * beta / FACTOR) * FACTOR
    return h_bar, w_bar


def image_tokens(width: int, height: int, max_pixels: int = IMAGE_MAX_PIXELS) -> int:
    """Language-model tokens for a ``width`` x ``height`` image after ``fit_pixels`` and the processor."""
    w, h = width, height
    if w * h > max_pixels:
        f = math.sqrt(max_pixels / (w * h))
        w, h = int(w * f), int(h * f)
    h_bar, w_bar = smart_resize(max(h, FACTOR), max(w, FACTOR))
    return (h_bar // FACTOR) * (w_bar // FACTOR)

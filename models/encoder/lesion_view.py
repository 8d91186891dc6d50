"""The lesion-centred view: the image cropped around the segmenter's outline, with a margin.

HAM10000 images are 200x150 and many lesions fill only part of the frame; a crop around the outline
gives the tower the lesion and its border at a higher effective resolution, and a second, different
view of the same lesion for the classifier ensemble (docs/encoder.md). The crop box comes from the
shipped segmenter, in training and at inference alike, so the model never sees a box it would not get
from a user's upload.

A box is (left, top, right, bottom) as fractions of the image's width and height.
"""

from __future__ import annotations

import random
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)

# A lesion smaller than this share of the image (or no lesion) is cropped around the centre at this size;
# a box is never smaller than MIN_SIDE of the image on either side (a tiny outline is more likely a speck).
MIN_SIDE = 0.35
MIN_AREA = 0.003


def lesion_box(mask: np.ndarray) -> Box:
    """The bounding box of the largest region of a boolean mask (H, W); the whole image when there is none."""
    from models.features.measure import main_region

    region = main_region(mask.astype(bool))
    if region.mean() < MIN_AREA:
        return WHOLE
    ys, xs = np.nonzero(region)
    h, w = region.shape
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


def expand_box(box: Box, margin: float, aspect: float = 4 / 3, image_aspect: float = 4 / 3) -> Box:
    """``box`` grown by ``margin`` of its size on every side, to ``aspect`` (w/h in pixels), kept in the image.

    ``image_aspect`` is the image's own width/height (boxes are in fractions, so aspects need it).
    """
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    w, h = (right - left) * (1 + 2 * margin), (bottom - top) * (1 + 2 * margin)
    w, h = max(w, MIN_SIDE), max(h, MIN_SIDE)
    # Grow the short side so that the crop has the tower's aspect in pixels (a portrait lesion box is
    # grown to the same landscape frame: preprocessing would otherwise cut it).
    if (w * image_aspect) / h < aspect:
        w = h * aspect / image_aspect
    else:
        h = w * image_aspect / aspect
    if w > 1 or h > 1:  # cannot fit: the largest frame of that aspect, centred on the lesion
        scale = 1 / max(w, h)
        w, h = w * scale, h * scale
    left = min(max(cx - w / 2, 0.0), 1 - w)
    top = min(max(cy - h / 2, 0.0), 1 - h)
    return (left, top, left + w, top + h)


def crop_to_box(img: Image.Image, box: Box) -> Image.Image:
    width, height = img.size
    left, top, right, bottom = box
    return img.crop((round(left * width), round(top * height), round(right * width), round(bottom * height)))


def lesion_view(img: Image.Image, box: Box, margin: float) -> Image.Image:
    """The lesion-centred crop used at inference (and for val in training)."""
    return crop_to_box(img, expand_box(box, margin, image_aspect=img.width / img.height))


def jittered_lesion_view(img: Image.Image, box: Box, margin: float, rng: random.Random) -> Image.Image:
    """A training crop: the margin varies from half to one and a half times ``margin``, the centre moves a little."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    shift_x, shift_y = rng.uniform(-0.1, 0.1) * w, rng.uniform(-0.1, 0.1) * h
    moved = (left + shift_x, top + shift_y, right + shift_x, bottom + shift_y)
    return lesion_view(img, moved, margin * rng.uniform(0.5, 1.5))


def segmenter_boxes(images: Iterable[Image.Image], batch_size: int = 64, segmenter=None) -> list[Box]:
    """Lesion boxes from the shipped segmenter (its threshold, largest region), one per image."""
    from models.features.segmenter import load_segmenter

    segmenter = segmenter or load_segmenter()
    boxes: list[Box] = []
    batch: list[Image.Image] = []

    def flush() -> None:
        size = batch[0].size
        same = all(im.size == size for im in batch)
        if same:
            boxes.extend(lesion_box(m) for m in segmenter.predict_masks(batch, size))
        else:
            boxes.extend(lesion_box(segmenter.predict_masks([im], im.size)[0]) for im in batch)
        batch.clear()

    for img in images:
        batch.append(img)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return boxes


def boxes_for_records(records: Sequence, progress: bool = False,
                      prepare: Callable[[Image.Image], Image.Image] | None = None) -> dict[str, Box]:
    """{image_id: box} for HAM10000 records (``image_path``, ``image_id``), in batches, with a progress bar;
    ``prepare`` is applied to each image first."""
    from tqdm import tqdm

    from knowledge.images import open_image

    out: dict[str, Box] = {}
    step = 256
    for start in tqdm(range(0, len(records), step), desc="lesion boxes", unit="batch", disable=not progress, leave=False):
        chunk = records[start : start + step]
        for record, box in zip(chunk, segmenter_boxes((prepare or _same)(open_image(r.image_path)) for r in chunk)):
            out[record.image_id] = tuple(round(float(v), 5) for v in box)
    return out


def _same(img: Image.Image) -> Image.Image:
    return img

"""The range of the training photos, and bringing an upload back inside it before the classifier sees it.

Each check is a statistic of the training photos (a low or high percentile over the training split, fitted by
``dermagraph train classifier`` and stored in the classifier head); a photo outside it is corrected just enough,
and every photo inside it is passed through as it is (the same object, byte for byte):

- ``ExposureFloor``: darker or flatter than almost every training photo -> lifted to the floor;
- ``Deblocker``: a JPEG block grid stronger than almost every training photo's -> smoothed across block edges;
- ``HairRemover``: more thin dark strands than almost every training photo -> the strands filled from around them.

``prepare_input`` applies them in the one order the classifier, its training and its heat maps share.
"""

from __future__ import annotations

from typing import Iterable, Self

import numpy as np
from PIL import Image

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


class _TrainingCeiling:
    """A ceiling on one statistic of the training photos (``PERCENTILE`` of ``statistic`` over the training split):
    ``apply`` corrects a photo above it and returns any other photo as it is."""

    PERCENTILE: float = 95.0
    DIGITS = 4
    WHAT = "ceiling"

    def __init__(self, ceiling: float) -> None:
        if not self.valid(float(ceiling)):
            raise ValueError(f"{self.WHAT}: got {ceiling}")
        self.ceiling = float(ceiling)

    @staticmethod
    def valid(ceiling: float) -> bool:
        return True

    @staticmethod
    def statistic(img: Image.Image) -> float:
        raise NotImplementedError

    @classmethod
    def fit(cls, images: Iterable[Image.Image]) -> Self:
        return cls.from_stats([cls.statistic(img) for img in images])

    @classmethod
    def from_stats(cls, values: Iterable[float]) -> Self:
        """From the training photos' ``statistic``."""
        arr = np.array(list(values), dtype=np.float64)
        if len(arr) == 0:
            raise ValueError(f"{cls.WHAT} needs at least one training image")
        return cls(cls.clamp(round(float(np.percentile(arr, cls.PERCENTILE)), cls.DIGITS)))

    @staticmethod
    def clamp(ceiling: float) -> float:
        return ceiling

    def to_dict(self) -> dict[str, float]:
        return {"ceiling": self.ceiling}

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> Self:
        return cls(raw["ceiling"])


class Deblocker(_TrainingCeiling):
    """The blockiest a training photo is (``DEBLOCK_PERCENTILE`` of ``blockiness`` over the training split);
    ``apply`` smooths an image above it."""

    PERCENTILE = DEBLOCK_PERCENTILE
    WHAT = "a deblocking ceiling (a blockiness ratio >= 1)"

    @staticmethod
    def valid(ceiling: float) -> bool:
        return ceiling >= 1.0

    @staticmethod
    def statistic(img: Image.Image) -> float:
        return blockiness(img)

    @staticmethod
    def clamp(ceiling: float) -> float:
        return max(1.0, ceiling)  # photos that never were JPEGs have no grid: about 1, a little under for smooth ones

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




# Hair removal. Body hair lies across many dermoscopy photos (and many training photos), so a photo is only changed
# when it carries more thin dark strands than 90% of the training photos. Strands are found as in DullRazor (Lee et
# al., Comput Biol Med 1997) by a morphological black-hat (a 7x7 grey closing minus the image), kept where they are
# thin (gone after a 3x3 opening) and long (a connected piece at least 25 px across), and filled with the closing.
# All of it happens at HAM10000's scale (short side 150 px): a larger photo is measured on a reduced copy and gets
# the fill where the reduced mask says, so hairs are judged at the size the classifier sees them.
HAIR_PERCENTILE = 90.0  # of the training photos' hair share: the ceiling
HAIR_BLACKHAT = 0.06  # luma (0..1) darker than the 7x7 closing by this much ...
HAIR_CLOSING = 7  # ... px, at the working scale
HAIR_MIN_EXTENT = 25  # px across, at the working scale: shorter dark marks (dots, globules) are not hairs
HAIR_SCALE_SIDE = 150  # the working scale: short side in px (HAM10000's)


def _working_copy(img: Image.Image) -> Image.Image:
    rgb = img.convert("RGB")
    if min(rgb.size) <= HAIR_SCALE_SIDE:
        return rgb
    scale = HAIR_SCALE_SIDE / min(rgb.size)
    return rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)


def hair_mask(img: Image.Image) -> np.ndarray:
    """(H, W) bool at the working scale: the thin, long, dark strands of ``img``."""
    from scipy import ndimage

    luma = (np.asarray(_working_copy(img), dtype=np.float64) / 255.0) @ LUMA
    dark = ndimage.grey_closing(luma, size=(HAIR_CLOSING, HAIR_CLOSING)) - luma > HAIR_BLACKHAT
    thin = dark & ~ndimage.binary_opening(dark, structure=np.ones((3, 3), dtype=bool))
    labels, n = ndimage.label(thin, structure=np.ones((3, 3), dtype=bool))
    out = np.zeros_like(thin)
    for k, box in enumerate(ndimage.find_objects(labels), 1):
        if box is not None and max(box[0].stop - box[0].start, box[1].stop - box[1].start) >= HAIR_MIN_EXTENT:
            out[box] |= labels[box] == k
    return out


def hair_share(img: Image.Image) -> float:
    """The share of the photo (at the working scale) covered by hair strands."""
    return float(hair_mask(img).mean())


class HairRemover(_TrainingCeiling):
    """The hairiest 10% of training photos begin at ``ceiling`` (``HAIR_PERCENTILE`` of ``hair_share``); ``apply``
    fills the strands of a photo above it."""

    PERCENTILE = HAIR_PERCENTILE
    DIGITS = 5
    WHAT = "a hair ceiling (a share of the image in [0, 1))"

    @staticmethod
    def valid(ceiling: float) -> bool:
        return 0 <= ceiling < 1

    @staticmethod
    def statistic(img: Image.Image) -> float:
        return hair_share(img)

    def apply(self, img: Image.Image) -> Image.Image:
        """``img`` itself at or under the ceiling; otherwise its strands (grown by a pixel) replaced by the 7x7
        grey closing of the working copy, brought to the photo's size."""
        from scipy import ndimage

        mask = hair_mask(img)
        if mask.mean() <= self.ceiling:
            return img
        small = np.asarray(_working_copy(img), dtype=np.float64)
        closed = np.stack([ndimage.grey_closing(small[..., c], size=(HAIR_CLOSING, HAIR_CLOSING)) for c in range(3)], -1)
        mask = ndimage.binary_dilation(mask, iterations=1)
        arr = np.asarray(img.convert("RGB"), dtype=np.float64)
        if arr.shape[:2] != mask.shape:  # a larger photo: the fill and the mask brought up to its size
            size = (arr.shape[1], arr.shape[0])
            fill = Image.fromarray(np.clip(closed + 0.5, 0, 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
            closed = np.asarray(fill, dtype=np.float64)
            mask = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))
        out = np.where(mask[..., None], closed, arr)
        return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


# The checks a classifier head can carry (its keys, in ``prepare_input`` order) and the ones `dermagraph train
# classifier` fits by default (hair removal failed its val rule: opt-in).
INPUT_RANGE_KEYS = ("exposure_floor", "deblocker", "hair")
DEFAULT_INPUT_RANGE = ("exposure_floor", "deblocker")


def prepare_input(img: Image.Image, floor: ExposureFloor | None = None, deblocker: Deblocker | None = None,
                  hair: HairRemover | None = None) -> Image.Image:
    """What the classifier's members see: lifted to the exposure floor, deblocked, then its hair filled (each only
    when given, and only for an image outside the training photos' range; any other image is returned as it is)."""
    if floor is not None:
        img = floor.lift(img)
    if deblocker is not None:
        img = deblocker.apply(img)
    return img if hair is None else hair.apply(img)

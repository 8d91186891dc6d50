"""The range of the training photos, and bringing an upload back inside it before the classifier sees it.

Each check is a statistic of the training photos (a low or high percentile over the training split, fitted by
``dermagraph train classifier`` and stored in the classifier head); a photo outside it is corrected just enough,
and every photo inside it is passed through as it is (the same object, byte for byte):

- ``ExposureFloor``: darker or flatter than almost every training photo -> lifted to the floor;
- ``Deblocker``: a JPEG block grid stronger than almost every training photo's -> smoothed across block edges;
- ``Denoiser``: noisier than every training photo -> an adaptive Wiener filter;
- ``Sharpener``: less sharp than every training photo -> unsharp-masked, harder the blurrier it is;
- ``HairRemover``: more thin dark strands than almost every training photo -> the strands filled from around them.

``InputRange`` holds the ones a classifier head carries and applies them in the one order the classifier, its
training and its heat maps share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Self

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

    statistic = staticmethod(exposure_stats)

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

    def describe(self) -> str:
        return (f"exposure floor ({FLOOR_PERCENTILE:g}th percentile of train): brightness {self.brightness:.3f}, "
                f"contrast {self.contrast:.3f}")

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

    apply = lift  # the name every input check shares

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
    LABEL = "ceiling"  # for ``describe``: what the fitted value is, and of which statistic
    STATISTIC = "statistic"

    def __init__(self, ceiling: float) -> None:
        if not self.valid(float(ceiling)):
            raise ValueError(f"{self.WHAT}: got {ceiling}")
        self.ceiling = float(ceiling)

    @staticmethod
    def valid(ceiling: float) -> bool:
        return 0 < ceiling < 1  # a share or a level on 0..1 values, unless a check says otherwise

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

    @classmethod
    def fitted_as(cls) -> str:
        """How the value comes from the training photos, in words."""
        return f"{cls.PERCENTILE:g}th percentile of train {cls.STATISTIC}"

    def describe(self) -> str:
        return f"{self.LABEL} ({self.fitted_as()}): {self.STATISTIC} {self.ceiling:.{self.DIGITS}f}"

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
    LABEL, STATISTIC = "deblocking ceiling", "blockiness"

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



# The denoiser. Sensor noise (a phone in dim light, a cheap dermatoscope camera) is read by the members as texture:
# the network's pigment-network and vessel detectors fire on it. A photo noisier than every training photo goes through
# an adaptive Wiener filter (Lee 1980): each pixel is pulled toward its 5x5 neighbourhood's mean as far as the
# neighbourhood's variance is noise, so flat skin is smoothed and edges, dots and network lines much less; every other
# image is left exactly as it is. The gate sits above the noisiest training
# photo (HAM10000: 0.031) and below what moderate added noise gives (std 0.08 of the range: about 0.06 at 200x150).
DENOISE_PERCENTILE = 100.0  # of the training photos' noise estimate: the ceiling is the noisiest training photo ...
DENOISE_MIN_GATE = 0.05  # ... and never lower than this (chosen on a val tuning sample, docs/encoder.md)
DENOISE_WINDOW = 5  # px: the Wiener filter's neighbourhood (per RGB channel; noise power from ``noise_level``)
# The 3x3 mask of Immerkaer (Comput Vis Image Underst 1996): the difference of two Laplacians, blind to planes and
# to most of a photo's structure, so its typical absolute response measures the noise.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
NORMAL_MAD = 0.6745  # the median absolute value of a standard normal variable
# A photo longer than this is left as it is (and not measured): the members see it reduced at least 5x, which
# averages pixel noise away.
RESTORE_MAX_SIDE = DEBLOCK_MAX_SIDE


def noise_level(img: Image.Image) -> float:
    """The standard deviation of additive noise in luma (0..1), from Immerkaer's mask: the median absolute response
    over 0.6745 x 6 (the mask's gain on unit noise), a robust form of his mean-absolute estimate that agrees with it on
    Gaussian noise but is not raised by sparse structures (hair strands, an edge). HAM10000's photos read at most 0.031;
    Gaussian noise of std 0.08 added to a 200x150 photo reads about 0.06; dense synthetic hair about 0.003. Read on a
    centred crop at most ``BLOCKINESS_SIDE`` across."""
    from scipy import ndimage

    w, h = img.size
    cw, ch = min(w, BLOCKINESS_SIDE), min(h, BLOCKINESS_SIDE)
    if (cw, ch) != (w, h):
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        img = img.crop((x0, y0, x0 + cw, y0 + ch))
    luma = (np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0) @ LUMA
    if min(luma.shape) < 3:
        return 0.0
    response = ndimage.correlate(luma, _IMMERKAER, mode="nearest")[1:-1, 1:-1]
    return float(np.median(np.abs(response)) / (NORMAL_MAD * 6))


class Denoiser(_TrainingCeiling):
    """The noisiest a training photo is (``noise_level``, at least ``DENOISE_MIN_GATE``); ``apply`` Wiener-filters an
    image above it with the noise power ``noise_power(noise_level)``."""

    PERCENTILE = DENOISE_PERCENTILE
    WHAT = "a denoising gate (a noise level in (0, 1))"
    LABEL, STATISTIC = "denoising gate", "noise level"
    statistic = staticmethod(noise_level)

    @classmethod
    def fitted_as(cls) -> str:
        return f"the noisiest train photo, at least {DENOISE_MIN_GATE:g}"

    @staticmethod
    def clamp(ceiling: float) -> float:
        return max(DENOISE_MIN_GATE, ceiling)

    def noise_power(self, value: float) -> float:
        """The noise variance (on 0..255 values) the filter removes for a photo of this noise level; 0 at or under
        the gate (the photo is left as it is)."""
        return 0.0 if value <= self.ceiling else float((value * 255.0) ** 2)

    def apply(self, img: Image.Image) -> Image.Image:
        """``img`` itself at or under the gate (or longer than ``RESTORE_MAX_SIDE``); otherwise each RGB channel
        through ``scipy.signal.wiener`` (``DENOISE_WINDOW``, ``noise_power(noise_level)``)."""
        from scipy.signal import wiener

        if max(img.size) > RESTORE_MAX_SIDE:
            return img
        power = self.noise_power(noise_level(img))
        if power == 0.0:
            return img
        arr = np.asarray(img.convert("RGB"), dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # a flat window (variance 0) takes its mean, as it should
            out = np.stack([wiener(arr[..., c], DENOISE_WINDOW, noise=power) for c in range(3)], axis=-1)
        return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


# Sharpness and hair are judged at HAM10000's scale, the size the classifier sees detail at: a larger photo is read on
# a copy reduced to this short side.
WORKING_SCALE_SIDE = 150  # px, short side (HAM10000's)


def _working_copy(img: Image.Image) -> Image.Image:
    rgb = img.convert("RGB")
    if min(rgb.size) <= WORKING_SCALE_SIDE:
        return rgb
    scale = WORKING_SCALE_SIDE / min(rgb.size)
    return rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.BOX)


# The sharpener. An out-of-focus photo (or one that was enlarged from a small copy) loses the fine structure the members
# read: pigment network, dots, vessels. A photo less sharp than every training photo is unsharp-masked, harder the
# blurrier it is. Opt-in (``train classifier --sharpen``): it failed its val rule, sharpening deblocked JPEGs and
# enlarged photos again (docs/encoder.md).
SHARPEN_PERCENTILE = 0.0  # of the training photos' sharpness: the gate is the least sharp training photo
SHARPEN_AMOUNT = 150  # unsharp-mask strength, percent
SHARPEN_RADIUS_PER_UNIT = 3.0  # radius (px at HAM's scale) = this x gate / sharpness ...
SHARPEN_RADIUS_RANGE = (2.0, 5.0)  # ... within this range


def sharpness(img: Image.Image) -> float:
    """The mean absolute 4-neighbour Laplacian of luma (0..1) at HAM10000's scale (short side 150 px): HAM10000's
    photos have a median of 0.017 and a minimum of 0.0056; a Gaussian blur of 1.6 px at that scale leaves about 0.005."""
    from scipy import ndimage

    luma = (np.asarray(_working_copy(img), dtype=np.float64) / 255.0) @ LUMA
    if min(luma.shape) < 3:
        return float("inf")  # too small to measure: never sharpened
    return float(np.abs(ndimage.laplace(luma))[1:-1, 1:-1].mean())


class Sharpener(_TrainingCeiling):
    """The least sharp a training photo is (``sharpness``); ``apply`` unsharp-masks an image below it."""

    PERCENTILE = SHARPEN_PERCENTILE
    DIGITS = 5
    WHAT = "a sharpening gate (a sharpness in (0, 1))"
    LABEL, STATISTIC = "sharpening gate", "sharpness"
    statistic = staticmethod(sharpness)

    @classmethod
    def fitted_as(cls) -> str:
        return "the least sharp train photo"

    def radius(self, value: float) -> float:
        """The unsharp-mask radius (px at HAM's scale) for a photo of this sharpness; 0 at or above the gate."""
        if value >= self.ceiling:
            return 0.0
        return float(np.clip(SHARPEN_RADIUS_PER_UNIT * self.ceiling / max(value, 1e-9), *SHARPEN_RADIUS_RANGE))

    def apply(self, img: Image.Image) -> Image.Image:
        """``img`` itself at or above the gate; otherwise unsharp-masked (``SHARPEN_AMOUNT``) with ``radius``,
        scaled to the photo's size."""
        from PIL import ImageFilter

        radius = self.radius(sharpness(img))
        if radius == 0.0:
            return img
        scale = max(1.0, min(img.size) / WORKING_SCALE_SIDE)
        return img.convert("RGB").filter(ImageFilter.UnsharpMask(radius * scale, SHARPEN_AMOUNT, 0))


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
    LABEL, STATISTIC = "hair ceiling", "hair share"

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


# The checks a classifier head can carry, in the order ``InputRange.apply`` runs them, and the ones `dermagraph train
# classifier` fits by default (sharpening and hair removal failed their val rules: opt-in).
CHECKS: dict[str, Any] = {"exposure_floor": ExposureFloor, "deblocker": Deblocker, "denoiser": Denoiser,
                          "sharpener": Sharpener, "hair": HairRemover}
INPUT_RANGE_KEYS = tuple(CHECKS)
DEFAULT_INPUT_RANGE = ("exposure_floor", "deblocker", "denoiser")


@dataclass(frozen=True)
class InputRange:
    """The input checks one classifier head carries (None: not fitted). ``apply`` gives what the members see: lifted to
    the exposure floor, deblocked, denoised, sharpened, then its hair filled, each only for an image outside the training
    photos' range on that check; an image inside it on every check is returned as it is (the same object)."""

    exposure_floor: ExposureFloor | None = None
    deblocker: Deblocker | None = None
    denoiser: Denoiser | None = None
    sharpener: Sharpener | None = None
    hair: HairRemover | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The checks carried, in ``INPUT_RANGE_KEYS`` order."""
        return tuple(key for key in INPUT_RANGE_KEYS if getattr(self, key) is not None)

    def apply(self, img: Image.Image) -> Image.Image:
        return self.apply_noting(img)[0]

    def apply_noting(self, img: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
        """(what the members see, the checks that changed the photo: empty for a photo inside the range on all)."""
        changed = []
        for key in self.keys:
            out = getattr(self, key).apply(img)
            if out is not img:
                changed.append(key)
            img = out
        return img, tuple(changed)

    def describe(self) -> list[str]:
        """One line per check carried (the training log's)."""
        return [getattr(self, key).describe() for key in self.keys]

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {key: getattr(self, key).to_dict() for key in self.keys}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "InputRange":
        """From ``to_dict`` (or any mapping holding some of its keys: a classifier head's, which has more)."""
        return cls(**{key: CHECKS[key].from_dict(raw[key]) for key in INPUT_RANGE_KEYS if key in raw})

    @classmethod
    def fit(cls, images: Iterable[Image.Image], keys: Iterable[str] = DEFAULT_INPUT_RANGE) -> "InputRange":
        """The named checks fitted on the training photos, each photo read once (none read when no check is named)."""
        keys = tuple(keys)
        if unknown := [key for key in keys if key not in CHECKS]:
            raise ValueError(f"unknown input checks {', '.join(unknown)}; known: {', '.join(INPUT_RANGE_KEYS)}")
        if not keys:
            return cls()
        stats: dict[str, list] = {key: [] for key in keys}
        for img in images:
            for key in keys:
                stats[key].append(CHECKS[key].statistic(img))
        return cls(**{key: CHECKS[key].from_stats(values) for key, values in stats.items()})


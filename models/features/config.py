"""Every threshold and colour definition of the lesion-feature analyser, in one place.

The values and where they come from are explained in ``docs/features.md``. Cut-offs that turn a
measurement into words ("asymmetric", "irregular border", "abrupt edge") sit near the upper
quartile of naevi in the training split (annotated outlines) or, for the segmenter's outlines,
the val split; ``python -m training.feature_reference`` prints the percentiles they come from.
The test split never tuned any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DelineationLimits:
    """When the segmentation is not trusted enough to measure anything."""

    # Below this share of the image the "lesion" is a speck: no lesion found. The smallest of the
    # 10,015 HAM10000 ground-truth lesions covers 0.38% (1st percentile 1.45%).
    min_area_fraction: float = 0.003
    # Above this share with all four image edges touched, the border is outside the frame.
    max_area_fraction: float = 0.90
    # Mean certainty max(p, 1-p) of the model in a band around its own outline; low means the model
    # saw no clear edge. On val, 2% of lesions fall below 0.62 (their outlines average Dice 0.7);
    # patches of plain skin score 0.55-0.64.
    min_border_confidence: float = 0.62
    # Colour difference (CIE76 delta E) between the lesion and the skin around it; a lesion that
    # does not differ from its surround is not a lesion that can be measured.
    min_contrast_delta_e: float = 4.0
    # Images whose pixels hardly vary at all (standard deviation of L*, 0-100) have nothing to segment.
    min_image_lightness_std: float = 1.5


@dataclass(frozen=True)
class ShapeThresholds:
    """Cut-offs for asymmetry and border statements."""

    # Shape asymmetry: share of the lesion that does not overlap its mirror image across an axis
    # (train naevi: median 0.06 per axis, upper quartile 0.08; melanoma 0.08 and 0.11).
    asymmetric_shape_above: float = 0.10
    # Colour asymmetry: delta E between the mean colours of the two halves on either side of an axis
    # (train naevi, larger of the two axes: upper quartile 7.6; melanoma 10.0).
    asymmetric_colour_above: float = 8.0
    # Edge steepness: mean |grad L*| across the border, L* units per pixel at the measuring scale.
    # Train naevi (whole border): upper quartile 4.0; melanoma 5.1.
    abrupt_edge_above: float = 4.0
    border_segments: int = 8  # the ABCD rule scores the border in eight segments


Outline = Literal["annotated", "segmenter"]


@dataclass(frozen=True)
class BorderCutoffs:
    """When a border is called irregular: compactness or concavity above the cut-off.

    Compactness P^2 / (4 pi A) is 1 for a circle and larger for ragged or elongated outlines (a
    smooth 2:1 ellipse is 1.19); concavity 1 - A / A(convex hull) is the share of the hull the
    lesion leaves empty (notches, lobes). The segmenter draws smoother outlines than annotators do
    (val: mean compactness 1.16 vs 1.22), so each kind of outline is compared with naevi outlined
    the same way: both cut-offs sit at the 85th percentile of naevi, which calls about 22-23% of
    naevi and 37-44% of melanomas irregular (annotated: train split; segmenter: val split).
    """

    irregular_compactness_above: float
    notched_concavity_above: float


BORDER: dict[str, BorderCutoffs] = {
    "annotated": BorderCutoffs(irregular_compactness_above=1.28, notched_concavity_above=0.05),
    "segmenter": BorderCutoffs(irregular_compactness_above=1.23, notched_concavity_above=0.04),
}


@dataclass(frozen=True)
class ColourDef:
    key: str
    name_en: str
    name_zh: str
    srgb: tuple[int, int, int]  # reference colour; each lesion pixel goes to the nearest one


# The six colours of the ABCD rule of dermatoscopy (Stolz et al. 1994). The reference values are
# ours, chosen as typical appearances after white balancing (see docs/features.md).
COLOURS: tuple[ColourDef, ...] = (
    ColourDef("light_brown", "light brown", "浅棕色", (186, 134, 96)),
    ColourDef("dark_brown", "dark brown", "深棕色", (110, 66, 46)),
    ColourDef("black", "black", "黑色", (38, 30, 30)),
    ColourDef("blue_grey", "blue-grey", "蓝灰色", (106, 114, 134)),
    ColourDef("red", "red", "红色", (196, 84, 92)),
    ColourDef("white", "white", "白色", (236, 232, 230)),
)


@dataclass(frozen=True)
class ColourRules:
    # A colour is "present" when at least this share of the lesion's pixels is nearest to it.
    min_share: float = 0.05
    # Pixels nearer than this (delta E) to the patient's own surrounding skin count as skin-coloured.
    skin_delta_e: float = 10.0
    # Blue-grey must be no more yellow than the surrounding skin (b* at most this much above it):
    # otherwise pale greyish-tan pigment, common in naevi, would be called blue-grey.
    blue_grey_max_b_above_skin: float = 2.0
    # White must be lighter than the surrounding skin by at least this much L*: white in dermoscopy
    # (regression, scar-like areas) is whiter than the skin around the lesion.
    white_min_l_above_skin: float = 3.0
    # Colours are read this many pixels (at the measuring scale) inside the outline: pixels on the
    # outline blend lesion and skin.
    interior_margin: int = 2
    # Shades-of-grey colour constancy (Finlayson & Trezzi 2004; Barata et al. 2015 for dermoscopy).
    shades_of_grey_p: int = 6
    # Colour variegation (RMS delta E from the lesion's mean colour): words for the ranges, at the
    # quartiles of train naevi (12.0 and 16.5; melanoma 13.1 and 18.6).
    variegation_marked_above: float = 16.5
    variegation_low_below: float = 12.0


# Everything is measured at this long side (pixels), the resolution of the HAM10000 images in this
# repo, so a border measured on a 4000-pixel upload means the same as one measured on the data.
MEASURE_LONG_SIDE = 200

DELINEATION = DelineationLimits()
SHAPE = ShapeThresholds()
COLOUR_RULES = ColourRules()
COLOUR_KEYS: tuple[str, ...] = tuple(c.key for c in COLOURS)

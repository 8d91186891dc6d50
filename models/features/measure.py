"""Measure a lesion from its image and mask: size, asymmetry, border, colours.

Everything is measured at ``MEASURE_LONG_SIDE`` pixels (the HAM10000 resolution), on the largest
connected region of the mask with its holes filled, so a measurement means the same on an upload
as on the data and on a predicted mask as on a ground-truth one.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial import ConvexHull

from knowledge.images import ImageSource, open_image
from models.features.colour import nearest_colour, shades_of_grey, srgb_to_lab
from models.features.config import BORDER, COLOUR_RULES, COLOURS, MEASURE_LONG_SIDE, SHAPE, Outline
from models.features.schema import LesionFeatures

MIN_LESION_PIXELS = 30  # at the measuring scale; fewer cannot carry a border or an axis
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def measuring_size(width: int, height: int) -> tuple[int, int]:
    scale = MEASURE_LONG_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_measuring_scale(img: Image.Image, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) float RGB in [0, 1] and (h, w) bool mask at the measuring scale."""
    size = measuring_size(*img.size)
    rgb = np.asarray(img.resize(size, Image.BILINEAR), dtype=np.float64) / 255.0
    if mask.shape[::-1] == size:
        return rgb, mask.astype(bool)
    soft = Image.fromarray(mask.astype(np.float32)).resize(size, Image.BILINEAR)
    return rgb, np.asarray(soft) >= 0.5


def main_region(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected region, holes filled (a lesion is measured as one solid shape)."""
    labels, n = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    return ndimage.binary_fill_holes(labels == (1 + int(sizes.argmax())))


def edges_touched(mask: np.ndarray) -> int:
    return int(mask[0, :].any()) + int(mask[-1, :].any()) + int(mask[:, 0].any()) + int(mask[:, -1].any())


def outer_contour(mask: np.ndarray) -> np.ndarray:
    """(N, 2) closed outline (y, x) at sub-pixel precision.

    Marching squares on the mask blurred by one pixel: on the raw pixel staircase a digital disc
    measures compactness 1.10 instead of 1; blurred, 1.01.
    """
    from contourpy import contour_generator

    padded = ndimage.gaussian_filter(np.pad(mask.astype(np.float64), 3), sigma=1.0)
    lines = contour_generator(z=padded, line_type="Separate").lines(0.5)
    longest = max(lines, key=len)  # holes are filled, so the outline is the longest line
    return longest[:, ::-1] - 3.0  # contourpy gives (x, y) in padded coordinates


def _polygon_area(points: np.ndarray) -> float:
    y, x = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _perimeter(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(np.vstack([points, points[:1]]), axis=0), axis=1).sum())


def principal_axes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (y, x) and the unit axis directions (major, minor) as rows, from second moments."""
    coords = np.argwhere(mask).astype(np.float64)
    centroid = coords.mean(axis=0)
    cov = np.cov((coords - centroid).T) if len(coords) > 1 else np.eye(2)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    return centroid, eigvecs[:, order].T


def _mirror(field: np.ndarray, centroid: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """``field`` reflected across the line through ``centroid`` along ``axis`` (bilinear, 0 outside)."""
    h, w = field.shape
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1).reshape(-1, 2).astype(np.float64)
    rel = grid - centroid
    reflected = centroid + 2.0 * (rel @ axis)[:, None] * axis[None, :] - rel
    return ndimage.map_coordinates(field.astype(np.float64), reflected.T, order=1, cval=0.0).reshape(h, w)


def shape_asymmetry(mask: np.ndarray, centroid: np.ndarray, axis: np.ndarray) -> float:
    """Share of the lesion that its mirror image across ``axis`` does not cover (0 = symmetric)."""
    m = mask.astype(np.float64)
    return float(np.abs(m - _mirror(m, centroid, axis)).sum() / (2.0 * m.sum()))


def colour_asymmetry(lab: np.ndarray, mask: np.ndarray, centroid: np.ndarray, axis: np.ndarray) -> float:
    """Delta E between the mean colours of the lesion's two halves on either side of ``axis``."""
    coords = np.argwhere(mask).astype(np.float64)
    normal = np.array([-axis[1], axis[0]])
    side = (coords - centroid) @ normal > 0
    if side.all() or not side.any():
        return 0.0
    pixels = lab[mask]
    return float(np.linalg.norm(pixels[side].mean(axis=0) - pixels[~side].mean(axis=0)))


def edge_steepness(lightness: np.ndarray, contour: np.ndarray, centroid: np.ndarray, start: np.ndarray) -> list[float]:
    """Mean |grad L*| across the border in each of ``SHAPE.border_segments`` angular segments.

    The gradient is taken at the steepest point within 2 pixels of the outline, so a mask that is
    a pixel or two off the visible edge still measures that edge. Segments start at the major axis.
    """
    grad = ndimage.gaussian_gradient_magnitude(lightness, sigma=1.0)
    grad = ndimage.maximum_filter(grad, size=5)
    values = ndimage.map_coordinates(grad, contour.T, order=1, mode="nearest")
    rel = contour - centroid
    angle = np.arctan2(rel[:, 0], rel[:, 1]) - math.atan2(start[0], start[1])
    n = SHAPE.border_segments
    segment = np.floor((angle % (2 * math.pi)) / (2 * math.pi) * n).astype(int) % n
    overall = float(values.mean())
    return [float(values[segment == k].mean()) if (segment == k).any() else overall for k in range(n)]


def surrounding_skin(lab: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Median colour of the skin a few pixels away from the lesion (None when too little is visible).

    Very dark pixels are left out: they are the dermoscope's vignette or frame, not skin.
    """
    away = ~ndimage.binary_dilation(mask, iterations=5)
    skin = lab[away & (lab[..., 0] > 25.0)]
    if len(skin) < 200:
        return None
    return np.median(skin, axis=0)


def colour_region(lesion: np.ndarray) -> np.ndarray:
    """The lesion without its outermost pixels (they blend lesion and skin); all of it if that leaves too little."""
    inner = ndimage.binary_erosion(lesion, iterations=COLOUR_RULES.interior_margin)
    return inner if inner.sum() >= MIN_LESION_PIXELS else lesion


def _round(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def measure_lesion(img: ImageSource, mask: np.ndarray, outline: Outline = "annotated") -> LesionFeatures:
    """Measure the lesion outlined by ``mask`` (H, W bool, the image's size) on ``img``.

    ``outline`` says who drew the mask (a person, or the segmenter); the border words compare it
    with naevi outlined the same way.
    """
    if outline not in BORDER:
        raise ValueError(f"outline {outline!r} is not one of {', '.join(BORDER)}")
    img = open_image(img)
    mask = np.asarray(mask)
    if mask.shape != (img.height, img.width):
        raise ValueError(f"mask shape {mask.shape} does not match the image ({img.height}, {img.width})")
    rgb, small = to_measuring_scale(img, mask.astype(bool))
    lesion = main_region(small)
    if lesion.sum() < MIN_LESION_PIXELS:
        raise ValueError(
            f"the mask covers {int(lesion.sum())} pixels at the measuring scale; at least {MIN_LESION_PIXELS} are needed"
        )
    lab = srgb_to_lab(shades_of_grey(rgb))
    h, w = lesion.shape

    contour = outer_contour(lesion)
    area = _polygon_area(contour)
    hull = ConvexHull(contour)
    hull_points = contour[hull.vertices]
    diameter = float(np.max(np.linalg.norm(hull_points[:, None] - hull_points[None], axis=2)))

    centroid, axes = principal_axes(lesion)
    shape_asym = tuple(_round(shape_asymmetry(lesion, centroid, a)) for a in axes)
    colour_asym = tuple(_round(colour_asymmetry(lab, lesion, centroid, a), 2) for a in axes)
    asymmetric = sum(
        s > SHAPE.asymmetric_shape_above or c > SHAPE.asymmetric_colour_above for s, c in zip(shape_asym, colour_asym)
    )

    steepness = edge_steepness(lab[..., 0], contour, centroid, axes[0])

    pixels = lab[lesion]
    skin = surrounding_skin(lab, lesion)
    nearest = nearest_colour(lab[colour_region(lesion)], skin)
    shares = {c.key: _round(np.mean(nearest == i)) for i, c in enumerate(COLOURS)}
    present = [c.key for c in COLOURS if shares[c.key] >= COLOUR_RULES.min_share]
    variegation = float(np.sqrt(np.mean(np.sum((pixels - pixels.mean(axis=0)) ** 2, axis=1))))
    contrast = float(np.linalg.norm(np.median(pixels, axis=0) - skin)) if skin is not None else None

    return LesionFeatures(
        outline=outline,
        area_fraction=_round(lesion.mean()),
        diameter_fraction=_round(diameter / max(h, w)),
        edges_touched=edges_touched(lesion),
        shape_asymmetry=shape_asym,
        colour_asymmetry=colour_asym,
        asymmetric_axes=int(asymmetric),
        compactness=_round(_perimeter(contour) ** 2 / (4 * math.pi * area)),
        concavity=_round(1.0 - area / hull.volume),
        edge_steepness=tuple(_round(s, 2) for s in steepness),
        abrupt_segments=int(sum(s > SHAPE.abrupt_edge_above for s in steepness)),
        colour_shares=shares,
        colours=present,
        colour_count=len(present),
        variegation=_round(variegation, 2),
        lesion_skin_contrast=None if contrast is None else _round(contrast, 2),
    )

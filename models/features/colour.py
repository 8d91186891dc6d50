"""Colour: white balancing, sRGB -> CIELAB, and the six dermoscopic reference colours."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from knowledge.images import shades_of_grey as _shades_of_grey
from models.features.config import COLOUR_KEYS, COLOUR_RULES, COLOURS

# sRGB (D65) -> XYZ, IEC 61966-2-1.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in [0, 1] -> (..., 3) CIELAB (L* 0-100)."""
    rgb = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def shades_of_grey(rgb: np.ndarray, p: int = COLOUR_RULES.shades_of_grey_p) -> np.ndarray:
    """White balance before naming colours: without it a yellowish device would turn every light-brown
    lesion "dark brown" (``knowledge.images.shades_of_grey``)."""
    return _shades_of_grey(rgb, p)


@lru_cache(maxsize=1)
def reference_labs() -> np.ndarray:
    """(6, 3) CIELAB of the reference colours, in ``COLOURS`` order."""
    return srgb_to_lab(np.array([c.srgb for c in COLOURS], dtype=np.float64) / 255.0)


def nearest_colour(lab_pixels: np.ndarray, skin_lab: np.ndarray | None) -> np.ndarray:
    """Index into ``COLOURS`` of the nearest reference colour per pixel; -1 for skin-coloured pixels.

    Relative to the patient's own surrounding skin (when visible): a pixel within ``skin_delta_e``
    of it is skin-coloured, not "light brown"; blue-grey must not be yellower than the skin and
    white must be lighter than it, as a dermatologist judges colour against the surround.
    """
    refs = reference_labs()
    dist = np.linalg.norm(lab_pixels[:, None, :] - refs[None, :, :], axis=2)
    skin_l, skin_b = (float(skin_lab[0]), float(skin_lab[2])) if skin_lab is not None else (None, 0.0)
    blue, white = COLOUR_KEYS.index("blue_grey"), COLOUR_KEYS.index("white")
    dist[lab_pixels[:, 2] > skin_b + COLOUR_RULES.blue_grey_max_b_above_skin, blue] = np.inf
    if skin_l is not None:
        dist[lab_pixels[:, 0] < skin_l + COLOUR_RULES.white_min_l_above_skin, white] = np.inf
    nearest = dist.argmin(axis=1)
    if skin_lab is not None:
        to_skin = np.linalg.norm(lab_pixels - skin_lab[None, :], axis=1)
        nearest = np.where((to_skin < COLOUR_RULES.skin_delta_e) & (to_skin < dist.min(axis=1)), -1, nearest)
    return nearest

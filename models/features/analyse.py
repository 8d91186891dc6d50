"""Segment, check, measure, describe: ``analyse_lesion(img) -> LesionAnalysis``.

An image is only measured when the segmentation can be trusted; otherwise the result says
why not ("could not delineate"), in words a user can act on, with the values behind the decision.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

from knowledge.images import ImageSource, open_image
from knowledge.input_range import ExposureFloor
from models.features.colour import srgb_to_lab
from models.features.config import DELINEATION
from models.features.describe import describe
from models.features.measure import edges_touched, main_region, measure_lesion, measuring_size
from models.features.schema import LesionAnalysis
from models.features.segmenter import Segmenter, load_segmenter


def border_confidence(prob: np.ndarray, mask: np.ndarray) -> float:
    """Mean certainty max(p, 1 - p) in a 6-pixel band around the outline, the outline itself left out.

    A clear lesion has a sharp probability step: certain on both sides of a thin uncertain line.
    A model guessing at a blank or unfamiliar image is uncertain across a wide band.
    """
    outer = ndimage.binary_dilation(mask, iterations=4) & ~ndimage.binary_dilation(mask, iterations=1)
    inner = ~ndimage.binary_erosion(mask, iterations=4) & ndimage.binary_erosion(mask, iterations=1) & mask
    band = outer | inner
    if not band.any():
        return 0.0
    return float(np.maximum(prob[band], 1.0 - prob[band]).mean())


def _under(value: float, limit: float, lang: str = "en", digits: int = 2) -> str:
    """"0.615, under 0.62": as many decimals as it takes for the value not to read as equal to its limit."""
    while digits < 4 and f"{value:.{digits}f}" == f"{limit:.{digits}f}":
        digits += 1
    v, lim = f"{value:.{digits}f}", f"{limit:.{digits}f}".rstrip("0").rstrip(".")
    return f"{v}，低于{lim}" if lang == "zh" else f"{v}, under {lim}"


def _refuse(reason: str, reason_zh: str, shape: tuple[int, int], checks: dict[str, float]) -> LesionAnalysis:
    return LesionAnalysis(delineated=False, reason=reason, reason_zh=reason_zh, mask=np.zeros(shape, dtype=bool),
                          checks={k: round(float(v), 4) for k, v in checks.items()})


def analyser_config() -> dict:
    """What ``analyse_lesion``'s output depends on besides the image: the shipped segmenter and exposure floor
    (a cache or an artifact fitted on its output records this, and is stale when it changes)."""
    from knowledge.artifacts import read_manifest
    from knowledge.settings import get_settings
    from models.encoder.ensemble import shipped_exposure_floor

    floor = shipped_exposure_floor()
    return {"segmenter_config_hash": read_manifest(get_settings().artifacts_dir / "segmenter").config_hash,
            "exposure_floor": floor.to_dict() if floor is not None else None}


def analyse_lesion(img: ImageSource, segmenter: Segmenter | None = None,
                   floor: ExposureFloor | Literal["shipped"] | None = "shipped") -> LesionAnalysis:
    """Outline the lesion on ``img``, measure it and describe it, or say why it could not be outlined.

    ``floor``: an under-exposed or flat photo is first lifted to the training photos' exposure floor, as the
    classifier sees it (``"shipped"``: the shipped classifier head's floor; None: measured as uploaded). A photo
    at 40% exposure otherwise reads as one colour, black. Returned masks fit the upload (the lift keeps the size)."""
    img = open_image(img)
    if floor == "shipped":
        from models.encoder.ensemble import shipped_exposure_floor

        floor = shipped_exposure_floor()
    if floor is not None:
        img = floor.lift(img)
    segmenter = segmenter or load_segmenter()
    shape = (img.height, img.width)
    small_size = measuring_size(*img.size)
    small = img.resize(small_size, Image.BILINEAR)
    lightness_std = float(srgb_to_lab(np.asarray(small, dtype=np.float64) / 255.0)[..., 0].std())
    checks: dict[str, float] = {"image_lightness_std": lightness_std}
    if lightness_std < DELINEATION.min_image_lightness_std:
        return _refuse(
            "the image is almost uniform, with no lesion to outline",
            "图像几乎是均匀的，没有可勾画的病变",
            shape, checks,
        )

    sizes = [small_size] if small_size == img.size else [small_size, img.size]
    probs = segmenter.probabilities(img, sizes)
    prob_small = probs[0]
    mask_small = main_region(prob_small >= segmenter.threshold)
    area = float(mask_small.mean())
    checks["area_fraction"] = area
    if area < DELINEATION.min_area_fraction:
        return _refuse(
            f"no lesion found: the outlined area is {area:.1%} of the image, under the {DELINEATION.min_area_fraction:.1%} minimum",
            f"未找到病变：勾画出的区域仅占图像的{area:.1%}，低于{DELINEATION.min_area_fraction:.1%}的下限",
            shape, checks,
        )
    touched = edges_touched(mask_small)
    checks["edges_touched"] = touched
    if area > DELINEATION.max_area_fraction and touched == 4:
        return _refuse(
            f"the lesion fills {area:.0%} of the image and runs past all four edges, so its border is not visible",
            f"病变占图像的{area:.0%}并超出全部四条边缘，看不到其边界",
            shape, checks,
        )
    confidence = border_confidence(prob_small, mask_small)
    checks["border_confidence"] = confidence
    if confidence < DELINEATION.min_border_confidence:
        return _refuse(
            f"the outline is uncertain: border confidence {_under(confidence, DELINEATION.min_border_confidence)}",
            f"勾画的轮廓不可靠，边界置信度{_under(confidence, DELINEATION.min_border_confidence, 'zh')}",
            shape, checks,
        )

    mask = _full_size_mask(probs[-1], segmenter.threshold, mask_small)
    features = measure_lesion(img, mask, outline="segmenter")
    contrast = features.lesion_skin_contrast
    if contrast is not None:
        checks["lesion_skin_contrast"] = contrast
        if contrast < DELINEATION.min_contrast_delta_e:
            return _refuse(
                f"the outlined area hardly differs from the surrounding skin: ΔE {_under(contrast, DELINEATION.min_contrast_delta_e, digits=1)}",
                f"勾画的区域与周围皮肤几乎没有差别，ΔE {_under(contrast, DELINEATION.min_contrast_delta_e, 'zh', 1)}",
                shape, checks,
            )
    return LesionAnalysis(delineated=True, mask=mask, features=features, statements=describe(features),
                          checks={k: round(float(v), 4) for k, v in checks.items()})


def _full_size_mask(prob: np.ndarray, threshold: float, mask_small: np.ndarray) -> np.ndarray:
    """The lesion at the image's own size: the upsampled probabilities, restricted to the kept region."""
    if prob.shape == mask_small.shape:
        return mask_small
    height, width = prob.shape
    region = np.asarray(Image.fromarray(mask_small).resize((width, height), Image.NEAREST))
    keep = ndimage.binary_dilation(region, iterations=max(1, round(max(width, height) / 200)))
    return main_region((prob >= threshold) & keep)

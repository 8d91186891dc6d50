"""The intake gate: is this a usable dermoscopy image? Refuse blank frames, documents, cats.

Each check is a measured number with a threshold calibrated on HAM10000 **val** images only (the
threshold keeps ``1 - quantile`` of val images on the accepted side), so the gate accepts real
dermoscopy by construction and refuses what lies outside its range. The strongest check is the
image embedding's cosine similarity to its nearest reference case: a cat or an invoice has no
near neighbour among 8,000 dermoscopy images. OOD test images never tune anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
from PIL import Image, ImageFilter
from pydantic import BaseModel

from knowledge.artifacts import Manifest, atomic_write_text, read_manifest, write_manifest

from agents.state import IntakeResult

Direction = Literal["min", "max"]

# check name -> (direction, reason in English, reason in Chinese)
CHECKS: dict[str, tuple[Direction, str, str]] = {
    "luminance_std": ("min", "the image is blank or almost uniform", "图像是空白的或几乎没有变化"),
    "luminance_mean_low": ("min", "the image is too dark", "图像太暗"),
    "luminance_mean_high": ("max", "the image is too bright or overexposed", "图像太亮或过度曝光"),
    "sharpness": ("min", "the image is too blurred", "图像太模糊"),
    "colourfulness": ("min", "the image has almost no colour (greyscale, a scan or a document)", "图像几乎没有颜色（灰度图、扫描件或文档）"),
    "skin_fraction": ("min", "too little of the image has skin colours", "图像中皮肤颜色的部分太少"),
    "neighbour_similarity": ("min", "it does not resemble any dermoscopy image in the reference set", "它与参考库中的任何皮肤镜图像都不相似"),
}
STAT_SIZE = (200, 150)


def image_statistics(img: Image.Image) -> dict[str, float]:
    """Cheap pixel statistics, on a fixed-size copy so thresholds do not depend on resolution."""
    small = img.convert("RGB").resize(STAT_SIZE if img.width >= img.height else STAT_SIZE[::-1], Image.BILINEAR)
    rgb = np.asarray(small, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    edges = np.asarray(small.convert("L").filter(ImageFilter.FIND_EDGES), dtype=np.float32)[2:-2, 2:-2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = float(np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    # Skin and lesion tones: red dominant over blue, not grey (YCrCb-style chroma box, generous).
    cr = 0.5 * r - 0.4187 * g - 0.0813 * b + 128
    cb = -0.1687 * r - 0.3313 * g + 0.5 * b + 128
    skin = (cr > 133) & (cr < 185) & (cb > 70) & (cb < 135)
    return {
        "luminance_std": float(lum.std()),
        "luminance_mean_low": float(lum.mean()),
        "luminance_mean_high": float(lum.mean()),
        "sharpness": float(edges.var()),
        "colourfulness": colourfulness,
        "skin_fraction": float(skin.mean()),
    }


class IntakeCalibration(BaseModel):
    thresholds: dict[str, float]
    quantile: float
    n_val: int
    val_accept_rate: float


def nearest_similarity(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (L2-normalised) embedding to its nearest reference embedding."""
    return (np.asarray(embeddings, np.float32) @ reference.T).max(axis=1)


def calibrate_intake(
    val_images: Sequence[Image.Image],
    val_similarity: np.ndarray,
    quantile: float = 0.005,
) -> IntakeCalibration:
    """Thresholds at the ``quantile`` tail of val images for every check.

    ``val_similarity``: each val image's similarity to its nearest *train* case (val is not in the
    reference while calibrating, as a new user's image is not).
    """
    stats = [image_statistics(img) for img in val_images]
    values = {name: np.array([s[name] for s in stats]) for name in CHECKS if name != "neighbour_similarity"}
    values["neighbour_similarity"] = np.asarray(val_similarity, dtype=np.float64)
    thresholds = {}
    for name, (direction, _, _) in CHECKS.items():
        v = values[name]
        thresholds[name] = float(np.quantile(v, quantile if direction == "min" else 1 - quantile))
    accepted = np.ones(len(val_images), dtype=bool)
    for name, (direction, _, _) in CHECKS.items():
        v = values[name]
        accepted &= v >= thresholds[name] if direction == "min" else v <= thresholds[name]
    return IntakeCalibration(thresholds=thresholds, quantile=quantile, n_val=len(val_images),
                             val_accept_rate=float(accepted.mean()))


@dataclass
class IntakeGate:
    calibration: IntakeCalibration
    reference: np.ndarray  # (N, D) L2-normalised embeddings of the reference cases
    embed: Callable[[Sequence[Image.Image]], np.ndarray]

    def measure(self, img: Image.Image, embedding: np.ndarray | None = None) -> dict[str, float]:
        checks = image_statistics(img)
        emb = self.embed([img]) if embedding is None else np.asarray(embedding)[None]
        checks["neighbour_similarity"] = float(nearest_similarity(emb, self.reference)[0])
        return checks

    def check(self, img: Image.Image, embedding: np.ndarray | None = None) -> IntakeResult:
        checks = self.measure(img, embedding)
        for name, (direction, reason_en, reason_zh) in CHECKS.items():
            limit = self.calibration.thresholds[name]
            value = checks[name]
            failed = value < limit if direction == "min" else value > limit
            if failed:
                return IntakeResult(accepted=False, reason=f"this does not look like a usable dermoscopy image: {reason_en}",
                                    reason_zh=f"这看起来不像可用的皮肤镜图像：{reason_zh}", checks=checks,
                                    width=img.width, height=img.height)
        return IntakeResult(accepted=True, checks=checks, width=img.width, height=img.height)


CALIBRATION_FILE = "intake.json"


def save_calibration(folder: Path, calibration: IntakeCalibration, manifest: Manifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CALIBRATION_FILE, calibration.model_dump_json(indent=2) + "\n")
    write_manifest(folder, manifest)


def load_calibration(folder: Path) -> IntakeCalibration:
    read_manifest(folder)  # raises a clear ArtifactError when it was never built
    return IntakeCalibration.model_validate(json.loads((folder / CALIBRATION_FILE).read_text()))

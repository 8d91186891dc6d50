"""The intake gate: is this a usable dermoscopy image? Refuse blank frames, documents, cats.

Each check is a measured number with a threshold calibrated on HAM10000 **val** images only (the
threshold keeps ``1 - quantile`` of val images on the accepted side), so the gate accepts real
dermoscopy by construction and refuses what lies outside its range. The strongest check is how
typical the image's ImageNet-tower features are of dermoscopy: a Mahalanobis distance in the top
principal components of train-image features, plus the residual off them (Lee et al., NeurIPS
2018): a cat or an invoice lies far outside. The trained embedding is *not* used for this, since
its contrastive training pulls every input toward some class cluster. The method was chosen on a
separate OOD dev set (Gradio, Matplotlib and scikit-learn sample photos); the OOD test set in
``evals/data/ood`` never tunes anything.
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
from knowledge.input_range import blockiness

from agents.state import IntakeResult

Direction = Literal["min", "max"]

# check name -> (direction, reason in English, reason in Chinese); a refusal names the first failing check in this
# order (the most specific first: a logo that is also "too bright" is called a graphic) and lists the others.
CHECKS: dict[str, tuple[Direction, str, str]] = {
    "neighbour_correlation": ("min", "it looks like random noise, not a photograph of skin",
                              "它看起来像随机噪声，而不是皮肤照片"),
    "luminance_std": ("min", "the image is blank or almost uniform", "图像是空白的或几乎没有变化"),
    "graphic": ("max", "it looks like a drawing, logo, icon or screenshot (large flat areas of a few colours), "
                "not a photograph", "它看起来像绘图、标志、图标或截图（大片单一颜色的平坦区域），而不是照片"),
    "atypicality": ("max", "it does not resemble the dermoscopy images the models were trained on", "它与模型训练所用的皮肤镜图像不相似"),
    "luminance_mean_low": ("min", "the image is too dark", "图像太暗"),
    "luminance_mean_high": ("max", "the image is too bright or overexposed", "图像太亮或过度曝光"),
    "sharpness": ("min", "the image is too blurred", "图像太模糊"),
    "colourfulness": ("min", "the image has almost no colour (greyscale, a scan or a document)", "图像几乎没有颜色（灰度图、扫描件或文档）"),
    "skin_fraction": ("min", "too little of the image has skin colours", "图像中皮肤颜色的部分太少"),
}
STAT_SIZE = (200, 150)
# A photo saved at a very low JPEG quality has flat 8x8 blocks that the graphics check reads as a drawing: when its
# block grid is this strong (training photos: at most about 1.8; quality 10 reads about 3.7; a PNG drawing about 1),
# a graphics refusal says what is wrong in words a user can act on.
HEAVY_COMPRESSION_BLOCKINESS = 3.0
COMPRESSED = ("it is too heavily JPEG-compressed (8x8 blocks across the picture, as after sending it through a chat "
              "app); please upload the original photo", "它被压缩得太厉害（整幅图出现 8×8 的方块，像经聊天软件转发后那样），请上传原始照片")


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
        "graphic": _graphic_share(small, lum),
        "neighbour_correlation": _neighbour_correlation(lum),
        "luminance_std": float(lum.std()),
        "luminance_mean_low": float(lum.mean()),
        "luminance_mean_high": float(lum.mean()),
        "sharpness": float(edges.var()),
        "colourfulness": colourfulness,
        "skin_fraction": float(skin.mean()),
    }


def _graphic_share(small: Image.Image, lum: np.ndarray) -> float:
    """Drawings, logos, icons and screenshots: the smaller of (the share of 5x5 blocks that are perfectly flat, the share
    of pixels in the 8 commonest colours). A photograph has sensor noise and texture everywhere; a graphic (a
    transparent logo lands on a flat background) has large flat areas of a few colours. Val dermoscopy: at most 0.17."""
    h, w = lum.shape
    blocks = lum[: h // 5 * 5, : w // 5 * 5].reshape(h // 5, 5, w // 5, 5).std(axis=(1, 3))
    flat = float((blocks < 0.5).mean())
    _, counts = np.unique((np.asarray(small, np.uint8) // 8).reshape(-1, 3), axis=0, return_counts=True)
    commonest = float(np.sort(counts)[::-1][:8].sum() / counts.sum())
    return min(flat, commonest)


def _neighbour_correlation(lum: np.ndarray) -> float:
    """Correlation of each pixel with its right and lower neighbours: ~0.99 for a photograph (val dermoscopy: at least
    0.78), ~0.2 for random noise, whatever its colour or size."""

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        sa, sb = a.std(), b.std()
        return float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb)) if sa > 0 and sb > 0 else 1.0

    return (corr(lum[:, :-1], lum[:, 1:]) + corr(lum[:-1, :], lum[1:, :])) / 2


class IntakeCalibration(BaseModel):
    thresholds: dict[str, float]
    quantiles: dict[str, float]
    n_val: int
    val_accept_rate: float


@dataclass
class FeatureDensity:
    """A Gaussian in the top-k principal components of train features, plus the residual off them."""

    mean: np.ndarray  # (F,)
    components: np.ndarray  # (k, F)
    variances: np.ndarray  # (k,)
    residual_variance: float  # mean squared residual per train image

    @classmethod
    def fit(cls, features: np.ndarray, k: int = 64) -> "FeatureDensity":
        x = np.asarray(features, np.float64)
        mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        comps = vt[:k]
        variances = s[:k] ** 2 / (len(x) - 1)
        centred = x - mean
        residual = centred - (centred @ comps.T) @ comps
        return cls(mean.astype(np.float32), comps.astype(np.float32), variances.astype(np.float32),
                   float((residual**2).sum(1).mean()))

    def atypicality(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance in the components, plus the residual scaled to count as k more dimensions."""
        centred = np.asarray(features, np.float32) - self.mean
        z = centred @ self.components.T
        residual = centred - z @ self.components
        k = len(self.variances)
        return (z**2 / self.variances).sum(1) + (residual**2).sum(1) / self.residual_variance * k

    def save(self, path: Path) -> None:
        import io

        from knowledge.artifacts import atomic_write_bytes

        buf = io.BytesIO()
        np.savez_compressed(buf, mean=self.mean, components=self.components.astype(np.float16),
                            variances=self.variances, residual_variance=np.float32(self.residual_variance))
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "FeatureDensity":
        with np.load(path) as d:
            return cls(d["mean"], d["components"].astype(np.float32), d["variances"], float(d["residual_variance"]))


# Tail share of val images each check may refuse: the feature density is the real OOD test and
# gets 1%; the pixel checks only catch unusable frames (blank, dark, blurred) and get 0.1% each.
CHECK_QUANTILES: dict[str, float] = {name: (0.01 if name == "atypicality" else 0.001) for name in CHECKS}
# Noise and graphics lie far from any photograph: these two checks sit a margin beyond the most extreme val image
# (so they refuse no val image) rather than at a quantile. Val: correlation >= 0.78, graphic share <= 0.17; random
# noise <= 0.6, logos and screenshots >= 0.45 (evals/data/ood and the tests' images, never used to set them).
BEYOND_VAL: dict[str, float] = {"neighbour_correlation": 0.1, "graphic": 0.1}
for _name in BEYOND_VAL:
    CHECK_QUANTILES[_name] = 0.0


def calibrate_intake(val_images: Sequence[Image.Image], val_atypicality: np.ndarray,
                     dev_ood_atypicality: np.ndarray | None = None) -> IntakeCalibration:
    """Each check's threshold at its ``CHECK_QUANTILES`` tail of val images.

    ``val_atypicality``: each val image's atypicality under the density fitted on *train* features.
    ``dev_ood_atypicality``: scores of a small OOD *dev* set (everyday photos). When they all lie
    above the val threshold, the atypicality threshold moves halfway toward the lowest of them:
    as permissive for real dermoscopy as the dev photos allow.
    """
    stats = [image_statistics(img) for img in val_images]
    values = {name: np.array([s[name] for s in stats]) for name in CHECKS if name != "atypicality"}
    values["atypicality"] = np.asarray(val_atypicality, dtype=np.float64)
    thresholds, accepted = {}, np.ones(len(val_images), dtype=bool)
    for name, (direction, _, _) in CHECKS.items():
        q, v = CHECK_QUANTILES[name], values[name]
        thresholds[name] = float(np.quantile(v, q if direction == "min" else 1 - q))
        if name in BEYOND_VAL:
            thresholds[name] += -BEYOND_VAL[name] if direction == "min" else BEYOND_VAL[name]
        if name == "atypicality" and dev_ood_atypicality is not None and len(dev_ood_atypicality):
            lowest_ood = float(np.min(dev_ood_atypicality))
            if lowest_ood > thresholds[name]:
                thresholds[name] = (thresholds[name] + lowest_ood) / 2
        accepted &= v >= thresholds[name] if direction == "min" else v <= thresholds[name]
    return IntakeCalibration(thresholds=thresholds, quantiles=CHECK_QUANTILES, n_val=len(val_images),
                             val_accept_rate=float(accepted.mean()))


@dataclass
class IntakeGate:
    calibration: IntakeCalibration
    density: FeatureDensity
    tower_features: Callable[[Sequence[Image.Image]], np.ndarray]

    def measure(self, img: Image.Image, features: np.ndarray | None = None) -> dict[str, float]:
        checks = image_statistics(img)
        f = self.tower_features([img]) if features is None else np.asarray(features)[None]
        checks["atypicality"] = float(self.density.atypicality(f)[0])
        return checks

    def check(self, img: Image.Image, features: np.ndarray | None = None) -> IntakeResult:
        """Accept or refuse; ``features``: the image's tower features, when already computed.

        A refusal gives the first failing check in ``CHECKS`` order as the reason and names the others after it."""
        checks = self.measure(img, features)
        failed = [name for name, (direction, _, _) in CHECKS.items()
                  if (checks[name] < self.calibration.thresholds[name] if direction == "min"
                      else checks[name] > self.calibration.thresholds[name])]
        if not failed:
            return IntakeResult(accepted=True, checks=checks, width=img.width, height=img.height)
        compressed = "graphic" in failed and blockiness(img) >= HEAVY_COMPRESSION_BLOCKINESS

        def said(name: str) -> tuple[str, str]:
            return COMPRESSED if compressed and name == "graphic" else CHECKS[name][1:]  # type: ignore[return-value]

        first, others = said(failed[0]), [said(name) for name in failed[1:]]
        reason = f"this does not look like a usable dermoscopy image: {first[0]}"
        reason_zh = f"这看起来不像可用的皮肤镜图像：{first[1]}"
        if others:
            reason += "; also, " + "; ".join(o[0] for o in others)
            reason_zh += "；此外，" + "；".join(o[1] for o in others)
        return IntakeResult(accepted=False, reason=reason, reason_zh=reason_zh, checks=checks,
                            width=img.width, height=img.height)


CALIBRATION_FILE = "intake.json"
DENSITY_FILE = "density.npz"


def save_intake(folder: Path, calibration: IntakeCalibration, density: FeatureDensity, manifest: Manifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CALIBRATION_FILE, calibration.model_dump_json(indent=2) + "\n")
    density.save(folder / DENSITY_FILE)
    write_manifest(folder, manifest)


def load_intake(folder: Path) -> tuple[IntakeCalibration, FeatureDensity]:
    read_manifest(folder)  # raises a clear ArtifactError when it was never built
    calibration = IntakeCalibration.model_validate(json.loads((folder / CALIBRATION_FILE).read_text()))
    return calibration, FeatureDensity.load(folder / DENSITY_FILE)

"""The intake gate's artifact (``artifacts/intake``): pixel-check thresholds and the feature density.

Built from train images (the density) and val images (the thresholds) only; tiny (~200 KB),
shipped, rebuilt by ``dermagraph build`` when its config, the data or the split changes (its features come from
the frozen ImageNet tower, ``gate_features``, so retraining the encoder leaves it valid).
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge.artifacts import Manifest, split_fingerprint, staleness
from knowledge.ham10000 import load_dataset
from knowledge.images import open_image
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from models.encoder import DermEncoder

from agents.intake import BEYOND_VAL, CHECK_QUANTILES, FeatureDensity, IntakeCalibration, IntakeGate, calibrate_intake, load_intake, save_intake
GATE_TOWER = "efficientnet_lite0"  # frozen ImageNet weights: "is this a dermoscopy photo?" is asked of generic features


@lru_cache(maxsize=1)
def _gate_tower():
    from models.encoder.model import quiet_loading
    from models.encoder.towers import create_tower

    with quiet_loading():
        return create_tower(GATE_TOWER, top_blocks=0, pretrained=True).eval()


def gate_features(images) -> np.ndarray:
    """Pooled ImageNet features of the frozen tower the gate's density was fitted on.

    Not the fine-tuned encoder's: a tower fine-tuned whole on dermoscopy maps everyday photos closer to
    lesions (with encoder v3's own features 19 of 24 out-of-distribution images were refused, against 23 of
    24 before), and the gate then need not be rebuilt when the encoder is retrained.
    """
    import torch

    from models.encoder.preprocess import to_batch

    tower = _gate_tower()
    with torch.inference_mode():
        return np.concatenate([tower(to_batch(images[i : i + 32], tower.spec)).float().numpy() for i in range(0, len(images), 32)]) \
            if len(images) else np.zeros((0, tower.spec.feature_dim), np.float32)

DENSITY_COMPONENTS = 64
DENSITY_TRAIN_IMAGES = 2000  # a seeded sample of train images is plenty for 64 components


def intake_dir() -> Path:
    return get_settings().artifacts_dir / "intake"


def _config() -> dict:
    return {"quantiles": CHECK_QUANTILES, "components": DENSITY_COMPONENTS, "train_images": DENSITY_TRAIN_IMAGES,
            "features": f"imagenet:{GATE_TOWER}", "checks_version": 5, "beyond_val": BEYOND_VAL, "dev_ood_images": len(dev_ood_images())}


def intake_staleness() -> list[str]:
    dataset = load_dataset()
    return staleness(intake_dir(), _config(), dataset.fingerprint(), split_fingerprint(load_split(dataset=dataset)))


def dev_ood_images() -> list[Path]:
    """Everyday photos shipped inside installed packages: the OOD *dev* set (never the test set)."""
    import importlib.util

    site = Path(importlib.util.find_spec("gradio").origin).parents[1]  # type: ignore[arg-type]
    paths = sorted((site / "gradio" / "media_assets" / "images").glob("*.jpg"))
    paths += sorted((site / "sklearn" / "datasets" / "images").glob("*.jpg"))
    paths += [site / "matplotlib" / "mpl-data" / "sample_data" / "grace_hopper.jpg"]
    return [p for p in paths if p.is_file()]


def _features(records: list, desc: str, progress: bool) -> tuple[list, np.ndarray]:
    images = [open_image(r.image_path) for r in records]
    batches = range(0, len(images), 64)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=desc, unit="batch")
    return images, np.concatenate([gate_features(images[i : i + 64]) for i in batches])


def build_intake(progress: bool = True) -> IntakeCalibration:
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    train = sorted(records_in(dataset, assignment, "train"), key=lambda r: r.image_id)
    sample = random.Random(0).sample(train, min(DENSITY_TRAIN_IMAGES, len(train)))
    _, train_feats = _features(sample, "intake: train features", progress)
    density = FeatureDensity.fit(train_feats, DENSITY_COMPONENTS)
    val_images, val_feats = _features(records_in(dataset, assignment, "val"), "intake: val features", progress)
    dev_ood = dev_ood_images()
    dev_feats = gate_features([open_image(p) for p in dev_ood]) if dev_ood else np.zeros((0, train_feats.shape[1]))
    calibration = calibrate_intake(val_images, density.atypicality(val_feats), density.atypicality(dev_feats))
    manifest = Manifest(
        name="intake", kind="intake-gate", data_fingerprint=dataset.fingerprint(),
        split_fingerprint=split_fingerprint(assignment), config=_config(),
        metrics={"dev_ood_images": len(dev_ood), "dev_ood_refused": int((density.atypicality(dev_feats) > calibration.thresholds["atypicality"]).sum()),
                 "val_accept_rate": calibration.val_accept_rate, "n_val": calibration.n_val,
                 **{f"threshold_{k}": v for k, v in calibration.thresholds.items()}},
        notes="Density fitted on train tower features; each check refuses at most its quantile of val (1% atypicality, 0.1% pixel checks); OOD images never tune them.",
    )
    save_intake(intake_dir(), calibration, density, manifest)
    return calibration


def load_intake_gate(encoder: DermEncoder | None = None) -> IntakeGate:
    """The gate; ``encoder`` is accepted for callers that pass one, but the gate uses its own frozen tower."""
    calibration, density = load_intake(intake_dir())
    return IntakeGate(calibration=calibration, density=density, tower_features=gate_features)

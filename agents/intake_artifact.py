"""The intake gate's artifact (``artifacts/intake``): pixel-check thresholds and the feature density.

Built from train images (the density) and val images (the thresholds) only; tiny (~200 KB),
shipped, rebuilt by ``dermagraph build`` when the encoder, the data or the split changes.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

import numpy as np

from knowledge.artifacts import Manifest, split_fingerprint, staleness
from knowledge.ham10000 import load_dataset
from knowledge.images import open_image
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from retrieval.encoder import DermEncoder, load_encoder, read_encoder_manifest

from agents.intake import CHECK_QUANTILES, FeatureDensity, IntakeCalibration, IntakeGate, calibrate_intake, load_intake, save_intake
from agents.vision import tower_features

DENSITY_COMPONENTS = 64
DENSITY_TRAIN_IMAGES = 2000  # a seeded sample of train images is plenty for 64 components


def intake_dir() -> Path:
    return get_settings().artifacts_dir / "intake"


def _config() -> dict:
    return {"quantiles": CHECK_QUANTILES, "components": DENSITY_COMPONENTS, "train_images": DENSITY_TRAIN_IMAGES,
            "encoder_config_hash": read_encoder_manifest().config_hash, "checks_version": 3, "dev_ood_images": len(dev_ood_images())}


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


def _features(encoder: DermEncoder, records: list, desc: str, progress: bool) -> tuple[list, np.ndarray]:
    images = [open_image(r.image_path) for r in records]
    batches = range(0, len(images), 64)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=desc, unit="batch")
    return images, np.concatenate([tower_features(encoder, images[i : i + 64]) for i in batches])


def build_intake(encoder: DermEncoder | None = None, progress: bool = True) -> IntakeCalibration:
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    encoder = encoder or load_encoder(with_text=False)
    train = sorted(records_in(dataset, assignment, "train"), key=lambda r: r.image_id)
    sample = random.Random(0).sample(train, min(DENSITY_TRAIN_IMAGES, len(train)))
    _, train_feats = _features(encoder, sample, "intake: train features", progress)
    density = FeatureDensity.fit(train_feats, DENSITY_COMPONENTS)
    val_images, val_feats = _features(encoder, records_in(dataset, assignment, "val"), "intake: val features", progress)
    dev_ood = dev_ood_images()
    dev_feats = tower_features(encoder, [open_image(p) for p in dev_ood]) if dev_ood else np.zeros((0, train_feats.shape[1]))
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


def load_intake_gate(encoder: DermEncoder) -> IntakeGate:
    calibration, density = load_intake(intake_dir())
    return IntakeGate(calibration=calibration, density=density, tower_features=lambda imgs: tower_features(encoder, imgs))

"""The intake gate's calibration artifact (``artifacts/intake``): built from val images, tiny, shipped.

Rebuilt when the encoder changes (its embeddings define the neighbour-similarity check) or the
data or split changes. ``dermagraph build`` runs it after the encoder step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.artifacts import Manifest, split_fingerprint, staleness
from knowledge.ham10000 import load_dataset
from knowledge.images import open_image
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from retrieval.encoder import DermEncoder, load_case_embeddings, load_encoder, read_encoder_manifest

from agents.intake import IntakeCalibration, IntakeGate, calibrate_intake, load_calibration, nearest_similarity, save_calibration

QUANTILE = 0.005  # accept 99.5% of val images on each check


def intake_dir() -> Path:
    return get_settings().artifacts_dir / "intake"


def _config() -> dict:
    return {"quantile": QUANTILE, "encoder_config_hash": read_encoder_manifest().config_hash, "checks_version": 1}


def intake_staleness() -> list[str]:
    dataset = load_dataset()
    return staleness(intake_dir(), _config(), dataset.fingerprint(), split_fingerprint(load_split(dataset=dataset)))


def build_intake_calibration(encoder: DermEncoder | None = None, progress: bool = True) -> IntakeCalibration:
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    encoder = encoder or load_encoder(with_text=False)
    ids, reference = load_case_embeddings()
    train_ids = {r.image_id for r in records_in(dataset, assignment, "train")}
    train_ref = reference[[i for i, image_id in enumerate(ids) if image_id in train_ids]]
    val = records_in(dataset, assignment, "val")
    images = [open_image(r.image_path) for r in val]
    embeddings = []
    batches = range(0, len(images), 64)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="intake calibration (val)", unit="batch")
    for start in batches:
        embeddings.append(encoder.embed_images(images[start : start + 64]))
    calibration = calibrate_intake(images, nearest_similarity(np.concatenate(embeddings), train_ref), QUANTILE)
    manifest = Manifest(
        name="intake", kind="intake-gate-calibration", data_fingerprint=dataset.fingerprint(),
        split_fingerprint=split_fingerprint(assignment), config=_config(),
        metrics={"val_accept_rate": calibration.val_accept_rate, "n_val": calibration.n_val, **{
            f"threshold_{k}": v for k, v in calibration.thresholds.items()}},
        notes="Thresholds at the 0.5% tail of HAM10000 val images; OOD test images never tune them.",
    )
    save_calibration(intake_dir(), calibration, manifest)
    return calibration


def load_intake_gate(encoder: DermEncoder) -> IntakeGate:
    _, reference = load_case_embeddings()
    return IntakeGate(calibration=load_calibration(intake_dir()), reference=reference, embed=encoder.embed_images)

"""The checklist cut-off (``artifacts/triage``): chosen on val from the segmenter's own outlines.

The measured-feature checklist score (``agents.checklist``) escalates the tier one step at or above
a cut-off. The cut-off is the lowest score that escalates at most ``settings.triage.checklist_benign_rate``
of val's benign lesions, so the score adds referrals where the measurements are most unusual. Built
by ``dermagraph build`` (step "triage"; about a minute) and rebuilt when the segmenter, the exposure
floor the analyser lifts photos to (the classifier head's), the data, the split or the policy changes. The test split never tunes it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from knowledge.artifacts import ArtifactError, Manifest, read_manifest, split_fingerprint, staleness, staging_dir, atomic_replace_dir, write_manifest
from knowledge.ham10000 import load_dataset
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import CODES, MALIGNANT_CODES

from agents.checklist import MAX_SCORE, checklist_score

CHECKLIST_VERSION = 1  # bump when agents.checklist changes its points


def triage_dir() -> Path:
    return get_settings().artifacts_dir / "triage"


def _config() -> dict:
    from models.features import analyser_config

    return {"checklist_version": CHECKLIST_VERSION, "benign_rate": get_settings().triage.checklist_benign_rate,
            **analyser_config()}


def triage_staleness() -> list[str]:
    dataset = load_dataset()
    try:
        config = _config()
    except ArtifactError as exc:
        return [f"segmenter: {exc}"]
    return staleness(triage_dir(), config, dataset.fingerprint(), split_fingerprint(load_split(dataset=dataset)))


def choose_cutoff(scores: np.ndarray, benign: np.ndarray, max_rate: float) -> int:
    """The lowest score whose escalation rate among benign lesions is at most ``max_rate``."""
    for cut in range(1, MAX_SCORE + 2):
        if (scores[benign] >= cut).mean() <= max_rate:
            return cut
    return MAX_SCORE + 1


def val_scores(progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(checklist score, label index) for every val image the segmenter delineates (score -1 otherwise)."""
    from models.features import analyse_lesion, load_segmenter

    dataset = load_dataset()
    records = records_in(dataset, load_split(dataset=dataset), "val")
    segmenter = load_segmenter()
    items = records
    if progress:
        from tqdm import tqdm

        items = tqdm(records, desc="triage: val features", unit="image")
    scores = []
    for r in items:
        analysis = analyse_lesion(r.image_path, segmenter)
        scores.append(checklist_score(analysis.features.model_dump(mode="json")) if analysis.features is not None else -1)
    return np.array(scores), np.array([CODES.index(r.dx) for r in records])


def build_triage(progress: bool = True) -> dict:
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    scores, labels = val_scores(progress)
    measured = scores >= 0
    malignant = np.isin(labels, [CODES.index(c) for c in MALIGNANT_CODES])
    rate = get_settings().triage.checklist_benign_rate
    cut = choose_cutoff(scores[measured], ~malignant[measured], rate)
    by_class = {code: {"n": int((labels == i).sum()),
                       "escalated": float((scores[labels == i] >= cut).mean()) if (labels == i).any() else 0.0,
                       "mean_score": float(scores[(labels == i) & measured].mean()) if ((labels == i) & measured).any() else None}
                for i, code in enumerate(CODES)}
    metrics = {"checklist_cutoff": cut, "val_benign_escalated": float((scores[~malignant] >= cut).mean()),
               "val_malignant_escalated": float((scores[malignant] >= cut).mean()), "val_measured": float(measured.mean()),
               "by_class": by_class, "score_histogram": {str(s): int((scores == s).sum()) for s in range(-1, MAX_SCORE + 1)}}
    staging = staging_dir(triage_dir())
    manifest = Manifest(name="triage", kind="checklist-cutoff", data_fingerprint=dataset.fingerprint(),
                        split_fingerprint=split_fingerprint(assignment), config=_config(), metrics=metrics,
                        notes="Cut-off of the measured-feature checklist score (agents.checklist), chosen on val "
                              "segmenter outlines; escalates the triage tier one step. Not a validated score.")
    write_manifest(staging, manifest)
    atomic_replace_dir(staging, triage_dir())
    return metrics


def load_checklist_cutoff() -> int:
    """The val-chosen cut-off; the settings' fallback (with a warning naming the command) when missing."""
    try:
        return int(read_manifest(triage_dir()).metrics["checklist_cutoff"])
    except (ArtifactError, KeyError):
        fallback = get_settings().triage.fallback_checklist_cutoff
        warnings.warn(f"no triage artifact in {triage_dir()}; the checklist cut-off falls back to {fallback}: "
                      "run `dermagraph build`", stacklevel=2)
        return fallback

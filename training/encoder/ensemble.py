"""`dermagraph train classifier`: fit the ensemble head (models/encoder/ensemble.py) on val, in minutes.

1. The input checks (``knowledge.input_range``: exposure floor, deblocker, denoiser by default) fitted on the training
   photos; val logits of each member encoder on val photos through them (whole image; lesion-centred crop from the
   shipped segmenter), with TTA.
2. Member weights: the point of a grid over the simplex (steps of 0.1) minimising val negative log-likelihood
   after temperature + prior-shift calibration (likelihood, because the probabilities are what the app shows and the triage reads).
3. Metadata: the training split's age/sex/site likelihoods (``MetadataPrior.fit``); its weight chosen the
   same way on val with HAM10000's metadata, and the calibration refitted with it.
4. Only with ``stacked=True`` (``--stacked``; not the shipped head: on val it gained on clean images but lost under
   corruptions, docs/encoder.md): a multinomial logistic regression over the members' log-softmax (and the metadata
   log-likelihoods), its L2 strength chosen by 5-fold cross-validated val NLL. Every val figure of the stacked
   head and its triage cut-offs come from **cross-fitted** probabilities (each val image scored by a stacker
   that did not see it), never from the final fit's in-sample ones, which would flatter it.
5. Triage cut-offs at the policy's val sensitivity, for the image-only and the metadata probabilities.
6. Write ``artifacts/classifier`` (a manifest: the head, the members' weight hashes, val metrics).
Test images are never read.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from knowledge.artifacts import Manifest, atomic_replace_dir, file_sha256, split_fingerprint, staging_dir, write_manifest
from knowledge.calibration import fit_temperature_and_prior_shift, policy_triage_thresholds, triage_policy_drift
from knowledge.cases import Case
from knowledge.ham10000 import load_dataset
from knowledge.images import open_image
from knowledge.input_range import DEFAULT_INPUT_RANGE, INPUT_RANGE_KEYS, InputRange
from knowledge.metrics import log_class_prior, negative_log_likelihood
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import CODES
from models.encoder.artifact import WEIGHTS_NAME, load_encoder
from models.encoder.ensemble import DEFAULT_MEMBERS, Calibration, EnsembleHead, Stacker, classifier_dir, stack_features
from models.encoder.lesion_view import boxes_for_records
from models.encoder.metadata import MetadataPrior, field_values
from training.encoder.calibrate import val_metrics
from training.encoder.finetune import predict_records

WEIGHT_STEPS = 10  # member weights in steps of 1/10
METADATA_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
STACK_C_GRID = (0.03, 0.1, 0.3, 1.0)  # inverse L2 strengths tried (val 5-fold NLL chose 0.1 for both heads)
STACK_FOLDS = 5
STACK_MIN_PER_CLASS = 4  # fewer val images of a class than this: no stacker (the linear pool is the head)


def weight_grid(n_members: int, steps: int = WEIGHT_STEPS) -> list[tuple[float, ...]]:
    """Every weighting of ``n_members`` in steps of 1/steps summing to 1, the first member's weight rising first."""
    def parts(total: int, n: int) -> list[tuple[int, ...]]:
        return [(total,)] if n == 1 else [(first, *rest) for first in range(total + 1) for rest in parts(total - first, n - 1)]

    grid = []
    for counts in parts(steps, n_members):
        lead = [round(c / steps, 2) for c in counts[:-1]]
        grid.append((*lead, 1 - sum(lead)))
    return grid


def member_logits(records: Sequence[Case], artifacts_dir: Path, members: Sequence[str] = DEFAULT_MEMBERS,
                  progress: bool = True, prepare: Callable[[Image.Image], Image.Image] | None = None) -> list[np.ndarray]:
    """Each member's logits on ``records``, as the classifier computes them: images through ``prepare`` first
    (``EnsembleHead.prepare``: the head's input checks)."""
    out, boxes = [], None
    for name in members:
        encoder = load_encoder(artifacts_dir / name, with_text=False)
        if encoder.config.lesion_margin is not None and boxes is None:
            boxes = boxes_for_records(records, progress, prepare)
        out.append(predict_records(encoder, records, boxes=boxes if encoder.config.lesion_margin is not None else None,
                                   progress=progress, desc=f"val logits ({name})", prepare=prepare)[1])
    return out


def fit_input_range(records: Sequence[Case], keys: Sequence[str] = DEFAULT_INPUT_RANGE, progress: bool = True) -> InputRange:
    """The named input checks (``knowledge.input_range``: the exposure floor, the deblocking, denoising and sharpening
    gates, the hair ceiling) fitted on the training photos, each photo read once."""
    images = (open_image(r.image_path) for r in tqdm(records, desc="input range (train)", unit="image",
                                                     disable=not progress or not keys, leave=False))
    return InputRange.fit(images, keys)


def fit_head(logits: list[np.ndarray], y: np.ndarray, log_prior: np.ndarray, prior: MetadataPrior,
             metadata: list[dict[str, str]], log: Callable[[str], None] = print,
             members: Sequence[str] = DEFAULT_MEMBERS) -> tuple[EnsembleHead, dict]:
    """The member weights and metadata weight minimising val NLL, with their calibrations; the grid searched."""
    grid: dict[str, float] = {}
    best = None
    for weights in weight_grid(len(logits)):
        z = sum(w * zi for w, zi in zip(weights, logits))
        t, b = fit_temperature_and_prior_shift(z, y, log_prior)
        nll = negative_log_likelihood(Calibration(t, b).apply(z, log_prior), y)
        grid[f"member_weight={'/'.join(f'{w:g}' for w in weights)}"] = round(nll, 4)
        if best is None or nll < best[0]:
            best = (nll, weights, Calibration(t, b))
    _, weights, image_cal = best
    z = sum(w * zi for w, zi in zip(weights, logits))
    raw = np.stack([MetadataPrior(prior.log_likelihood, 1.0).log_scores(m) for m in metadata])
    best_m = None
    for m in METADATA_GRID:
        t, b = fit_temperature_and_prior_shift(z + m * raw, y, log_prior)
        nll = negative_log_likelihood(Calibration(t, b).apply(z + m * raw, log_prior), y)
        grid[f"metadata_weight={m:g}"] = round(nll, 4)
        if best_m is None or nll < best_m[0]:
            best_m = (nll, m, Calibration(t, b))
    _, m, meta_cal = best_m
    log(f"member weights {'/'.join(f'{w:.1f}' for w in weights)} ({', '.join(members)}), metadata weight {m:g} (val NLL)")
    return EnsembleHead(weights, log_prior, image_cal, meta_cal, MetadataPrior(prior.log_likelihood, m), tuple(members)), grid


def _fit_stacker(x: np.ndarray, y: np.ndarray, c: float) -> Stacker:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=5000).fit(x, y)
    return Stacker(model.coef_.astype(np.float64), model.intercept_.astype(np.float64), c)


def cross_fitted(x: np.ndarray, y: np.ndarray, c: float, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities: each row scored by a stacker fitted on the other folds (stratified)."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(STACK_FOLDS, int(np.bincount(y, minlength=len(CODES)).min()))
    out = np.zeros((len(y), len(CODES)))
    for train_i, test_i in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        out[test_i] = _fit_stacker(x[train_i], y[train_i], c).apply(x[test_i])
    return out


def fit_stack(x: np.ndarray, y: np.ndarray, grid: dict[str, float], key: str) -> tuple[Stacker, np.ndarray]:
    """(the stacker fitted on all of val at the C with the lowest cross-validated NLL, its cross-fitted probabilities)."""
    best = None
    for c in STACK_C_GRID:
        oof = cross_fitted(x, y, c)
        nll = negative_log_likelihood(oof, y)
        grid[f"{key}_c={c:g}"] = round(nll, 4)
        if best is None or nll < best[0]:
            best = (nll, c, oof)
    _, c, oof = best
    return _fit_stacker(x, y, c), oof


def stack_head(head: EnsembleHead, logits: list[np.ndarray], y: np.ndarray, metadata: list[dict[str, str]],
               grid: dict[str, float], log: Callable[[str], None] = print) -> tuple[EnsembleHead, np.ndarray, np.ndarray] | None:
    """The head with its stackers, and the cross-fitted (image-only, with-metadata) val probabilities; None when
    val holds too few images of some class to cross-validate one."""
    counts = np.bincount(y, minlength=len(CODES))
    if counts.min() < STACK_MIN_PER_CLASS:
        log(f"no stacked head: val holds {counts.min()} images of {CODES[int(counts.argmin())]} "
            f"(at least {STACK_MIN_PER_CLASS} per class needed); the linear pool is the head")
        return None
    raw = MetadataPrior(head.prior.log_likelihood, 1.0)
    x = stack_features(logits)
    xm = stack_features(logits, np.stack([raw.log_scores(m) for m in metadata]))
    stack, oof = fit_stack(x, y, grid, "stack")
    stack_m, oof_m = fit_stack(xm, y, grid, "stack_metadata")
    # Where a val image has no metadata at all, what the app shows is the image-only probability.
    given = np.array([bool(m) for m in metadata])
    oof_m = np.where(given[:, None], oof_m, oof)
    log(f"stacked head: C {stack.c:g} (image only), {stack_m.c:g} (metadata); cross-fitted val NLL "
        f"{negative_log_likelihood(oof, y):.4f} / {negative_log_likelihood(oof_m, y):.4f}")
    return replace(head, stack=stack, stack_metadata=stack_m), oof, oof_m


def train_classifier(artifacts_dir: Path | None = None, out: Path | None = None, split_file: Path | None = None,
                     progress: bool = True, log: Callable[[str], None] = print,
                     members: Sequence[str] = DEFAULT_MEMBERS, stacked: bool = False,
                     input_checks: Sequence[str] = DEFAULT_INPUT_RANGE) -> Manifest:
    started = time.perf_counter()
    settings = get_settings()
    artifacts_dir = Path(artifacts_dir) if artifacts_dir is not None else settings.artifacts_dir
    dataset = load_dataset()
    assignment = load_split(split_file, dataset)
    train, val = records_in(dataset, assignment, "train"), records_in(dataset, assignment, "val")
    y = np.array([CODES.index(r.dx) for r in val])
    log_prior = log_class_prior(np.array([CODES.index(r.dx) for r in train]), len(CODES))
    prior = MetadataPrior.fit((r.dx, field_values(r.age, r.sex, r.localization)) for r in train)
    metadata = [field_values(r.age, r.sex, r.localization) for r in val]
    members = tuple(members)
    if not members or len(set(members)) != len(members):
        raise ValueError(f"members must be distinct encoder artifact names, got {list(members)}")
    missing = [name for name in members if not (artifacts_dir / name / WEIGHTS_NAME).is_file()]
    if missing:
        raise ValueError(f"no encoder artifact {', '.join(missing)} under {artifacts_dir} (train it with "
                         "`dermagraph train encoder --out ...`)")
    checks = fit_input_range(train, tuple(input_checks), progress)
    for line in checks.describe():
        log(line)
    logits = member_logits(val, artifacts_dir, members, progress, checks.apply)
    head, grid = fit_head(logits, y, log_prior, prior, metadata, log, members)
    head.input_range = checks

    shown, image_only = head.probabilities(logits, metadata)
    z = head.scores(logits)
    metrics: dict = {"grid_val_nll": grid, "n_val": len(val), "n_train": len(train)}

    def record(prefix: str, image: np.ndarray, fused: np.ndarray) -> None:
        for name, probs in ((f"{prefix}image_only", image), (f"{prefix}with_metadata", fused)):
            m = val_metrics(np.log(probs.clip(1e-12)), y)
            m["nll"] = negative_log_likelihood(probs, y)  # of the probabilities themselves, not re-normalised
            metrics[name] = m

    record("val_", image_only, shown)
    # The balanced decision: the same scores without the prior put back (what a class-balanced argmax names).
    metrics["val_balanced_decision"] = val_metrics(z, y, head.image.temperature)
    fitted = stack_head(head, logits, y, metadata, grid, log) if stacked else None
    if fitted is not None:
        # The val figures and the triage cut-offs of the head that ships: the stacker's cross-fitted probabilities.
        head, image_only, shown = fitted
        metrics["val_linear_pool"] = {k: metrics.pop(k) for k in ("val_image_only", "val_with_metadata", "val_balanced_decision")}
        record("val_", image_only, shown)
        metrics["val_balanced_decision"] = val_metrics(np.log(image_only.clip(1e-12)) - log_prior, y)
        metrics["val_cross_fitted"] = True
    for i, name in enumerate(members):
        metrics[f"val_member_{name}"] = val_metrics(logits[i], y)
    metrics["triage"] = policy_triage_thresholds(image_only, y)
    metrics["triage_with_metadata"] = policy_triage_thresholds(shown, y)
    metrics["train_seconds"] = round(time.perf_counter() - started, 1)

    folder = classifier_dir(out)
    hashes = {name: file_sha256(artifacts_dir / name / WEIGHTS_NAME)[:16] for name in members}
    staging = staging_dir(folder)
    manifest = Manifest(name="classifier", kind="encoder-ensemble", data_fingerprint=dataset.fingerprint(),
                        split_fingerprint=split_fingerprint(assignment),
                        config={"head": head.to_dict(), "member_weights_sha256": hashes}, metrics=metrics,
                        notes="weights of the member encoders live in their own artifacts; this is the fitted head")
    write_manifest(staging, manifest)
    atomic_replace_dir(staging, folder)
    v = metrics["val_image_only"]
    log(f"wrote {folder}: val (image only) accuracy {v['accuracy']:.3f}, balanced accuracy {v['balanced_accuracy']:.3f}, "
        f"AUC {v.get('auc_macro', float('nan')):.3f}; balanced decision {metrics['val_balanced_decision']['balanced_accuracy']:.3f}")
    return manifest


def classifier_staleness(artifacts_dir: Path | None = None) -> list[str]:
    """Why ``artifacts/classifier`` no longer fits its members, data or split (empty: up to date)."""
    from knowledge.artifacts import ArtifactError, read_manifest

    artifacts_dir = Path(artifacts_dir) if artifacts_dir is not None else get_settings().artifacts_dir
    try:
        manifest = read_manifest(artifacts_dir / "classifier")
    except ArtifactError as exc:
        return [str(exc)]
    reasons = []
    head = manifest.config.get("head", {})
    members = tuple(head.get("members", DEFAULT_MEMBERS))
    if members != DEFAULT_MEMBERS:
        reasons.append(f"members {', '.join(members)} differ from the default {', '.join(DEFAULT_MEMBERS)}")
    checks = [key for key in INPUT_RANGE_KEYS if key in head]
    if checks != list(DEFAULT_INPUT_RANGE):
        reasons.append(f"input checks {', '.join(checks) or 'none'} differ from the default {', '.join(DEFAULT_INPUT_RANGE)}")
    for name in members:
        weights = artifacts_dir / name / WEIGHTS_NAME
        if not weights.is_file():
            reasons.append(f"member {name} missing")
        elif manifest.config.get("member_weights_sha256", {}).get(name) != file_sha256(weights)[:16]:
            reasons.append(f"member {name} retrained since the head was fitted")
    for key in ("triage", "triage_with_metadata"):
        if drift := triage_policy_drift(manifest.metrics.get(key)):
            reasons.append(f"{key}: {drift}")
    dataset = load_dataset()
    if manifest.data_fingerprint != dataset.fingerprint():
        reasons.append("training data changed")
    if manifest.split_fingerprint not in (None, split_fingerprint(load_split(dataset=dataset))):
        reasons.append("split changed")
    return reasons

"""Baselines every classification/retrieval report carries: the majority class, and kNN on raw ImageNet features.

The raw-feature baseline is what a user gets in ten lines: frozen EfficientNet-Lite0 (ImageNet),
global-average-pooled, cosine kNN against the train+val cases. Features are cached under
``var/eval/features`` (keyed by tower and image list), so repeated evaluations pay once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge.images import open_image
from knowledge.settings import get_settings

BASELINE_TOWER = "efficientnet_lite0"


def imagenet_features(paths: Sequence[Path], tower_name: str = BASELINE_TOWER, batch_size: int = 32,
                      progress: bool = True) -> np.ndarray:
    """(N, F) L2-normalised pooled ImageNet features of the images at ``paths`` (cached on disk)."""
    import torch
    from tqdm import tqdm

    from models.encoder.model import quiet_loading
    from models.encoder.preprocess import to_batch
    from models.encoder.towers import create_tower

    key = hashlib.sha256("\n".join(str(p) for p in paths).encode()).hexdigest()[:16]
    cache = get_settings().var_dir / "eval" / "features" / f"{tower_name}-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    with quiet_loading():
        tower = create_tower(tower_name).eval()
    out = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(paths), batch_size), desc=f"{tower_name} features", unit="batch",
                          disable=not progress, leave=False):
            x = to_batch([open_image(p) for p in paths[start : start + batch_size]], tower.spec)
            out.append(tower(x).numpy())
    feats = np.concatenate(out) if out else np.zeros((0, tower.spec.feature_dim), np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True).clip(min=1e-12)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, feats)
    return feats


def knn_retrieve(query: np.ndarray, index: np.ndarray, index_labels: np.ndarray, k: int,
                 query_groups: Sequence[str] | None = None, index_groups: Sequence[str] | None = None) -> np.ndarray:
    """(N, k) class indices of the ``k`` nearest index items by cosine, skipping the query's own group (lesion)."""
    sims = query @ index.T
    if query_groups is not None and index_groups is not None:
        groups = np.asarray(index_groups)
        for i, g in enumerate(query_groups):
            if g:
                sims[i, groups == g] = -np.inf
    top = np.argsort(-sims, axis=1)[:, :k]
    return index_labels[top]


def majority_class(train_labels: np.ndarray, n_classes: int) -> int:
    return int(np.bincount(train_labels, minlength=n_classes).argmax())


def index_items(ctx, limit: int | None = None) -> list:
    """The train+val cases as eval items (the similar-case index's population), optionally a stratified subset."""
    from evals.harness import stratified_sample

    items = [r for r in ctx.dataset if ctx.assignment.get(r.image_id) in ("train", "val")]
    return stratified_sample(items, limit, ctx.seed) if limit else items


def baseline_index_size(ctx) -> int | None:
    """Under ``--sample`` (CI's quick runs) the raw-feature baseline indexes a subset, not all 8,012 cases."""
    return max(400, 8 * ctx.sample) if ctx.sample else None


def baseline_features(ctx, items: Sequence) -> np.ndarray:
    """Raw ImageNet features for eval items; a whole HAM10000 split reuses the encoder training's cache."""
    if ctx.external:
        return imagenet_features([it.image_path for it in items])
    from knowledge.splits import SPLITS, records_in
    from models.encoder.model import quiet_loading
    from models.encoder.towers import create_tower
    from training.encoder.config import TrainConfig
    from training.encoder.features import cached_pooled_features

    ids = [it.image_id for it in items]
    wanted = set(ids)
    feats: dict[str, np.ndarray] = {}
    tower = None
    for split in SPLITS:
        records = records_in(ctx.dataset, ctx.assignment, split)
        split_ids = [r.image_id for r in records]
        if not wanted & set(split_ids):
            continue
        if wanted >= set(split_ids):  # the whole split, as training caches it
            if tower is None:
                with quiet_loading():
                    tower = create_tower(BASELINE_TOWER, top_blocks=TrainConfig().model.top_blocks).eval()
            cache = get_settings().var_dir / "encoder" / "cache"
            feats.update(zip(split_ids, cached_pooled_features(tower, BASELINE_TOWER, records, "orig", cache)))
        else:
            part = [i for i in split_ids if i in wanted]
            feats.update(zip(part, imagenet_features([ctx.dataset.get(i).image_path for i in part])))
    out = np.stack([feats[i] for i in ids]).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)

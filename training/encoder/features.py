"""Cache the frozen tower trunk's activations once, so training epochs only run the small top.

On 2 CPU cores the ImageNet trunk costs ~90% of a forward pass. Its output for each (image, view)
never changes while the heads train, so it is computed once and kept under
``var/encoder/cache/`` as an fp16 memory-mapped array, one file per (tower, split point, view,
image list). Work is saved every batch: an interrupted run resumes where it stopped.

Views: ``orig`` (the image), ``hflip`` (its mirror) and ``augN`` (the N-th random augmentation,
seeded by image id, so a view is the same on every run).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from knowledge.cases import Case
from knowledge.images import open_image
from models.encoder.preprocess import to_batch
from models.encoder.towers import ImageTower
from training.encoder.augment import augment


def view_image(record: Case, view: str, seed: int = 0) -> Image.Image:
    img = open_image(record.image_path)
    if view == "orig":
        return img
    if view == "hflip":
        return ImageOps.mirror(img)
    if view.startswith("aug"):
        return augment(img, random.Random(f"{seed}:{record.image_id}:{view}"))
    raise ValueError(f"unknown view {view!r}; expected orig, hflip or augN")


def _cache_key(tower_name: str, split: int, view: str, records: Sequence[Case], seed: int) -> str:
    ids = hashlib.sha256("\n".join(r.image_id for r in records).encode()).hexdigest()[:12]
    return f"{tower_name}-split{split}-{view}-s{seed}-{ids}"


def trunk_activations(
    tower: ImageTower,
    tower_name: str,
    records: Sequence[Case],
    view: str,
    cache_dir: Path,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """(N, C, H, W) fp16 trunk outputs for ``records`` under ``view``; computed once, then read from disk."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    split = getattr(tower, "split", 0)
    key = _cache_key(tower_name, split, view, records, seed)
    path, done_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.done"
    done = int(done_path.read_text()) if done_path.is_file() and path.is_file() else 0
    if done >= len(records):
        return np.load(path, mmap_mode="r")
    tower.eval()
    with torch.inference_mode():
        shape = tuple(tower.trunk(to_batch([view_image(records[0], view, seed)], tower.spec)).shape[1:])
        arr = np.lib.format.open_memmap(path, mode="r+" if done else "w+", dtype=np.float16, shape=(len(records), *shape))
        bar = tqdm(total=len(records), initial=done, desc=f"{tower_name} {view}", unit="img", disable=not progress, leave=False)
        for start in range(done, len(records), batch_size):
            batch = records[start : start + batch_size]
            x = to_batch([view_image(r, view, seed) for r in batch], tower.spec)
            arr[start : start + len(batch)] = tower.trunk(x).numpy().astype(np.float16)
            arr.flush()
            done_path.write_text(str(start + len(batch)))  # resume point, written after the data
            bar.update(len(batch))
        bar.close()
    del arr
    return np.load(path, mmap_mode="r")


def pooled_features(tower: ImageTower, activations: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run the (frozen) top over cached trunk activations: (N, feature_dim) float32."""
    tower.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(activations), batch_size):
            h = torch.from_numpy(np.asarray(activations[start : start + batch_size], dtype=np.float32))
            out.append(tower.top(h).numpy())
    return np.concatenate(out) if out else np.zeros((0, tower.spec.feature_dim), np.float32)


def cached_pooled_features(tower: ImageTower, tower_name: str, records: Sequence[Case], view: str,
                           cache_dir: Path, seed: int = 0, progress: bool = True) -> np.ndarray:
    """Pooled features of the frozen tower (trunk, then top) for ``records`` under ``view``, cached like the trunk."""
    path = pooled_cache_path(tower, tower_name, records, view, cache_dir, seed)
    if path.is_file():
        return np.load(path)
    acts = trunk_activations(tower, tower_name, records, view, cache_dir, seed=seed, progress=progress)
    feats = pooled_features(tower, acts)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats


def pooled_cache_path(tower: ImageTower, tower_name: str, records: Sequence[Case], view: str, cache_dir: Path,
                      seed: int = 0) -> Path:
    return cache_dir / f"{_cache_key(tower_name, getattr(tower, 'split', 0), view, records, seed)}.pooled.npy"

"""Image-tower bake-off on val: linear-probe balanced accuracy, retrieval P@10, CPU ms/image.

Every candidate sees the same images: a class-capped subset of train (the probe's training set and
the retrieval index) and of val (probe test set and queries), because DINOv2-S through ONNX costs
~0.3-0.7 s per image on these 2 shared cores. Frozen towers are probed on pooled features; the
small CNN has no pretrained weights, so it is trained from scratch (on the whole train split, a
few epochs) and its own head is the "probe". Run: ``python -m training.encoder.bakeoff``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from knowledge.artifacts import atomic_write_text
from knowledge.cases import Case
from knowledge.ham10000 import load_dataset
from knowledge.images import open_image
from knowledge.metrics import accuracy, balanced_accuracy, nearest_labels, precision_at_k
from knowledge.settings import get_settings
from knowledge.splits import load_split, records_in
from knowledge.taxonomy import CODES
from models.encoder.model import quiet_loading
from models.encoder.preprocess import to_batch
from models.encoder.towers import ImageTower, create_tower
from training.encoder.train import per_class_subset
from training.encoder.features import cached_pooled_features, pooled_cache_path, pooled_features, trunk_activations

FROZEN_TOWERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "dinov2_s_onnx")


@dataclass
class BakeoffRow:
    tower: str
    n_train: int
    n_val: int
    probe_balanced_accuracy: float
    probe_accuracy: float
    p_at_10: float
    ms_per_image: float
    note: str = ""


def ms_per_image(tower: ImageTower, records: Sequence[Case], n: int = 16) -> float:
    x = to_batch([open_image(r.image_path) for r in records[:n]], tower.spec)
    with torch.inference_mode():
        tower(x[:2])
        t0 = time.perf_counter()
        tower(x)
    return (time.perf_counter() - t0) * 1000 / len(x)


def probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> tuple[float, float, float]:
    """(balanced accuracy, accuracy) of a class-weighted logistic regression, and cosine P@10 val -> train."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    clf = LogisticRegression(C=0.5, class_weight="balanced", max_iter=3000).fit(scaler.transform(train_x), train_y)
    return scores(clf.predict(scaler.transform(val_x)), val_x, val_y, train_x, train_y)


def scores(pred: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, index_x: np.ndarray,
           index_y: np.ndarray) -> tuple[float, float, float]:
    """(balanced accuracy, accuracy) of the val predictions ``pred``, and cosine P@10 of val features -> index."""
    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    p_at_10 = precision_at_k(nearest_labels(unit(val_x), unit(index_x), index_y, 10), val_y, 10)
    return balanced_accuracy(val_y, pred, len(CODES)), accuracy(val_y, pred), p_at_10


def frozen_row(name: str, train: list[Case], val: list[Case], cache_dir: Path,
               full_splits: dict[str, list[Case]]) -> BakeoffRow:
    with quiet_loading():
        tower = create_tower(name).eval()
    feats = {}
    for split, recs in (("train", train), ("val", val)):
        full = full_splits[split]
        if pooled_cache_path(tower, name, full, "orig", cache_dir).is_file():  # encoder training cached the whole split
            rows = {r.image_id: i for i, r in enumerate(full)}
            feats[split] = cached_pooled_features(tower, name, full, "orig", cache_dir)[[rows[r.image_id] for r in recs]]
        else:
            feats[split] = pooled_features(tower, trunk_activations(tower, name, recs, "orig", cache_dir, batch_size=16))
    y_train = np.array([CODES.index(r.dx) for r in train])
    y_val = np.array([CODES.index(r.dx) for r in val])
    bal, acc, p10 = probe(feats["train"], y_train, feats["val"], y_val)
    return BakeoffRow(name, len(train), len(val), bal, acc, p10, ms_per_image(tower, val), "frozen, pooled features")


def small_cnn_row(full_train: list[Case], val: list[Case], index: list[Case], epochs: int = 2) -> BakeoffRow:
    """Train the small CNN from scratch with the same loss family (class-balanced), then measure it."""
    import torch.nn.functional as F

    from training.encoder.augment import augment

    torch.manual_seed(0)
    tower = create_tower("small_cnn")
    head = torch.nn.Linear(tower.spec.feature_dim, len(CODES))
    params = list(tower.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    y = torch.tensor([CODES.index(r.dx) for r in full_train])
    counts = torch.bincount(y, minlength=len(CODES)).float()
    log_prior = torch.log(counts / counts.sum())
    images = [open_image(r.image_path) for r in full_train]
    rng = random.Random(0)
    for _ in range(epochs):
        tower.train()
        order = torch.randperm(len(images))
        for start in range(0, len(order), 64):
            idx = order[start : start + 64].tolist()
            x = to_batch([augment(images[i], rng) for i in idx], tower.spec)
            loss = F.cross_entropy(head(tower(x)) + log_prior, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    tower.eval()

    def embed(recs: Sequence[Case]) -> np.ndarray:
        with torch.inference_mode():
            return torch.cat([tower(to_batch([open_image(r.image_path) for r in recs[s : s + 128]], tower.spec))
                              for s in range(0, len(recs), 128)]).numpy()

    val_x, index_x = embed(val), embed(index)
    y_val = np.array([CODES.index(r.dx) for r in val])
    y_index = np.array([CODES.index(r.dx) for r in index])
    with torch.inference_mode():
        pred = head(torch.from_numpy(val_x)).argmax(1).numpy()
    return BakeoffRow("small_cnn", len(full_train), len(val), *scores(pred, val_x, y_val, index_x, y_index),
                      ms_per_image(tower, val),
                      f"from scratch, {epochs} epochs on the whole train split; its own head; P@10 against the same train subset")


def run_bakeoff(train_per_class: int = 100, val_per_class: int = 50, towers: Sequence[str] = (*FROZEN_TOWERS, "small_cnn"),
                out: Path | None = None, log: Callable[[str], None] = print) -> list[BakeoffRow]:
    dataset = load_dataset()
    assignment = load_split(dataset=dataset)
    full_train, full_val = records_in(dataset, assignment, "train"), records_in(dataset, assignment, "val")
    train, val = per_class_subset(full_train, train_per_class), per_class_subset(full_val, val_per_class)
    cache_dir = get_settings().var_dir / "encoder" / "cache"
    out = out or get_settings().var_dir / "encoder" / "bakeoff.json"
    rows: list[BakeoffRow] = []
    for name in towers:
        t0 = time.perf_counter()
        row = (small_cnn_row(full_train, val, train) if name == "small_cnn"
               else frozen_row(name, train, val, cache_dir, {"train": full_train, "val": full_val}))
        rows.append(row)
        log(f"{name}: {row} ({time.perf_counter() - t0:.0f} s)")
        atomic_write_text(out, json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return rows


def bakeoff_table(rows: Sequence[BakeoffRow]) -> str:
    """The markdown table kept in docs/encoder_bakeoff.md."""
    lines = ["| tower | train / val images | linear-probe balanced accuracy | probe accuracy | P@10 (val -> train) | CPU ms/image | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.tower} | {r.n_train} / {r.n_val} | {r.probe_balanced_accuracy:.3f} | {r.probe_accuracy:.3f} | "
                     f"{r.p_at_10:.3f} | {r.ms_per_image:.0f} | {r.note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    torch.set_num_threads(2)
    towers = sys.argv[1:] or (*FROZEN_TOWERS, "small_cnn")
    print(bakeoff_table(run_bakeoff(train_per_class=40, val_per_class=30, towers=towers)))

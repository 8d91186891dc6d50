"""One pass of the encoder's image tower per image, shared by the intake gate and the case search."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from models.encoder import DermEncoder
from models.encoder.preprocess import to_batch


@torch.inference_mode()
def tower_and_embedding(encoder: DermEncoder, images: Sequence[Image.Image], batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(pooled ImageNet-tower features (N, F), L2-normalised embeddings (N, D)) in one tower pass."""
    encoder.eval()
    feats, embs = [], []
    for start in range(0, len(images), batch_size):
        x = to_batch(images[start : start + batch_size], encoder.tower.spec)
        f = encoder.tower(x)
        flipped = encoder.tower(torch.flip(x, dims=[3])) if encoder.config.tta_flip else None
        emb, _ = encoder._tta_heads(f, flipped)
        feats.append(f.float().numpy())
        embs.append(emb.float().numpy())
    return np.concatenate(feats), np.concatenate(embs)


def tower_features(encoder: DermEncoder, images: Sequence[Image.Image]) -> np.ndarray:
    return tower_and_embedding(encoder, images)[0]

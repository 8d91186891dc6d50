"""The encoder artifact on disk: fp16 weights of what training changed, the case embeddings, a manifest.

``artifacts/encoder/`` (shipped in the repo, rebuilt by ``dermagraph train encoder``):

* ``weights.safetensors``: the trained tensors only (heads, projections, text LoRA, any fine-tuned
  tower blocks), fp16; the frozen ImageNet tower and MiniLM come from their packages;
* ``case_embeddings.npz``: ``image_ids`` and fp16 ``embeddings`` of every train+val image, so the
  similar-case index loads them instead of re-encoding 8,000 images;
* ``manifest.json``: config (``model`` and ``train``), data and split fingerprints, git commit, val
  metrics, and ``metrics.temperature`` and ``metrics.class_bias`` (fitted on val).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from knowledge.artifacts import ArtifactError, Manifest, atomic_write_bytes, read_manifest
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES
from models.encoder.model import DermEncoder, EncoderConfig

WEIGHTS_NAME = "weights.safetensors"
CASES_NAME = "case_embeddings.npz"
REBUILD_HINT = "run `dermagraph train encoder` (or `dermagraph build`)"


def encoder_dir(artifact_dir: Path | None = None) -> Path:
    return Path(artifact_dir) if artifact_dir is not None else get_settings().artifacts_dir / "encoder"


def save_weights(model: DermEncoder, folder: Path) -> Path:
    from safetensors.torch import save

    state = model.state_dict()
    tensors = {name: state[name].detach().to(torch.float16).contiguous() for name in model.trainable_state_names()
               if state[name].is_floating_point()}
    tensors.update({name: state[name].detach().contiguous() for name in model.trainable_state_names()
                    if not state[name].is_floating_point()})
    return atomic_write_bytes(Path(folder) / WEIGHTS_NAME, save(tensors))


def save_case_embeddings(folder: Path, image_ids: list[str], embeddings: np.ndarray) -> Path:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, image_ids=np.asarray(image_ids), embeddings=embeddings.astype(np.float16))
    return atomic_write_bytes(Path(folder) / CASES_NAME, buf.getvalue())


def load_case_embeddings(artifact_dir: Path | None = None) -> tuple[list[str], np.ndarray]:
    """(image ids, float32 L2-normalised embeddings) of the train+val cases shipped with the encoder."""
    path = encoder_dir(artifact_dir) / CASES_NAME
    if not path.is_file():
        raise ArtifactError(f"{path}: case embeddings missing; {REBUILD_HINT}")
    with np.load(path) as data:
        ids = [str(i) for i in data["image_ids"]]
        emb = data["embeddings"].astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True).clip(min=1e-12)  # undo fp16 rounding of the norm
    return ids, emb


def load_encoder(artifact_dir: Path | None = None, with_text: bool = True) -> DermEncoder:
    """The trained encoder from ``artifacts/encoder`` (or ``artifact_dir``), in eval mode, temperature set."""
    from safetensors.torch import load_file

    folder = encoder_dir(artifact_dir)
    manifest = read_encoder_manifest(folder)
    config = EncoderConfig.from_dict(manifest.config["model"])
    # A wholly fine-tuned tower is in the artifact itself: its pretrained weights need not be loaded first.
    model = DermEncoder(config, with_text=with_text, pretrained=not config.tune_stem)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise ArtifactError(f"{weights}: encoder weights missing; {REBUILD_HINT}")
    tensors = load_file(str(weights))
    if not with_text:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("text.")}
    expected = set(model.trainable_state_names())
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ArtifactError(f"{weights}: does not fit the config (missing {missing[:3]}, unexpected {extra[:3]}); {REBUILD_HINT}")
    state = model.state_dict()
    model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()}, strict=False)
    model.temperature = float(manifest.metrics.get("temperature", 1.0))
    bias = manifest.metrics.get("class_bias") or {}
    model.class_bias = np.asarray([float(bias.get(code, 0.0)) for code in CODES], dtype=np.float32)
    return model.eval()


def read_encoder_manifest(artifact_dir: Path | None = None) -> Manifest:
    folder = encoder_dir(artifact_dir)
    try:
        manifest = read_manifest(folder)
    except ArtifactError as exc:
        raise ArtifactError(f"{exc}; {REBUILD_HINT}") from None
    if "model" not in manifest.config:
        raise ArtifactError(f"{folder}: manifest has no model config; {REBUILD_HINT}")
    return manifest

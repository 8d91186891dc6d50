"""The shipped segmentation model: load it from ``artifacts/segmenter`` and predict lesion masks.

The artifact folder holds ``weights.safetensors`` (fp16) and ``manifest.json``, whose config
records the architecture and whose metrics record the probability threshold chosen on val.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from knowledge.artifacts import ArtifactError, read_manifest
from knowledge.settings import get_settings
from models.features.model import SegmenterArch, create_segmenter, resize_for_model, to_input

WEIGHTS_NAME = "weights.safetensors"
ARTIFACT_NAME = "segmenter"


def default_artifact_dir() -> Path:
    return get_settings().artifacts_dir / ARTIFACT_NAME


@dataclass
class Segmenter:
    """A loaded segmentation network with its input size and decision threshold."""

    net: nn.Module
    arch: SegmenterArch
    threshold: float = 0.5
    flip_average: bool = True  # average the logits of the image and its mirror image

    @torch.inference_mode()
    def logits(self, images: list[Image.Image]) -> torch.Tensor:
        """(B, 1, h, w) logits at the model's input size."""
        x = to_input(np.stack([resize_for_model(img, self.arch.input_size) for img in images]))
        out = self.net(x)
        if self.flip_average:
            out = (out + self.net(x.flip(3)).flip(3)) / 2
        return out

    @torch.inference_mode()
    def probabilities(self, img: Image.Image, sizes: list[tuple[int, int]] | None = None) -> list[np.ndarray]:
        """Lesion probability maps (H, W) for one image, one per ``sizes`` entry (W, H; default the image's).

        The logits are upsampled (bilinear) before the sigmoid, so the outline falls between model pixels.
        """
        logits = self.logits([img])
        return [
            torch.sigmoid(F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False))[0, 0].numpy()
            for w, h in (sizes or [img.size])
        ]

    def predict_masks(self, images: list[Image.Image], size: tuple[int, int]) -> np.ndarray:
        """(B, H, W) bool masks at ``size`` (W, H) for a batch (the eval suite's path)."""
        with torch.inference_mode():
            logits = F.interpolate(self.logits(images), size=size[::-1], mode="bilinear", align_corners=False)
        return (torch.sigmoid(logits)[:, 0] >= self.threshold).numpy()


def save_weights(net: nn.Module, folder: Path) -> Path:
    """Write the network's weights as fp16 safetensors, atomically."""
    from safetensors.torch import save

    from knowledge.artifacts import atomic_write_bytes

    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    return atomic_write_bytes(Path(folder) / WEIGHTS_NAME, save(state))


def load_segmenter(artifact_dir: Path | None = None) -> Segmenter:
    """Load the segmenter artifact; ``ArtifactError`` says how to build it when it is missing."""
    folder = Path(artifact_dir) if artifact_dir is not None else default_artifact_dir()
    return _load_cached(folder.resolve())


@lru_cache(maxsize=2)
def _load_cached(folder: Path) -> Segmenter:
    from safetensors.torch import load_file

    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise ArtifactError(f"{weights}: no segmentation model; build it with `dermagraph train segmenter`")
    manifest = read_manifest(folder)
    arch = SegmenterArch.from_dict(manifest.config["arch"])
    net = create_segmenter(arch)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(weights).items()}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ArtifactError(f"{weights} does not fit the architecture in its manifest ({exc})") from None
    net.eval().to(memory_format=torch.channels_last)
    return Segmenter(
        net=net,
        arch=arch,
        threshold=float(manifest.metrics.get("threshold", 0.5)),
        flip_average=bool(manifest.config.get("flip_average", True)),
    )

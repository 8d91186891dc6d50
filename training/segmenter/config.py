"""The segmenter's training recipe as one plain dataclass; its dict is the artifact's manifest config."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from models.features.model import SegmenterArch


@dataclass(frozen=True)
class SegmenterTrainConfig:
    arch: SegmenterArch = field(default_factory=SegmenterArch)
    epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.15  # one-cycle schedule: warm up, then cosine down to ~0
    seed: int = 0
    flip_average: bool = True  # inference averages the image and its mirror image
    # Colour jitter: dermoscopes differ in light and white balance.
    brightness: float = 0.2
    colour_shift: float = 0.1
    thresholds: tuple[float, ...] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)  # searched on val
    # Small subsets for tests and quick looks; None uses the whole split.
    train_limit: int | None = None
    val_limit: int | None = None

    def to_dict(self) -> dict:
        """Plain JSON types (lists, not tuples), exactly as the manifest stores them."""
        return json.loads(json.dumps(asdict(self)))

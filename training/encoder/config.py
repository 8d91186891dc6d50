"""Training configuration: one plain dataclass; its dict (with the model's) goes into the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from models.encoder.model import EncoderConfig


@dataclass(frozen=True)
class TrainConfig:
    # The last five tower blocks are fine-tuned (on cached block-10 activations): on val this beat the
    # frozen tower clearly (balanced accuracy 0.65 vs 0.55 at the balanced decision), see docs/encoder.md.
    model: EncoderConfig = field(default_factory=lambda: EncoderConfig(top_blocks=5, tune_top=True, tta_flip=False))
    # Cached trunk views per training image ("orig", "hflip", "augN": see features.py).
    train_views: tuple[str, ...] = ("orig",)
    val_views: tuple[str, ...] = ("orig",)
    epochs: int = 6  # with the top fine-tuned; val balanced accuracy was still rising slowly at 6
    batch_size: int = 256
    lr: float = 2e-3  # heads and projections
    top_lr: float = 3e-4  # fine-tuned tower blocks (when model.tune_top)
    text_lr: float = 1e-3  # text LoRA and projection
    weight_decay: float = 0.05
    warmup_steps: int = 30
    logit_adjust_tau: float = 1.0  # 0: plain cross-entropy; 1: fully class-balanced scores
    label_smoothing: float = 0.05
    supcon_weight: float = 0.5
    supcon_temperature: float = 0.1
    text_steps: int = 150  # CLIP steps for the text side (the text tower is the slow part on CPU)
    text_batch: int = 64  # image-caption pairs per CLIP step
    feature_noise: float = 0.1  # dropout on cached pooled features (frozen top): cheap augmentation
    seed: int = 0
    max_train_per_class: int | None = None  # a small real subset (tests); None: the whole train split

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        d["train_views"], d["val_views"] = list(self.train_views), list(self.val_views)
        return d

    def manifest_config(self) -> dict[str, Any]:
        """What the manifest records (and staleness compares): model architecture and training recipe."""
        d = self.to_dict()
        return {"model": d.pop("model"), "train": d}

    def with_model(self, **changes: Any) -> "TrainConfig":
        return replace(self, model=replace(self.model, **changes))


@dataclass(frozen=True)
class FinetuneConfig:
    """The "full" recipe (v3): the whole tower fine-tuned on images augmented afresh every epoch.

    See training/encoder/finetune.py and docs/encoder.md (resolution chosen by measured step cost).
    """

    model: EncoderConfig = field(default_factory=lambda: EncoderConfig(
        top_blocks=16, tune_top=True, tune_stem=True, tta_flip=True, image_size=(192, 144), color_constancy=True))
    epochs: int = 14  # 1.5-1.9 s per step of 32 on the 2 cores: 112 min measured with the text side
    batch_size: int = 32
    lr: float = 1e-3  # neck and heads
    tower_lr: float = 3e-4  # every tower layer
    text_lr: float = 1e-3  # text LoRA and projection (trained afterwards, LiT-style, as in the fast recipe)
    weight_decay: float = 0.02
    warmup_steps: int = 200
    logit_adjust_tau: float = 1.0
    label_smoothing: float = 0.05
    supcon_weight: float = 0.3
    supcon_temperature: float = 0.1
    ema_decay: float = 0.998
    aug_strength: float = 1.0
    # Phone-photo degradations (JPEG, exposure, contrast, noise: augment.photometric_augment), 0: none (v3-v5).
    # Left out of the manifest at 0, so the artifacts trained before it existed keep their config hash.
    photometric: float = 0.0
    text_steps: int = 150
    text_batch: int = 64
    seed: int = 0
    max_train_per_class: int | None = None
    # Not part of the recipe (left out of the manifest config): how the run is carried out.
    workers: int = 1
    checkpoint_minutes: float = 5.0

    recipe = "full"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    def manifest_config(self) -> dict[str, Any]:
        d = self.to_dict()
        for key in ("workers", "checkpoint_minutes"):
            d.pop(key)
        if not d["photometric"]:
            d.pop("photometric")
        return {"model": d.pop("model"), "train": dict(d, recipe=self.recipe)}

    def with_model(self, **changes: Any) -> "FinetuneConfig":
        return replace(self, model=replace(self.model, **changes))


@dataclass(frozen=True)
class LesionViewConfig(FinetuneConfig):
    """The lesion-centred member of the classifier ensemble (v4): the full recipe on crops around the
    segmenter's outline (``models/encoder/lesion_view.py``). A classifier only: no text side."""

    model: EncoderConfig = field(default_factory=lambda: EncoderConfig(
        top_blocks=16, tune_top=True, tune_stem=True, tta_flip=True, image_size=(192, 144), color_constancy=True,
        lesion_margin=0.25))
    epochs: int = 10  # the whole-image run's val plateaued from epoch 5 of 14
    text_steps: int = 0

    recipe = "lesion"


def lite2_member_config() -> FinetuneConfig:
    """The third member of the classifier ensemble (v5): the full recipe on EfficientNet-Lite2 (whole image,
    192x144), 9 epochs (the Lite0 run's val plateaued from epoch 5), no text side. Its manifest records the
    full recipe with that tower and epoch count, exactly what ``--recipe full --tower efficientnet_lite2
    --epochs 9 --text-steps 0`` trains."""
    return replace(FinetuneConfig().with_model(tower="efficientnet_lite2"), epochs=9, text_steps=0)


def lite2_partial_member_config() -> FinetuneConfig:
    """The Lite2 member with its lower layers frozen on purpose: the stem and the first five of 21 blocks keep their
    ImageNet weights and BatchNorm statistics (eval mode); blocks 6-21 and the head conv are fine-tuned, as in
    ``lite2``. A member whose low-level features stay ImageNet's differs more from the two Lite0 members, which
    is what an ensemble gains from (docs/encoder.md, "v5"); it is also cheaper per step (no backward through the
    high-resolution blocks)."""
    return replace(lite2_member_config().with_model(tune_stem=False, top_blocks=16))


def lite2_robust_member_config() -> FinetuneConfig:
    """``lite2_partial`` trained also on phone-photo degradations (JPEG, exposure, contrast, noise)."""
    return replace(lite2_partial_member_config(), photometric=1.0)


def lite2_robust_bn_member_config() -> FinetuneConfig:
    """``lite2_robust`` whose frozen stem and first five blocks re-estimate their BatchNorm statistics on the
    training images (weights stay ImageNet's): low-level features normalised for dermoscopy colour and texture."""
    return lite2_robust_member_config().with_model(adapt_trunk_bn=True)


def lesion_lite2_member_config() -> FinetuneConfig:
    """The lesion-centred member on ``lite2_robust``'s tower and recipe (Lite2, stem and first five blocks frozen at
    ImageNet's, phone-photo degradations) instead of a second Lite0: a member that differs from the whole-image
    Lite0 in its view, its architecture and its low-level features at once. 8 epochs (the Lite0 runs plateaued
    from epoch 5-6)."""
    return replace(lite2_robust_member_config().with_model(lesion_margin=0.25), epochs=8)


def full_robust_config() -> FinetuneConfig:
    """The whole-image Lite0 encoder (``full``) trained also on phone-photo degradations, as ``lite2_robust`` was:
    the shipped ``full`` member loses the most under JPEG and exposure (val, docs/encoder.md)."""
    return replace(FinetuneConfig(), photometric=1.0)


def full_256_member_config() -> FinetuneConfig:
    """A whole-image Lite0 member that sees the image upsampled to 256x192 instead of 192x144 (the resolution
    lever: the 200x150 sources gain no detail, but the tower's later feature maps get 1.8x the positions over
    the lesion). 6 epochs (the 192x144 runs plateaued from epoch 5-6; each step costs ~1.8x), no text side."""
    return replace(FinetuneConfig().with_model(image_size=(256, 192)), epochs=6, text_steps=0)


RECIPES: dict[str, Callable[[], TrainConfig | FinetuneConfig]] = {
    "fast": TrainConfig, "full": FinetuneConfig, "full_256": full_256_member_config, "full_robust": full_robust_config, "lesion": LesionViewConfig,
    "lesion_lite2": lesion_lite2_member_config, "lite2": lite2_member_config,
    "lite2_partial": lite2_partial_member_config, "lite2_robust": lite2_robust_member_config,
    "lite2_robust_bn": lite2_robust_bn_member_config}
# The recipe `dermagraph train encoder` and `dermagraph build` use unless told otherwise: the shipped
# artifact's. It moves to "full" only with an artifact trained by that recipe.
DEFAULT_RECIPE = "full"


def recipe_config(name: str | None = None) -> TrainConfig | FinetuneConfig:
    name = name or DEFAULT_RECIPE
    if name not in RECIPES:
        raise ValueError(f"unknown encoder recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]()


DEFAULT_CONFIG = TrainConfig()

"""The default classifier backend (v5): the member encoders (whole image, lesion-centred crop, ...) and metadata.

``get_classifier("ensemble")`` loads ``artifacts/classifier`` (the head fitted on val), which names its
members: the whole-image encoder (``artifacts/encoder``, shared with the case index when given as
``encoder=``), the lesion-view encoder (``artifacts/encoder_lesion``), the EfficientNet-Lite2 whole-image
encoder (``artifacts/encoder_lite2``), and the segmenter that places the lesion crop. Each call returns a
``Prediction`` with calibrated probabilities; with age, sex or site given (``metadata=``), the probabilities
include the metadata prior and ``image_probs`` keeps the image-only ones, so the triage rule can let
metadata raise a tier but never lower it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from models.classifiers import register_classifier
from knowledge.images import open_image
from knowledge.schema import Prediction
from knowledge.settings import get_settings
from models.encoder import DermEncoder, load_encoder
from models.encoder.ensemble import EnsembleHead, load_ensemble_head
from models.encoder.lesion_view import expand_box, lesion_view, segmenter_boxes

SHARED_MEMBER = "encoder"  # the member the case index also uses (loaded once per process)


class EnsembleClassifier:
    name = "ensemble"

    def __init__(self, members: Sequence[DermEncoder], head: EnsembleHead, metrics: dict,
                 abstain_below: float | None = None) -> None:
        if len(members) != len(head.weights):
            raise ValueError(f"the head weighs {len(head.weights)} members, {len(members)} given")
        self.members, self.head = list(members), head
        self.abstain_below = get_settings().abstain_below if abstain_below is None else abstain_below
        self.triage: dict | None = metrics.get("triage")  # cut-offs on the image-only probabilities (agents.risk)
        self.temperature = head.temperature

    @property
    def whole(self) -> DermEncoder:
        """The first whole-image member (the one the case index shares)."""
        return next(m for m in self.members if m.config.lesion_margin is None)

    @property
    def lesion(self) -> DermEncoder | None:
        """The first lesion-view member, if any."""
        return next((m for m in self.members if m.config.lesion_margin is not None), None)

    def activation_map(self, image: Image.Image, code: str) -> np.ndarray:
        """Where the ensemble's score for ``code`` came from: each member's LayerCAM on the image (a lesion-view
        member's inside its crop), weighted as the head weights their logits; (H, W) in [0, 1]."""
        from models.encoder.cam import layer_cam, normalise, to_image

        img = self.head.prepare(open_image(image))  # what the members saw (same size: the map fits the upload)
        outline = segmenter_boxes([img])[0] if self.lesion is not None else None
        total = np.zeros((img.height, img.width))
        for weight, member in zip(self.head.weights, self.members):
            margin = member.config.lesion_margin
            if margin is None:
                cam = to_image(layer_cam(member, img, code), img.size, member.tower.spec.input_size)
            else:
                box = expand_box(outline, margin, image_aspect=img.width / img.height)
                crop = lesion_view(img, outline, margin)  # the crop of ``box``
                cam = to_image(layer_cam(member, crop, code), img.size, member.tower.spec.input_size, box=box)
            total = total + weight * cam
        return normalise(total)

    def member_logits(self, images: Sequence[Image.Image]) -> list[np.ndarray]:
        """Each member's class logits (with its own flip TTA), a lesion-view member's on the segmenter's crop."""
        boxes = segmenter_boxes(images) if self.lesion is not None else None
        out = []
        for member in self.members:
            margin = member.config.lesion_margin
            views = images if margin is None else [lesion_view(img, box, margin) for img, box in zip(images, boxes)]
            out.append(member.class_logits(views))
        return out
    def classify(self, image: Image.Image, metadata: Mapping | None = None) -> Prediction:
        return self.classify_batch([image], [metadata] if metadata is not None else None)[0]

    def classify_batch(self, images: Sequence[Image.Image], metadata: Sequence[Mapping | None] | None = None
                       ) -> list[Prediction]:
        rgb, corrections = zip(*(self.head.input_range.apply_noting(open_image(img)) for img in images)) if images else ((), ())
        fields = None if metadata is None else [dict(m or {}) for m in metadata]
        shown, image_only = self.head.probabilities(self.member_logits(rgb), fields)
        out = []
        for i, p in enumerate(shown):
            pred = Prediction.from_probs(p.tolist(), backend=self.name, abstain_below=self.abstain_below,
                                         temperature=self.temperature)
            if fields is not None and fields[i]:
                pred = pred.model_copy(update={"image_probs": {c: float(v) for c, v in zip(pred.probs, image_only[i] / image_only[i].sum())}})
            if corrections[i]:
                pred = pred.model_copy(update={"input_corrections": corrections[i]})
            out.append(pred)
        return out


@register_classifier("ensemble")
def ensemble_classifier(artifact_dir: Path | None = None, abstain_below: float | None = None,
                        encoder: DermEncoder | None = None, members_dir: Path | None = None) -> EnsembleClassifier:
    """The ensemble; pass ``encoder=`` to share the loaded whole-image encoder (``artifacts/encoder``) with the case index.

    ``artifact_dir``: the head (default ``artifacts/classifier``), which names its members; ``members_dir``: the
    folder holding the member encoders (default ``artifacts/``)."""
    head, metrics = load_ensemble_head(artifact_dir)
    artifacts = Path(members_dir) if members_dir is not None else get_settings().artifacts_dir
    members = [encoder if encoder is not None and name == SHARED_MEMBER else load_encoder(artifacts / name, with_text=False)
               for name in head.members]
    if all(m.config.lesion_margin is not None for m in members):
        raise ValueError("the ensemble needs at least one whole-image member")
    return EnsembleClassifier(members, head, metrics, abstain_below)

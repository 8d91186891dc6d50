"""The default classifier backend (v4): the whole-image and lesion-centred encoders, and patient metadata.

``get_classifier("ensemble")`` loads ``artifacts/classifier`` (the head fitted on val), the whole-image
encoder (``artifacts/encoder``, shared with the case index when given as ``encoder=``), the lesion-view
encoder (``artifacts/encoder_lesion``) and the segmenter that places the lesion crop. Each call returns a
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
from models.encoder.ensemble import MEMBERS, EnsembleHead, load_ensemble_head
from models.encoder.lesion_view import expand_box, lesion_view, segmenter_boxes


class EnsembleClassifier:
    name = "ensemble"

    def __init__(self, whole: DermEncoder, lesion: DermEncoder, head: EnsembleHead, metrics: dict,
                 abstain_below: float | None = None) -> None:
        self.whole, self.lesion, self.head = whole, lesion, head
        self.abstain_below = get_settings().abstain_below if abstain_below is None else abstain_below
        self.triage: dict | None = metrics.get("triage")  # cut-offs on the image-only probabilities (agents.risk)
        self.temperature = head.image.temperature
        if lesion.config.lesion_margin is None:
            raise ValueError("the second member of the ensemble must be a lesion-view encoder")

    def activation_map(self, image: Image.Image, code: str) -> np.ndarray:
        """Where the ensemble's score for ``code`` came from: each member's LayerCAM on the image (the lesion
        view's inside its crop), weighted as the head weights their logits; (H, W) in [0, 1]."""
        from models.encoder.cam import layer_cam, normalise, to_image

        img = open_image(image)
        outline = segmenter_boxes([img])[0]
        box = expand_box(outline, self.lesion.config.lesion_margin, image_aspect=img.width / img.height)
        crop = lesion_view(img, outline, self.lesion.config.lesion_margin)  # the crop of ``box``
        whole = to_image(layer_cam(self.whole, img, code), img.size, self.whole.tower.spec.input_size)
        lesion = to_image(layer_cam(self.lesion, crop, code), img.size, self.lesion.tower.spec.input_size, box=box)
        return normalise(self.head.weights[0] * whole + self.head.weights[1] * lesion)

    def member_logits(self, images: Sequence[Image.Image]) -> list[np.ndarray]:
        boxes = segmenter_boxes(images)
        crops = [lesion_view(img, box, self.lesion.config.lesion_margin) for img, box in zip(images, boxes)]
        return [self.whole.class_logits(images), self.lesion.class_logits(crops)]

    def classify(self, image: Image.Image, metadata: Mapping | None = None) -> Prediction:
        return self.classify_batch([image], [metadata] if metadata is not None else None)[0]

    def classify_batch(self, images: Sequence[Image.Image], metadata: Sequence[Mapping | None] | None = None
                       ) -> list[Prediction]:
        rgb = [open_image(img) for img in images]
        fields = None if metadata is None else [dict(m or {}) for m in metadata]
        shown, image_only = self.head.probabilities(self.member_logits(rgb), fields)
        out = []
        for i, p in enumerate(shown):
            pred = Prediction.from_probs(p.tolist(), backend=self.name, abstain_below=self.abstain_below,
                                         temperature=self.temperature)
            if fields is not None and fields[i]:
                pred = pred.model_copy(update={"image_probs": {c: float(v) for c, v in zip(pred.probs, image_only[i] / image_only[i].sum())}})
            out.append(pred)
        return out


@register_classifier("ensemble")
def ensemble_classifier(artifact_dir: Path | None = None, abstain_below: float | None = None,
                        encoder: DermEncoder | None = None, members_dir: Path | None = None) -> EnsembleClassifier:
    """The ensemble; pass ``encoder=`` to share the loaded whole-image encoder with the case index.

    ``artifact_dir``: the head (default ``artifacts/classifier``); ``members_dir``: the folder holding the member
    encoders (default ``artifacts/``)."""
    head, metrics = load_ensemble_head(artifact_dir)
    artifacts = Path(members_dir) if members_dir is not None else get_settings().artifacts_dir
    whole = encoder or load_encoder(artifacts / MEMBERS[0], with_text=False)
    lesion = load_encoder(artifacts / MEMBERS[1], with_text=False)
    return EnsembleClassifier(whole, lesion, head, metrics, abstain_below)

"""The default classifier backend: the embedded CPU dermoscopy encoder's class head, temperature-scaled.

``get_classifier("encoder")`` loads ``artifacts/encoder`` (or ``artifact_dir=...``) once; each call
returns a ``Prediction`` whose probabilities are softmax(logits / T), with T fitted on val, and
which abstains when the top class falls below ``settings.abstain_below``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image

from agents.classifiers import register_classifier
from knowledge.images import open_image
from knowledge.schema import Prediction
from knowledge.settings import get_settings
from retrieval.encoder import DermEncoder, load_encoder


class EncoderClassifier:
    name = "encoder"

    def __init__(self, encoder: DermEncoder, abstain_below: float | None = None) -> None:
        self.encoder = encoder
        self.abstain_below = get_settings().abstain_below if abstain_below is None else abstain_below

    def classify(self, image: Image.Image) -> Prediction:
        return self.classify_batch([image])[0]

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Prediction]:
        rgb = [open_image(img) for img in images]  # any mode or size; open_image validates and converts
        probs = self.encoder.predict_proba(rgb)
        return [Prediction.from_probs(p.tolist(), backend=self.name, abstain_below=self.abstain_below,
                                      temperature=self.encoder.temperature) for p in probs]


@register_classifier("encoder")
def encoder_classifier(artifact_dir: Path | None = None, abstain_below: float | None = None,
                       encoder: DermEncoder | None = None) -> EncoderClassifier:
    """The encoder backend; pass ``encoder=`` to share one loaded model with the case index."""
    return EncoderClassifier(encoder or load_encoder(artifact_dir, with_text=False), abstain_below)

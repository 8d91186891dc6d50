"""The default classifier backend: the embedded CPU dermoscopy encoder's class head, temperature-scaled.

``get_classifier("encoder")`` loads ``artifacts/encoder`` (or ``artifact_dir=...``) once; each call
returns a ``Prediction`` whose probabilities are softmax(logits / T), with T fitted on val, and
which abstains when the top class falls below ``settings.abstain_below``.
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
from models.encoder import DermEncoder, load_encoder, read_encoder_manifest


class EncoderClassifier:
    name = "encoder"

    def __init__(self, encoder: DermEncoder, abstain_below: float | None = None, triage: dict | None = None) -> None:
        self.encoder = encoder
        self.abstain_below = get_settings().abstain_below if abstain_below is None else abstain_below
        # Melanoma / malignant cut-offs chosen on val (manifest ``metrics.triage``): read by ``agents.risk``.
        self.triage: dict | None = triage

    def classify(self, image: Image.Image, metadata: Mapping | None = None) -> Prediction:  # metadata: not used
        return self.classify_batch([image])[0]

    def activation_map(self, image: Image.Image, code: str) -> np.ndarray:
        """Where the encoder's score for ``code`` came from (LayerCAM): (H, W) in [0, 1]."""
        from models.encoder.cam import class_activation_map

        return class_activation_map(self.encoder, open_image(image), code)

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Prediction]:
        rgb = [open_image(img) for img in images]  # any mode or size; open_image validates and converts
        probs = self.encoder.predict_proba(rgb)
        return [Prediction.from_probs(p.tolist(), backend=self.name, abstain_below=self.abstain_below,
                                      temperature=self.encoder.temperature) for p in probs]


@register_classifier("encoder")
def encoder_classifier(artifact_dir: Path | None = None, abstain_below: float | None = None,
                       encoder: DermEncoder | None = None) -> EncoderClassifier:
    """The encoder backend; pass ``encoder=`` to share one loaded model with the case index."""
    triage = read_encoder_manifest(artifact_dir).metrics.get("triage")
    return EncoderClassifier(encoder or load_encoder(artifact_dir, with_text=False), abstain_below, triage)


def calibrate_encoder_triage(artifact_dir: Path | None = None, split_file: Path | None = None,
                             progress: bool = True) -> dict:
    """Choose the triage cut-offs on val for the encoder artifact and store them in its manifest.

    Training does the same at the end of a run; this updates an artifact trained before the rule existed
    (or after a policy change) without retraining. Only val is read.
    """
    import numpy as np

    from knowledge.artifacts import read_manifest, write_manifest
    from knowledge.calibration import policy_triage_thresholds
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in
    from knowledge.taxonomy import CODES
    from models.encoder.artifact import encoder_dir

    dataset = load_dataset()
    records = records_in(dataset, load_split(split_file, dataset), "val")
    encoder = load_encoder(artifact_dir, with_text=False)
    batches = range(0, len(records), 64)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="val predictions", unit="batch")
    probs = np.concatenate([encoder.predict_proba([open_image(r.image_path) for r in records[i : i + 64]]) for i in batches])
    labels = np.array([CODES.index(r.dx) for r in records])
    result = policy_triage_thresholds(probs, labels)
    folder = encoder_dir(artifact_dir)
    manifest = read_manifest(folder)
    manifest.metrics["triage"] = result
    write_manifest(folder, manifest, hash_files=False)
    return result

"""The Qwen2-VL LoRA classifier backend: ``get_classifier("qwen2vl", base=..., adapter=...)``.

Class probabilities come from scoring, not from parsing free text: for each image the model reads
the canonical identify question and we compute the log-likelihood of each class's answer sentence
(``knowledge.prompts.class_answer``), the seven continuations of one prompt in one batched forward.
``softmax(log-likelihoods / T)`` is the distribution, with the temperature ``T`` fitted on the
validation split by ``calibrate`` and stored next to the adapter (``calibration.json``). Because
the sentences are scored, every class always gets a probability and an untrained or confused
model yields a flat (abstaining) distribution rather than an unparseable answer.

Scoring ``sum`` (default) uses the full-sequence log-likelihood, i.e. the model's probability of
the whole sentence; ``mean`` divides by its token count (length-normalised), which helps an
un-fine-tuned base that prefers short names. ``generate`` gives free text for the composer.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from PIL import Image

from models.classifiers import register_classifier
from knowledge.artifacts import atomic_write_text
from knowledge.calibration import expected_calibration_error, fit_temperature, policy_triage_thresholds, softmax
from knowledge.images import open_image
from knowledge.metrics import accuracy, negative_log_likelihood_of_scores
from knowledge.prompts import class_answer, question
from knowledge.schema import Prediction
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES, class_index
from models.qwen2vl.loading import LoadedQwen2VL, input_device, load_qwen2vl
from models.qwen2vl.sequences import Example, answer_token_logprobs, build_batch, encode_prompt, to_device

BACKEND = "qwen2vl"
CALIBRATION_FILE = "calibration.json"
Scoring = Literal["sum", "mean"]


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    scoring: Scoring = "sum"
    triage: dict | None = None  # melanoma / malignant cut-offs chosen on val (``knowledge.calibration.triage_thresholds``)

    @classmethod
    def read(cls, folder: Path | None) -> "Calibration":
        path = Path(folder) / CALIBRATION_FILE if folder is not None else None
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        temperature = float(data["temperature"])
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"{path}: temperature {temperature} is not a positive number")
        return cls(temperature=temperature, scoring=data.get("scoring", "sum"), triage=data.get("triage"))


class Qwen2VLClassifier:
    """Implements ``knowledge.schema.Classifier``; also ``class_scores`` and ``generate``."""

    name = BACKEND

    def __init__(self, loaded: LoadedQwen2VL, calibration: Calibration = Calibration(), images_per_forward: int = 4):
        self.loaded = loaded
        self.calibration = calibration
        self.images_per_forward = max(1, images_per_forward)
        self.abstain_below = get_settings().abstain_below
        self.triage = calibration.triage  # read by agents.risk (None: the settings' low fallbacks)

    def class_scores(self, images: Sequence[Image.Image], scoring: Scoring | None = None) -> np.ndarray:
        """(N, 7) log-likelihood of each class sentence, in ``CODES`` order (before temperature)."""
        import torch

        scoring = scoring or self.calibration.scoring
        ask = question("identify")
        model, device = self.loaded.model, input_device(self.loaded.model)
        out = []
        for start in range(0, len(images), self.images_per_forward):
            chunk = [open_image(img) for img in images[start : start + self.images_per_forward]]
            examples = [Example(img, ask, class_answer(code)) for img in chunk for code in CODES]
            batch = to_device(build_batch(self.loaded.processor, examples, end_turn=False), device)
            with torch.inference_mode():
                logprobs, mask = answer_token_logprobs(model, batch)
            total = logprobs.sum(dim=1)
            if scoring == "mean":
                total = total / mask.sum(dim=1)
            out.append(total.float().cpu().numpy().reshape(len(chunk), len(CODES)))
        return np.concatenate(out) if out else np.zeros((0, len(CODES)))

    def predictions_from_scores(self, scores: np.ndarray) -> list[Prediction]:
        t = self.calibration.temperature
        return [
            Prediction.from_probs(softmax(row / t).tolist(), backend=BACKEND, abstain_below=self.abstain_below, temperature=t)
            for row in scores
        ]

    def classify(self, image: Image.Image, metadata: Mapping | None = None) -> Prediction:  # metadata: not used
        return self.classify_batch([image])[0]

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Prediction]:
        return self.predictions_from_scores(self.class_scores(images))

    def generate(self, image: Image.Image, prompt: str, max_new_tokens: int = 256) -> str:
        """Free text about the image (greedy), e.g. a feature description for the composer."""
        import torch

        processor = self.loaded.processor
        inputs = to_device(encode_prompt(processor, open_image(image), prompt), input_device(self.loaded.model))
        with torch.inference_mode():
            out = self.loaded.model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id
            )
        return processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


@register_classifier(BACKEND)
def create_qwen2vl_classifier(
    base: str | Path | None = None,
    adapter: str | Path | None = None,
    merged: str | Path | None = None,
    device: str | None = None,
    dtype: str | None = None,
    scoring: Scoring | None = None,
    images_per_forward: int = 4,
    strict_base: bool = True,
) -> Qwen2VLClassifier:
    """``base``: hub id or folder; ``adapter``: PEFT LoRA folder; ``merged``: folder of merged weights.
    ``strict_base=False`` accepts an adapter recorded against a differently named copy of the base."""
    loaded = load_qwen2vl(base=base, adapter=adapter, merged=merged, device=device, dtype=dtype, strict_base=strict_base)
    calibration = Calibration.read(loaded.weights_dir)
    if scoring is not None and scoring != calibration.scoring:
        calibration = Calibration(temperature=1.0, scoring=scoring)  # a temperature fitted for another scoring does not apply
    return Qwen2VLClassifier(loaded, calibration, images_per_forward)


# --- calibration on the validation split -------------------------------------------------------


def _val_triage(probs: np.ndarray, labels: np.ndarray) -> dict | None:
    """Triage cut-offs on the calibrated val probabilities; None when val has no melanoma or malignant image."""
    try:
        return policy_triage_thresholds(probs, labels)
    except ValueError:
        return None


def calibrate(
    base: str | Path | None = None,
    adapter: str | Path | None = None,
    merged: str | Path | None = None,
    out_dir: Path | None = None,
    split_file: Path | None = None,
    data_dir: Path | None = None,
    limit: int | None = None,
    scoring: Scoring = "sum",
    device: str | None = None,
    images_per_forward: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score the val split, fit the temperature, write ``calibration.json`` next to the weights.

    Only val is read: the test split never tunes anything. Returns the written record (NLL and
    ECE before/after, accuracy, number of images).
    """
    from knowledge.artifacts import split_fingerprint
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in
    from models.qwen2vl.records import class_interleaved

    started = time.perf_counter()
    classifier = create_qwen2vl_classifier(
        base=base, adapter=adapter, merged=merged, device=device, scoring=scoring, images_per_forward=images_per_forward
    )
    target = Path(out_dir) if out_dir is not None else classifier.loaded.weights_dir
    if target is None:
        raise ValueError("base is a hub id: pass --out FOLDER for calibration.json (or calibrate an adapter folder)")
    dataset = load_dataset(data_dir)
    assignment = load_split(split_file, dataset)
    records = class_interleaved(records_in(dataset, assignment, "val"), limit)
    if not records:
        raise ValueError("the split has no val images to calibrate on")
    scores = []
    step = classifier.images_per_forward
    for start in range(0, len(records), step):
        chunk = records[start : start + step]
        scores.append(classifier.class_scores([open_image(r.image_path) for r in chunk], scoring))
        if progress:
            progress(min(start + step, len(records)), len(records))
    scores_arr = np.concatenate(scores)
    labels = np.array([class_index(r.dx) for r in records])
    temperature = fit_temperature(scores_arr, labels)
    before, after = softmax(scores_arr), softmax(scores_arr / temperature)
    record = {
        "temperature": temperature,
        "scoring": scoring,
        "question": question("identify"),
        "split": "val",
        "split_fingerprint": split_fingerprint(assignment),
        "data_fingerprint": dataset.fingerprint(),
        "images": len(records),
        "nll_before": negative_log_likelihood_of_scores(scores_arr, labels),
        "nll_after": negative_log_likelihood_of_scores(scores_arr / temperature, labels),
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "accuracy": accuracy(labels, scores_arr.argmax(axis=1)),
        "triage": _val_triage(after, labels),
        "base": classifier.loaded.base,
        "adapter": str(classifier.loaded.adapter) if classifier.loaded.adapter else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(target / CALIBRATION_FILE, json.dumps(record, indent=2) + "\n")
    record["path"] = str(target / CALIBRATION_FILE)
    return record

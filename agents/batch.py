"""A folder of images, one row each: intake verdict, class probabilities, tier, abstention, measured features.

    rows = run_batch(folder, out_csv, resources)      # dermagraph batch FOLDER --out results.csv

The same steps as a consultation's first turn, without the conversation: the intake gate, the classifier
(calibrated probabilities), the triage rule with the measured features, the segmenter's features. A
row is written (and flushed) as soon as its image is done, keyed by the file's path and content hash,
so a run that is stopped resumes where it stopped and a changed file is redone. A file that cannot be
read gets a row with its error and the batch goes on. Decision support for research and teaching: a note
beside the CSV (``<out>.README.txt``) says what the columns mean and what they are not.
"""

from __future__ import annotations

import csv
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from knowledge.images import ImageError, open_image
from knowledge.patient import PatientInfo
from knowledge.taxonomy import CODES

from agents.resources import Resources
from agents.risk import triage

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
FEATURE_COLUMNS = ("delineated", "asymmetric_axes", "shape_asymmetry_max", "compactness", "concavity",
                   "abrupt_segments", "colour_count", "colours", "variegation", "diameter_fraction")
COLUMNS = ("path", "sha256", "error", "intake_accepted", "intake_reason", "label", *(f"p_{c}" for c in CODES),
           "malignancy", "abstained", "abstain_reason", "tier", "tier_reasons", "suspected", *FEATURE_COLUMNS,
           "backend", "seconds")
NOTE = ("dermagraph batch results: decision support for research and teaching, not a diagnosis. "
        "Probabilities are the classifier's calibrated estimates from one image; `tier` is the triage rule "
        "(low / see a clinician / see a dermatologist soon / urgent); an abstained or refused image is never a reassurance: "
        "have any lesion that worries you examined.\n")


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), in a stable order; hidden files skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def assess_image(resources: Resources, image: Any, patient: PatientInfo | None = None) -> dict[str, Any]:
    """One image through intake, classifier, features and triage: the row's values (unformatted)."""
    from models.encoder.metadata import metadata_of

    started = time.perf_counter()
    img = open_image(image)
    row: dict[str, Any] = {}
    verdict = resources.intake_gate.check(img)
    row.update(intake_accepted=verdict.accepted, intake_reason=verdict.reason or "")
    if not verdict.accepted:
        row["tier"] = ""  # refused: no estimate and no tier (the app says to have the lesion examined)
        row["seconds"] = time.perf_counter() - started
        return row
    prediction = resources.classifier.classify(img, metadata_of(patient) or None)
    analysis = resources.analyse_lesion(img)
    scalars = analysis.features.scalars() if analysis.features is not None else {}
    values = analysis.features.model_dump(mode="json") if analysis.features is not None else None
    t = triage(prediction, resources.triage_cutoffs, values, patient)
    row.update(label=prediction.label, malignancy=prediction.malignancy, abstained=prediction.abstained,
               abstain_reason=prediction.abstain_reason or "", tier=t.tier.value, tier_reasons=t.reasons,
               suspected=t.suspected or "", backend=prediction.backend, delineated=analysis.delineated)
    row.update({f"p_{c}": prediction.probs.get(c, 0.0) for c in CODES})
    for key in FEATURE_COLUMNS[1:]:
        if key == "colours":
            row[key] = analysis.features.colours if analysis.features is not None else None
        elif key in ("colour_count", "abrupt_segments") and analysis.features is not None:
            row[key] = getattr(analysis.features, key)
        else:
            row[key] = scalars.get(key)
    row["seconds"] = time.perf_counter() - started
    return row


@dataclass
class BatchSummary:
    images: int
    done_now: int
    resumed: int
    errors: int
    refused: int
    referred: int
    seconds: float
    out: Path

    def text(self) -> str:
        rate = self.done_now / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.images} image(s): {self.done_now} assessed now ({rate:.1f}/s), {self.resumed} already in "
                f"{self.out.name}; {self.refused} refused by the intake gate, {self.errors} unreadable, "
                f"{self.referred} with a tier that says to see a doctor")


def _done_rows(out: Path) -> dict[str, dict[str, str]]:
    if not out.is_file():
        return {}
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{out} exists with other columns; choose another --out or delete it")
        return {row["path"]: row for row in reader}


def run_batch(folder: Path, out: Path, resources: Resources, patient: PatientInfo | None = None,
              images: Iterable[Path] | None = None,
              on_image: Callable[[int, int, Path], None] | None = None) -> BatchSummary:
    """Assess every image of ``folder`` into ``out`` (CSV), resuming from the rows already there."""
    from agents.risk import REFERRAL_TIERS

    folder, out = Path(folder), Path(out)
    paths = list(images) if images is not None else list_images(folder)
    done = _done_rows(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = not out.is_file()
    started = time.perf_counter()
    done_now = resumed = 0
    with open(out, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if fresh:
            writer.writeheader()
            out.with_name(out.name + ".README.txt").write_text(NOTE, encoding="utf-8")
        for i, path in enumerate(paths):
            key = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
            try:
                digest = file_sha256(path)
            except OSError as exc:
                digest, row = "", {"error": f"cannot read: {exc.strerror or exc}"}
            else:
                previous = done.get(key)
                if previous is not None and previous["sha256"] == digest:
                    resumed += 1
                    if on_image is not None:
                        on_image(i + 1, len(paths), path)
                    continue
                try:
                    row = assess_image(resources, path, patient)
                except ImageError as exc:
                    row = {"error": str(exc)}
            writer.writerow({c: _fmt(v) for c, v in {"path": key, "sha256": digest, **row}.items() if c in COLUMNS})
            f.flush()
            done_now += 1
            if on_image is not None:
                on_image(i + 1, len(paths), path)
    seconds = time.perf_counter() - started
    rows = _done_rows(out)
    referral = {t.value for t in REFERRAL_TIERS}
    return BatchSummary(images=len(paths), done_now=done_now, resumed=resumed,
                        errors=sum(1 for r in rows.values() if r["error"]),
                        refused=sum(1 for r in rows.values() if r["intake_accepted"] == "no"),
                        referred=sum(1 for r in rows.values() if r["tier"] in referral),
                        seconds=seconds, out=out)

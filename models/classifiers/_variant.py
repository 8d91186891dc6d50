"""What ``--variant`` / ``--compare`` mean: a classifier backend, optionally with options.

Spelling: ``BACKEND[:KEY=VALUE,...]``, e.g.

* ``ensemble`` (the default: the three member encoders, docs/encoder.md), ``encoder`` (the whole-image encoder alone),
  ``qwen2vl:adapter=artifacts/qwen2vl``: a registered backend
  (``models.classifiers``); unknown keys go to its factory as strings (``base=``, ``adapter=``, ...);
* ``encoder:abstain=0.6``: abstain below 60 % top-class probability (``settings.abstain_below`` otherwise);
* ``ensemble:metadata=on``: the ensemble also reads each image's age, sex and body site (HAM10000 metadata);
* ``encoder:tta=on``: average the image and its mirror image (test-time augmentation; the shipped
  encoder's own setting otherwise; the shipped encoders have it on).

So ``--compare encoder:tta=off --compare encoder:tta=on`` measures what flip TTA buys, and
``--compare encoder:abstain=0.4 --compare encoder:abstain=0.6`` what a stricter abstention costs.
Suites that do not use the classifier (data, retrieval, rag, features, intent, ood) ignore the variant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from knowledge.schema import Classifier
from knowledge.settings import get_settings

ON = {"on", "true", "yes", "1"}
SWITCHES = {"tta": "encoder", "metadata": "ensemble"}  # on/off options, and the backend each belongs to
OFF = {"off", "false", "no", "0"}


@dataclass(frozen=True)
class Variant:
    spec: str  # as written
    backend: str
    abstain_below: float | None = None
    tta: bool | None = None
    metadata: bool = False  # the ensemble reads each item's age, sex and site (HAM10000 metadata)
    options: dict[str, str] = field(default_factory=dict)  # passed to the backend's factory

    @property
    def name(self) -> str:
        return self.spec


def parse_variant(spec: str | None) -> Variant:
    """``BACKEND[:KEY=VALUE,...]`` -> Variant; a clear ValueError for anything malformed."""
    from models.classifiers import DEFAULT_BACKEND, available_backends

    text = (spec or DEFAULT_BACKEND).strip()
    backend, _, rest = text.partition(":")
    if backend not in available_backends():
        raise ValueError(f"variant {text!r}: unknown classifier backend {backend!r}; available: {', '.join(available_backends())}")
    abstain, tta, metadata, options = None, None, False, {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key or not value:
            raise ValueError(f"variant {text!r}: expected KEY=VALUE, got {part!r}")
        if key == "abstain":
            try:
                abstain = float(value)
            except ValueError:
                raise ValueError(f"variant {text!r}: abstain={value!r} is not a number") from None
            if not 0 <= abstain <= 1:
                raise ValueError(f"variant {text!r}: abstain must lie in [0, 1], got {abstain}")
        elif key in SWITCHES:
            if value.lower() not in ON | OFF:
                raise ValueError(f"variant {text!r}: {key} must be on or off, got {value!r}")
            if backend != SWITCHES[key]:
                raise ValueError(f"variant {text!r}: {key} is an option of the {SWITCHES[key]} backend only")
            if key == "tta":
                tta = value.lower() in ON
            else:
                metadata = value.lower() in ON
        else:
            options[key] = value
    return Variant(spec=text, backend=backend, abstain_below=abstain, tta=tta, metadata=metadata, options=options)


def build_classifier(variant: Variant | str | None, encoder: Any = None) -> Classifier:
    """The variant's classifier. ``encoder``: an already loaded DermEncoder to share (not modified)."""
    from models.classifiers import get_classifier

    v = variant if isinstance(variant, Variant) else parse_variant(variant)
    options: dict[str, Any] = dict(v.options)
    if v.abstain_below is not None:
        options["abstain_below"] = v.abstain_below
    if v.backend == "ensemble" and encoder is not None:
        options["encoder"] = encoder
    if v.backend == "encoder":
        from models.encoder import load_encoder

        enc = encoder
        if v.tta is not None and (enc is None or enc.config.tta_flip != v.tta):
            enc = load_encoder(options.pop("artifact_dir", None), with_text=False)  # a private copy to change
            enc.config = dataclasses.replace(enc.config, tta_flip=v.tta)
        if enc is not None:
            options["encoder"] = enc
    return get_classifier(v.backend, **options)


def classifier_fingerprint(variant: Variant, classifier: Classifier) -> str | None:
    """A key that changes whenever the variant's outputs could (the shipped encoder's weights and
    calibration, TTA, abstention); ``None`` where we cannot tell (other backends, custom artifacts):
    such predictions are never cached."""
    if variant.backend not in ("encoder", "ensemble") or variant.options:
        return None
    from models.encoder.artifact import read_encoder_manifest

    manifest = read_encoder_manifest()
    if variant.backend == "ensemble":
        from knowledge.artifacts import read_manifest
        from models.encoder.ensemble import classifier_dir

        head = read_manifest(classifier_dir())
        parts = [json.dumps(manifest.files, sort_keys=True), json.dumps(head.config, sort_keys=True),
                 repr(getattr(classifier, "abstain_below", get_settings().abstain_below)), f"metadata={variant.metadata}"]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    enc = getattr(classifier, "encoder", None)
    parts = [json.dumps(manifest.files, sort_keys=True), json.dumps(manifest.metrics.get("class_bias"), sort_keys=True),
             repr(getattr(enc, "config", None)), repr(getattr(enc, "temperature", None)),
             repr(getattr(classifier, "abstain_below", get_settings().abstain_below))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

"""Classifier backends, registered by name: `get_classifier("encoder")`, `get_classifier("qwen2vl", ...)`.

A backend module ``models/classifiers/<name>.py`` decorates a factory with
``@register_classifier("<name>")``; the module is imported only when that backend is asked for,
so the CPU default never pays for loading transformers' Qwen2-VL code.
"""

from __future__ import annotations

from typing import Any, Callable

from knowledge.registry import Registry
from knowledge.schema import Classifier

Factory = Callable[..., Classifier]
# Each backend is the module of its name; listing reads the module names, ``get`` imports only the one asked for.
BACKENDS: Registry[Factory] = Registry("classifier backend", "models.classifiers", lazy=True)
register_classifier = BACKENDS.register
# The shipped default: the three member encoders (whole image, lesion view, Lite2) with patient metadata (docs/encoder.md).
DEFAULT_BACKEND = "ensemble"
# Backends built on the embedded encoder: they share the one loaded whole-image encoder.
ENCODER_BACKENDS = ("encoder", "ensemble")


def available_backends() -> list[str]:
    return BACKENDS.names()


def get_classifier(name: str = DEFAULT_BACKEND, **options: Any) -> Classifier:
    """Build the named backend; options go to its factory (e.g. base=..., adapter=... for qwen2vl)."""
    return BACKENDS.get(name)(**options)


# The one factory: a spelling ("ensemble", "encoder:tta=on", "qwen2vl:adapter=...") -> a classifier.
from models.classifiers._variant import Variant, build_classifier, classifier_fingerprint, parse_variant  # noqa: E402

__all__ = ["DEFAULT_BACKEND", "ENCODER_BACKENDS", "Variant", "available_backends", "build_classifier",
           "classifier_fingerprint", "get_classifier", "parse_variant", "register_classifier"]

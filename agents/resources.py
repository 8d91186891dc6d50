"""Models and indexes the graph's nodes use, loaded once per process and shared by every session.

``load_resources()`` is cached per (classifier backend, options): the CLI, the app and the
benchmarks all get the same loaded objects. Each loader fails with a clear message naming the
command that builds the missing artifact.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PIL import Image

from knowledge.schema import Classifier
from knowledge.settings import Settings, get_settings


@dataclass
class Resources:
    encoder: Any  # models.encoder.DermEncoder: image embeddings for intake and similar cases
    classifier: Classifier
    case_index: Any  # retrieval.cases.CaseIndex
    knowledge_index: Any  # retrieval.knowledge_index.KnowledgeIndex
    analyse_lesion: Callable[[Image.Image], Any]  # models.features.analyse_lesion
    overlay: Callable[[Image.Image, np.ndarray], Image.Image]
    intake_gate: Any  # agents.intake.IntakeGate
    composer: Callable[..., Any]
    triage_cutoffs: Any = None  # agents.risk.TriageCutoffs: the classifier's val cut-offs and the checklist's
    settings: Settings = field(default_factory=get_settings)
    _features: "OrderedDict[str, tuple[np.ndarray, np.ndarray]]" = field(default_factory=OrderedDict, repr=False)
    _features_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def image_features(self, image_hash: str, img: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """(tower features, embedding) of an image: one tower pass per image per process (LRU of 256)."""
        with self._features_lock:
            if image_hash in self._features:
                self._features.move_to_end(image_hash)
                return self._features[image_hash]
        feats, embs = self.encoder.tower_and_embedding([img])
        with self._features_lock:
            self._features[image_hash] = (feats[0], embs[0])
            while len(self._features) > 256:
                self._features.popitem(last=False)
        return feats[0], embs[0]


_CACHE: dict[tuple, Resources] = {}
_LOCK = threading.Lock()


def load_resources(classifier: str | None = None, composer: str = "auto", **classifier_options: Any) -> Resources:
    """``composer``: "template" (deterministic), "llm" (the backend writes, the reviewer checks, the
    template composer is the fallback) or "auto" (llm when the backend can generate text)."""
    if composer not in ("auto", "template", "llm"):
        raise ValueError(f"composer must be auto, template or llm, got {composer!r}")
    from models.classifiers import DEFAULT_BACKEND

    classifier = classifier or DEFAULT_BACKEND
    key = (classifier, composer, tuple(sorted((k, str(v)) for k, v in classifier_options.items())))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(classifier, composer, classifier_options)
        return _CACHE[key]


def check_artifacts() -> None:
    """Refuse artifacts that would make answers wrong rather than slow; each message names the rebuilding command.

    A similar-case index built from another encoder (or missing) is an error; an intake gate fitted on
    another encoder or data is a warning (the gate still refuses what is plainly not dermoscopy). The
    knowledge index rebuilds itself when stale (``KnowledgeIndex.open``).
    """
    import warnings

    from agents.intake_artifact import intake_dir, intake_staleness
    from knowledge.artifacts import ArtifactError
    from retrieval.cases import case_index_staleness

    reasons = case_index_staleness()
    if reasons:
        raise ArtifactError(f"the similar-case index is stale or missing ({'; '.join(reasons)}); "
                            "run `dermagraph index build`")
    reasons = intake_staleness()
    if reasons and not (intake_dir() / "manifest.json").is_file():
        raise ArtifactError(f"the intake gate is missing ({'; '.join(reasons)}); run `dermagraph build`")
    if reasons:
        warnings.warn(f"the intake gate is stale ({'; '.join(reasons)}); run `dermagraph build`", stacklevel=2)


def _load(classifier_name: str, composer: str, options: dict[str, Any]) -> Resources:
    from models.classifiers import build_classifier, parse_variant
    from agents.composer import compose
    from agents.intake_artifact import load_intake_gate
    from retrieval.cases import CaseIndex
    from models.encoder import load_encoder
    from models.features import analyse_lesion, overlay
    from retrieval.knowledge_index import KnowledgeIndex

    check_artifacts()
    encoder = load_encoder(with_text=True)  # one copy: classifier, cases (image and text search), intake
    variant = parse_variant(classifier_name)  # "ensemble", "encoder:tta=on", "qwen2vl:base=...,adapter=..."
    variant = dataclasses.replace(variant, options={**variant.options, **options})
    classifier = build_classifier(variant, encoder=encoder)
    generate = getattr(classifier, "generate", None)
    if composer == "llm" and generate is None:
        raise ValueError(f"the {classifier_name} backend cannot generate text, so the llm composer is unavailable")
    if composer in ("llm", "auto") and generate is not None:
        from agents.llm_composer import LLMComposer

        compose_fn: Callable[..., Any] = LLMComposer(generate)
    else:
        compose_fn = compose
    from agents.risk import TriageCutoffs
    from agents.triage_artifact import load_checklist_cutoff

    cutoffs = TriageCutoffs.from_manifest_metrics(getattr(classifier, "triage", None), load_checklist_cutoff())
    if problem := cutoffs.problem(classifier_name):
        import warnings

        warnings.warn(problem, stacklevel=2)
    return Resources(
        triage_cutoffs=cutoffs,
        encoder=encoder,
        classifier=classifier,
        case_index=CaseIndex.open(encoder=encoder),
        knowledge_index=KnowledgeIndex.open(),
        analyse_lesion=analyse_lesion,
        overlay=overlay,
        intake_gate=load_intake_gate(encoder),
        composer=compose_fn,
    )

"""`make demo`'s artifact step: check every artifact the app needs, build what is missing or stale.

Each ``BuildStep`` knows how to tell whether its artifact is up to date and how to (re)build it;
the steps run in order, since later ones read earlier ones (the index reads the encoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.console import Console


@dataclass(frozen=True)
class BuildStep:
    name: str
    what: str
    stale_reasons: Callable[[], list[str]]
    build: Callable[[], object]
    index: bool = False  # also built by `dermagraph index build`


def _split_stale() -> list[str]:
    from knowledge.settings import get_settings

    path = get_settings().split_file
    return [] if path.is_file() else [f"{path} missing"]


def _split_build() -> object:
    from knowledge.ham10000 import load_dataset
    from knowledge.settings import get_settings
    from knowledge.splits import make_split, write_split

    s = get_settings()
    return write_split(make_split(load_dataset(), s.split_seed, s.split_fractions), s.split_file)


def _lazy(target: str, *args: str) -> Callable[[], object]:
    """``"module:function"`` imported on call (with ``args``), so `dermagraph --help` never loads torch."""

    def call() -> object:
        import importlib

        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(*args)

    return call


# The classifier ensemble's members beside the main encoder: artifact name -> (encoder recipe, what it is).
MEMBERS: dict[str, tuple[str, str]] = {
    "encoder_lesion": ("lesion", "lesion-view encoder, the ensemble's second member (trains ~85 min on 2 cores)"),
    "encoder_lite2": ("lite2_robust", "EfficientNet-Lite2 whole-image encoder trained also on phone-photo degradations, the ensemble's third member (trains ~86 min on 2 cores)"),
}

STEPS: list[BuildStep] = [
    BuildStep("split", "lesion-disjoint train/val/test split", _split_stale, _split_build),
    BuildStep("segmenter", "lesion segmentation U-Net (trains in ~9 min on one busy core)",
              _lazy("training.segmenter.train:segmenter_staleness"), _lazy("training.segmenter.train:train_default_segmenter")),
    BuildStep("encoder", "dermoscopy image-text encoder, the ensemble's first member (trains ~112 min on 2 cores)",
              _lazy("training.encoder.train:encoder_staleness"), _lazy("training.encoder.train:train_default_encoder")),
    *(BuildStep(name, what, _lazy("training.encoder.train:member_staleness", name, recipe),
                _lazy("training.encoder.train:train_member", name, recipe)) for name, (recipe, what) in MEMBERS.items()),
    BuildStep("classifier", "classifier ensemble head: member weights, metadata, calibration, triage cut-offs (val, minutes)",
              _lazy("training.encoder.ensemble:classifier_staleness"), _lazy("training.encoder.ensemble:train_classifier")),
    BuildStep("cases", "similar-case index (Chroma, from the shipped case embeddings)",
              _lazy("retrieval.cases:case_index_staleness"), _lazy("retrieval.cases:build_case_index"), index=True),
    BuildStep("intake", "intake gate (feature density on train, thresholds on val)",
              _lazy("agents.intake_artifact:intake_staleness"), _lazy("agents.intake_artifact:build_intake")),
    BuildStep("triage", "triage checklist cut-off (measured features on val, about a minute)",
              _lazy("agents.triage_artifact:triage_staleness"), _lazy("agents.triage_artifact:build_triage")),
    BuildStep("intent", "follow-up intent model (labelled questions, about 100 s)",
              _lazy("training.intent:intent_staleness"), _lazy("training.intent:train_intent")),
    BuildStep("history", "lesion-history reader (labelled messages, a minute or two)",
              _lazy("training.history:history_staleness"), _lazy("training.history:train_history")),
    BuildStep("knowledge", "knowledge text index (corpus sections in Chroma + BM25)",
              _lazy("retrieval.knowledge_index:knowledge_stale_reasons"),
              _lazy("retrieval.knowledge_index:build_default_knowledge_index"), index=True),
]


def build_all(force: bool = False, only: list[str] | None = None, console: Console | None = None) -> dict[str, str]:
    """Run each step whose artifact is missing or stale; return step -> 'built' | 'up to date'."""
    console = console or Console()
    outcome: dict[str, str] = {}
    for step in STEPS:
        if only and step.name not in only:
            continue
        reasons = ["forced"] if force else step.stale_reasons()
        if not reasons:
            console.print(f"[green]✓[/] {step.name}: up to date")
            outcome[step.name] = "up to date"
            continue
        console.print(f"[yellow]→[/] {step.name}: building {step.what} ({'; '.join(reasons)})")
        step.build()
        outcome[step.name] = "built"
    return outcome

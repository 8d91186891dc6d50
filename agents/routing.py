"""Where a turn goes: the graph's three decisions, from the turn's intent and what the thread already knows.

A new image runs everything; a follow-up runs only what it needs ("why not melanoma?" re-reads the
knowledge base but does not re-classify; "only histology-confirmed cases" re-queries cases and nothing
else); a refused image goes straight to the knowledge base and the composer. The edges themselves are
drawn in ``agents.graph``.
"""

from __future__ import annotations

from agents.intents import IntentKind
from agents.state import DermState

UNDERSTAND = "understand"
INTAKE = "intake"
CLASSIFY = "classify"
FIND_CASES = "find_similar_cases"
ANALYSE = "analyse_features"
RETRIEVE = "retrieve_knowledge"
COMPOSE = "compose"
REVIEW = "safety_review"

FULL_PIPELINE = [INTAKE, CLASSIFY, FIND_CASES, ANALYSE, RETRIEVE, COMPOSE, REVIEW]
REFUSED_IMAGE = [RETRIEVE, COMPOSE, REVIEW]


def after_understand(state: DermState) -> str:
    """The turn's first node after ``understand``."""
    intent = state["intent"]
    assert intent is not None
    kind = intent.kind
    if kind == IntentKind.ASSESS:
        return INTAKE
    if kind == IntentKind.SELF_TREAT:  # a fixed answer, with this lesion's estimate when there is one
        return COMPOSE
    intake = state.get("intake")
    if state.get("prediction") is None or intake is None or not intake.accepted:
        return RETRIEVE  # nothing assessed yet: answer from knowledge (and ask for an image)
    if kind in (IntentKind.CASE_FILTER, IntentKind.MORE_CASES):
        return FIND_CASES
    if kind == IntentKind.PUSHBACK:
        return COMPOSE
    if kind == IntentKind.FEATURES and state.get("features") is None and state.get("image_path"):
        return ANALYSE
    return RETRIEVE  # differential, define, advice, general, features already measured


def after_intake(state: DermState) -> str:
    intake = state.get("intake")
    return CLASSIFY if intake is not None and intake.accepted else RETRIEVE


def after_cases(state: DermState) -> str:
    """A new assessment goes on to the features; a case follow-up ("more", "only women") is answered at once."""
    intent = state["intent"]
    return ANALYSE if intent is not None and intent.kind == IntentKind.ASSESS else COMPOSE

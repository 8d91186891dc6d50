"""Which nodes a turn runs, decided once per turn from its intent and what the thread already knows.

``plan_turn`` returns the ordered node names; each node removes itself from the plan when it is
done, and ``next_step`` sends the graph to whatever is left. A new image runs everything; a
follow-up runs only what it needs ("why not melanoma?" re-reads the knowledge base but does not
re-classify; "only histology-confirmed cases" re-queries cases and nothing else).
"""

from __future__ import annotations

from langgraph.graph import END

from agents.intents import IntentKind, TurnIntent

INTAKE = "intake"
CLASSIFY = "classify"
FIND_CASES = "find_similar_cases"
ANALYSE = "analyse_features"
RETRIEVE = "retrieve_knowledge"
COMPOSE = "compose"
REVIEW = "safety_review"
NODES = (INTAKE, CLASSIFY, FIND_CASES, ANALYSE, RETRIEVE, COMPOSE, REVIEW)

FULL_PIPELINE = [INTAKE, CLASSIFY, FIND_CASES, ANALYSE, RETRIEVE, COMPOSE, REVIEW]
REFUSED_IMAGE = [RETRIEVE, COMPOSE, REVIEW]


def plan_turn(intent: TurnIntent, has_assessment: bool, has_features: bool, has_image: bool) -> list[str]:
    kind = intent.kind
    if kind == IntentKind.ASSESS:
        return list(FULL_PIPELINE)
    if kind == IntentKind.SELF_TREAT:  # a fixed answer, with this lesion's estimate when there is one
        return [COMPOSE, REVIEW]
    if not has_assessment:  # nothing assessed yet: answer from knowledge (and ask for an image)
        return [RETRIEVE, COMPOSE, REVIEW]
    if kind in (IntentKind.CASE_FILTER, IntentKind.MORE_CASES):
        return [FIND_CASES, COMPOSE, REVIEW]
    if kind == IntentKind.PUSHBACK:
        return [COMPOSE, REVIEW]
    if kind == IntentKind.FEATURES:
        return ([] if has_features or not has_image else [ANALYSE]) + [RETRIEVE, COMPOSE, REVIEW]
    return [RETRIEVE, COMPOSE, REVIEW]  # differential, define, advice, general


def next_step(state: dict) -> str:
    plan = state.get("plan") or []
    return plan[0] if plan else END


def done(state: dict, node: str) -> list[str]:
    """The plan with ``node`` removed: what is left to run after it."""
    plan = list(state.get("plan") or [])
    if plan and plan[0] == node:
        plan.pop(0)
    return plan

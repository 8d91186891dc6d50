"""The graph's state: one typed object, checkpointed per thread in SQLite.

Nodes return partial updates. Values are pydantic models (registered with the checkpoint
serializer in ``agents.session``) or plain JSON; images are kept on disk (``image_path``) and
referred to by content hash, so checkpoints stay small.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field

from knowledge.cases import Case, CaseFilters
from knowledge.patient import PatientInfo
from knowledge.schema import Prediction

from agents.intents import TurnIntent
from agents.risk import Triage


class IntakeResult(BaseModel):
    accepted: bool
    reason: str | None = None  # why it was refused, in words a user can act on
    reason_zh: str | None = None
    checks: dict[str, float] = Field(default_factory=dict)  # measured values behind the decision
    width: int = 0
    height: int = 0


class CaseRef(Case):
    """A similar confirmed case, citable as [C#]."""

    ref: str
    similarity: float
    rank: int = 0  # 1 = the most similar lesion (one image per lesion); 0 = not ranked


class PassageRef(BaseModel):
    """A retrieved knowledge passage, citable as [K#]."""

    ref: str
    passage_id: str
    doc_id: str
    title: str
    section: str
    text: str
    score: float = 0.0
    references: list[str] = Field(default_factory=list)
    lang: str = "en"  # the passage's language (the answer's): Chinese answers quote the Chinese twin


class FeatureRef(BaseModel):
    """The measured lesion features, citable as [F]."""

    delineated: bool
    reason: str | None = None
    reason_zh: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    statements_en: list[str] = Field(default_factory=list)
    statements_zh: list[str] = Field(default_factory=list)
    overlay_path: str | None = None


class Sentence(BaseModel):
    text: str
    refs: list[str] = Field(default_factory=list)  # e.g. ["P"], ["C1", "C2"], ["K3"], ["F"]
    kind: Literal["fact", "policy", "prompt"] = "fact"  # policy: disclaimer/advice; prompt: asks the user
    # Statements from knowledge.criteria this sentence is built from (keys); each must rest on a cited passage.
    support: list[str] = Field(default_factory=list)


class Citation(BaseModel):
    id: str
    kind: Literal["prediction", "features", "case", "knowledge"]
    title: str
    target: str = ""  # passage id, image id, ...


class Answer(BaseModel):
    text: str
    sentences: list[Sentence]
    citations: list[Citation]
    language: str = "en"
    diagnostic: bool = False  # speaks about this lesion: a disclaimer is mandatory
    review: dict[str, Any] = Field(default_factory=dict)  # the safety reviewer's findings
    quoted: list[str] = Field(default_factory=list)  # knowledge units quoted (passage id + sentence span)


RESET_FLAGS = "__reset__"


def add_unique(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Append, keeping the first occurrence (the thread's record of quoted knowledge units)."""
    return list(dict.fromkeys([*(old or []), *(new or [])]))


def merge_flags(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Flags accumulate within a turn; a list starting with RESET_FLAGS starts a new turn's flags."""
    new = list(new or [])
    if new and new[0] == RESET_FLAGS:
        return new[1:]
    return list(dict.fromkeys([*(old or []), *new]))


class DermState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    # this turn's input
    question: str
    new_image: bool
    language_setting: str | None
    patient_input: PatientInfo | None  # this turn's form fields / CLI flags (merged into ``patient``)
    # the current image
    image_path: str | None
    image_hash: str | None
    intake: IntakeResult | None
    # what the pipeline found
    prediction: Prediction | None
    risk_tier: str | None  # ``triage.tier``, kept for the app and the JSON output
    triage: Triage | None
    patient: PatientInfo | None  # what the person told us (fields and chat), accumulated over the thread
    withdrawn_signs: list[str]  # signs a correction took back: the form's history does not bring them back
    # "clinician" once the writer says they are one (a GP, a registrar, a student with a teaching image): the advice
    # is then addressed to their patient. Kept for the thread.
    audience: str | None
    similar_cases: list[CaseRef]
    case_filters: CaseFilters
    case_page: int
    features: FeatureRef | None
    passages: list[PassageRef]
    quoted: Annotated[list[str], add_unique]  # every knowledge unit quoted in this thread: never quoted twice
    # this turn's routing and output
    intent: TurnIntent | None
    answer: Answer | None
    flags: Annotated[list[str], merge_flags]
    turn: int


STATE_TYPES: tuple[type, ...] = (IntakeResult, CaseRef, PassageRef, FeatureRef, Sentence, Citation, Answer, Prediction,
                                 PatientInfo, Triage,
                                 CaseFilters, TurnIntent)

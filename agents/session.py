"""Consultations: a thread of turns on the graph, persisted in SQLite or Postgres, shared by the CLI and the app.

    consult = Consultation()                       # SQLite at settings.sessions_db, or Postgres (agents.session_store)
    turn = consult.ask("t1", "what is this?", image="lesion.jpg")
    turn = consult.ask("t1", "why not melanoma?")  # follow-up, same thread, no image

Uploaded images are decoded once (``open_image``: size limits, bombs, odd formats), stored as PNG
under ``var/uploads/<thread>/<hash>.png`` and referred to by path and content hash; checkpoints
hold no pixels. A conversation survives a process restart because every turn is checkpointed; a
turn cut short (a failing node, a killed process) is dropped, and the next one continues from the
last completed turn (``agents.checkpoints``). Retention and per-thread quotas: ``agents.retention``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from knowledge.images import ImageError, ImageSource, image_hash, open_image
from knowledge.patient import PatientInfo
from knowledge.settings import Settings, get_settings
from knowledge.taxonomy import display_name

from agents.checkpoints import last_complete_state, resume_config, thread_config
from agents.graph import build_graph
from agents.intents import IntentKind
from agents.resources import Resources, load_resources
from agents.retention import prune_thread_uploads, thread_upload_dir, touch
from agents.session_store import SessionStore, as_outage, open_session_store
from agents.state import DermState

THREAD_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


class TurnResult(BaseModel):
    """What one turn returns to the CLI (``--json``) and the app."""

    thread_id: str
    turn: int
    intent: str
    language: str
    answer: str
    diagnosis: dict[str, Any] | None = None
    risk_tier: str | None = None
    triage: dict[str, Any] | None = None  # the tier's reasons and the figures behind them (agents.risk.Triage)
    patient: dict[str, Any] | None = None  # what the person told us, as understood
    similar_cases: list[dict[str, Any]] = Field(default_factory=list)
    features: dict[str, Any] | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    passages: list[dict[str, Any]] = Field(default_factory=list)
    intake: dict[str, Any] | None = None
    image_path: str | None = None  # the stored upload the turn is about (kept per consultation: agents.retention)
    new_image: bool = False  # this turn brought that image
    case_filters: dict[str, Any] = Field(default_factory=dict)  # the filters the similar cases were found with (set fields)
    flags: list[str] = Field(default_factory=list)
    review: dict[str, Any] = Field(default_factory=dict)
    nodes_run: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)  # per node, and "total"


def check_thread_id(thread_id: str) -> str:
    if not isinstance(thread_id, str) or not THREAD_ID.fullmatch(thread_id):  # fullmatch: "$" would let "t\n" through
        raise ValueError(f"thread id {thread_id!r} must be 1-128 letters, digits, '.', '_', ':' or '-'")
    return thread_id


class Consultation:
    """``db_path``: a SQLite file (tests, evals); by default the settings choose SQLite or Postgres."""

    def __init__(self, db_path: Path | None = None, resources: Resources | None = None,
                 classifier: str | None = None, settings: Settings | None = None,
                 store: SessionStore | None = None, **classifier_options: Any) -> None:
        self.settings = settings or get_settings()
        self.store = store or open_session_store(self.settings, Path(db_path) if db_path else None)
        self.db_path = getattr(self.store, "path", None)  # the SQLite file; None on Postgres
        self.checkpointer = self.store.saver
        self.graph = build_graph(self.checkpointer)
        self.resources = resources or load_resources(classifier, **classifier_options)

    def close(self) -> None:
        self.store.close()

    def store_image(self, thread_id: str, image: ImageSource) -> tuple[str, str]:
        """Decode, validate and store an uploaded image; returns (path, content hash).

        The thread keeps at most ``max_uploads_per_thread`` images (newest first): older ones go as a
        new one arrives, never the one the conversation is about (agents.retention).
        """
        img = open_image(image)
        digest = image_hash(img)
        folder = thread_upload_dir(self.settings.uploads_dir, thread_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest}.png"
        if path.exists():
            touch(path)  # sent again: the newest image again
        else:
            tmp = path.with_suffix(".tmp.png")
            img.save(tmp, format="PNG")
            tmp.replace(path)
        current = self.state(thread_id).get("image_path")
        prune_thread_uploads(folder, self.settings.max_uploads_per_thread, {str(path), str(current or "")})
        return str(path), digest

    def ask(self, thread_id: str, question: str | None = None, image: ImageSource | None = None,
            language: str | None = None, on_node: Callable[[str], None] | None = None,
            patient: PatientInfo | None = None) -> TurnResult:
        """Run one turn. ``on_node(name)`` is called as each node finishes (for progress displays).

        ``patient``: age, sex, body site and history given as fields (data for the triage rule, never
        instructions); it adds to what the thread already knows.
        """
        check_thread_id(thread_id)
        question = (question or "").strip()
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise ValueError(f"the question is {len(question)} characters long; the limit is {limit}")
        try:
            return self._turn(thread_id, question, image, language, on_node, patient)
        except Exception as exc:
            outage = as_outage(exc)  # a server down: say which; the graph recorded no half turn
            if outage is None:
                raise
            raise outage from exc

    def _turn(self, thread_id: str, question: str, image: ImageSource | None, language: str | None,
              on_node: Callable[[str], None] | None, patient: PatientInfo | None) -> TurnResult:
        inputs: DermState = {"question": question, "new_image": image is not None, "language_setting": language,
                             "patient_input": patient}
        if image is not None:
            path, digest = self.store_image(thread_id, image)
            inputs.update(image_path=path, image_hash=digest, intake=None)
        with self.store.turn_lock(thread_id):  # one turn of a thread at a time, in every replica
            # From the last completed turn: a turn cut short (a failing node, a killed process) is dropped.
            config = resume_config(self.graph, self.checkpointer, thread_id)
            nodes_run: list[str] = []
            timings: dict[str, float] = {}
            started = last = time.perf_counter()
            try:
                for chunk in self.graph.stream(inputs, config, context=self.resources, stream_mode="updates"):
                    now = time.perf_counter()
                    for node in chunk:
                        nodes_run.append(node)
                        timings[node] = round((now - last) * 1000, 2)
                        if on_node is not None:
                            on_node(node)
                    last = now
            except ImageError:
                stored = self.state(thread_id).get("image_path")
                if image is None and stored and not Path(stored).exists():
                    raise ImageError(
                        f"the image of this consultation is no longer stored (consultations are kept "
                        f"{self.settings.session_retention_days:g} days); upload it again to go on"
                    ) from None
                raise
            state = self.graph.get_state(thread_config(thread_id)).values
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        result = turn_result(thread_id, state, nodes_run)
        result.timings_ms = timings
        return result

    def history(self, thread_id: str) -> list[tuple[str, str]]:
        """(kind, text) of every message of the completed turns."""
        return [(m.type, str(m.content)) for m in self.state(thread_id).get("messages", [])]

    def turns(self, thread_id: str) -> list[tuple[str, TurnResult]]:
        """(question, result) of every completed turn, oldest first (the report, a history view)."""
        from agents.checkpoints import is_complete

        by_turn: dict[int, dict[str, Any]] = {}
        for snapshot in self.graph.get_state_history(thread_config(check_thread_id(thread_id))):  # newest first
            turn = snapshot.values.get("turn") or 0
            if turn and turn not in by_turn and is_complete(snapshot):
                by_turn[turn] = dict(snapshot.values)
        latest = self.state(thread_id)  # the live branch: turns after a broken-off one replace a dead branch's
        last = latest.get("turn") or 0
        out = []
        for n in sorted(t for t in by_turn if t <= last):
            values = latest if n == last else by_turn[n]
            humans = [m for m in values.get("messages", []) if m.type == "human"]
            out.append((str(humans[-1].content) if humans else "", turn_result(thread_id, values, [])))
        return out

    def state(self, thread_id: str) -> dict[str, Any]:
        """The thread's state after its last completed turn ({} before the first)."""
        snapshot = last_complete_state(self.graph, check_thread_id(thread_id))
        return dict(snapshot.values) if snapshot is not None else {}


def turn_result(thread_id: str, state: dict[str, Any], nodes_run: list[str]) -> TurnResult:
    answer = state.get("answer")
    prediction = state.get("prediction")
    intent = state.get("intent")
    intake = state.get("intake")
    refused = intake is not None and not intake.accepted
    diagnosis = None
    if refused:
        diagnosis = {"label": None, "name": None, "probabilities": None, "backend": None, "abstained": True,
                     "abstain_reason": intake.reason}
    elif prediction is not None:
        diagnosis = {
            "label": prediction.label,
            "name": display_name(prediction.label, intent.language if intent else "en"),
            "probabilities": prediction.probs,
            "image_probs": prediction.image_probs,  # image-only, when the patient's age/sex/site moved the shown ones
            "top3": [{"code": c, "name": display_name(c), "probability": p} for c, p in prediction.top_k(3)],
            "malignancy": prediction.malignancy,
            "backend": prediction.backend,
            "abstained": prediction.abstained,
            "abstain_reason": prediction.abstain_reason,
        }
    features = state.get("features")
    return TurnResult(
        thread_id=thread_id,
        turn=state.get("turn", 0),
        intent=intent.kind.value if intent else IntentKind.GENERAL.value,
        language=intent.language if intent else "en",
        answer=answer.text if answer else "",
        diagnosis=diagnosis,
        risk_tier=None if refused else state.get("risk_tier"),
        triage=None if refused or state.get("triage") is None else state["triage"].model_dump(mode="json"),
        patient=state["patient"].model_dump(mode="json") if state.get("patient") is not None else None,
        similar_cases=[c.model_dump() for c in state.get("similar_cases") or []] if not refused else [],
        features=features.model_dump() if features is not None and not refused else None,
        citations=[c.model_dump() for c in answer.citations] if answer else [],
        passages=[p.model_dump() for p in state.get("passages") or []],
        intake=intake.model_dump() if intake is not None else None,
        image_path=state.get("image_path"),
        new_image=bool(state.get("new_image")),
        case_filters=state["case_filters"].model_dump(exclude_none=True) if state.get("case_filters") is not None else {},
        flags=list(state.get("flags") or []),
        review=answer.review if answer else {},
        nodes_run=nodes_run,
    )

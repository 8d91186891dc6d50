"""A thread's last completed turn, whatever a crash or a failed node left after it.

The graph checkpoints after every node, so a turn cut short (the process killed, a node raising)
leaves checkpoints whose ``next`` still names nodes to run. Such a half turn is not a turn: the
conversation is what the last completed turn left, and the next turn forks from there. A completed
turn is never lost, and a half one never leaks into the history.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import StateSnapshot

from agents.state import STATE_TYPES


def checkpoint_serializer() -> JsonPlusSerializer:
    """Checkpoints hold our typed state: only these classes may be revived from the database."""
    enums = {("agents.intents", "IntentKind"), ("knowledge.advice", "RiskTier")}
    moved = {("agents.intents", "CaseFilters")}  # where consultations saved before the move find it (re-exported there)
    allowed = sorted({(t.__module__, t.__name__) for t in STATE_TYPES} | enums | moved)
    return JsonPlusSerializer(allowed_msgpack_modules=allowed)


def thread_config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def is_complete(snapshot: StateSnapshot) -> bool:
    """A checkpoint at the end of a turn: nothing left to run and no task of an unfinished step.

    ``next`` alone is not enough: when a process dies after a node's writes were saved but before the
    step's checkpoint was, LangGraph reports that step with its tasks done and ``next`` empty, while the
    values are those of the half turn (seen under load: a killed turn's question came back).
    """
    return not snapshot.next and not snapshot.tasks


def last_complete_state(graph: Any, thread_id: str) -> StateSnapshot | None:
    """The snapshot at the end of the thread's last completed turn; None when no turn ever completed."""
    config = thread_config(thread_id)
    latest = graph.get_state(config)
    if is_complete(latest):
        return latest  # the usual case: one read
    for past in graph.get_state_history(config):  # newest first, across forks
        if is_complete(past):
            return past
    return None


def resume_config(graph: Any, checkpointer: Any, thread_id: str) -> dict[str, Any]:
    """The config to run a new turn with: the thread's head, or its last completed turn if a turn broke off.

    A config naming an older checkpoint makes LangGraph fork from it, so the half turn is left behind
    as a dead branch. A thread whose first turn broke off has nothing to keep and starts afresh.
    """
    config = thread_config(thread_id)
    latest = graph.get_state(config)
    if is_complete(latest):
        return config
    complete = last_complete_state(graph, thread_id)
    if complete is None:
        checkpointer.delete_thread(thread_id)
        return config
    return complete.config

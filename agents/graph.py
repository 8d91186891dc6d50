"""The diagnostic graph, on one screen.

    START -> understand -> (plan) -> intake -> classify -> find_similar_cases -> analyse_features
          -> retrieve_knowledge -> compose -> safety_review -> END

``understand`` reads the turn and writes the plan; every node then hands over to whatever is left
of it (``routing.next_step``), so a follow-up runs only the nodes it needs and a refused image
skips straight to the composer. Models and indexes come in as the runtime context; sessions
persist through the injected checkpointer (SQLite in ``agents.session``).
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agents import nodes, routing
from agents.resources import Resources
from agents.state import DermState

NODE_FUNCTIONS = {
    routing.INTAKE: nodes.intake,
    routing.CLASSIFY: nodes.classify,
    routing.FIND_CASES: nodes.find_similar_cases,
    routing.ANALYSE: nodes.analyse_features,
    routing.RETRIEVE: nodes.retrieve_knowledge,
    routing.COMPOSE: nodes.compose,
    routing.REVIEW: nodes.safety_review,
}


def build_graph(checkpointer: BaseCheckpointSaver | None = None):
    graph = StateGraph(DermState, context_schema=Resources)
    graph.add_node("understand", nodes.understand)
    for name, fn in NODE_FUNCTIONS.items():
        graph.add_node(name, fn)
    destinations = [*NODE_FUNCTIONS, END]
    graph.add_edge(START, "understand")
    graph.add_conditional_edges("understand", routing.next_step, destinations)
    for name in NODE_FUNCTIONS:
        graph.add_conditional_edges(name, routing.next_step, destinations)
    return graph.compile(checkpointer=checkpointer)

"""The diagnostic graph, on one screen: its nodes, its edges, and the three places a turn can branch.

    START -> understand --(after_understand)--> intake | find_similar_cases | analyse_features
                                                | retrieve_knowledge | compose
    intake --(after_intake)--> classify, or retrieve_knowledge when the image is refused
    classify -> find_similar_cases --(after_cases)--> analyse_features (a new image) or compose (a case follow-up)
    analyse_features -> retrieve_knowledge -> compose -> safety_review -> END

A new image runs the whole pipeline; a follow-up starts where it needs to (``routing.after_understand``), so
"why not melanoma?" re-reads the knowledge base without re-classifying and "only women" re-queries cases.
Nodes return only what they found. Models and indexes come in as the runtime context; sessions persist
through the injected checkpointer (``agents.session_store``).
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agents import nodes
from agents.resources import Resources
from agents.routing import (ANALYSE, CLASSIFY, COMPOSE, FIND_CASES, INTAKE, RETRIEVE, REVIEW, UNDERSTAND, after_cases,
                            after_intake, after_understand)
from agents.state import DermState


def build_graph(checkpointer: BaseCheckpointSaver | None = None):
    graph = StateGraph(DermState, context_schema=Resources)
    graph.add_node(UNDERSTAND, nodes.understand)
    graph.add_node(INTAKE, nodes.intake)
    graph.add_node(CLASSIFY, nodes.classify)
    graph.add_node(FIND_CASES, nodes.find_similar_cases)
    graph.add_node(ANALYSE, nodes.analyse_features)
    graph.add_node(RETRIEVE, nodes.retrieve_knowledge)
    graph.add_node(COMPOSE, nodes.compose)
    graph.add_node(REVIEW, nodes.safety_review)

    graph.add_edge(START, UNDERSTAND)
    graph.add_conditional_edges(UNDERSTAND, after_understand, [INTAKE, FIND_CASES, ANALYSE, RETRIEVE, COMPOSE])
    graph.add_conditional_edges(INTAKE, after_intake, [CLASSIFY, RETRIEVE])
    graph.add_edge(CLASSIFY, FIND_CASES)
    graph.add_conditional_edges(FIND_CASES, after_cases, [ANALYSE, COMPOSE])
    graph.add_edge(ANALYSE, RETRIEVE)
    graph.add_edge(RETRIEVE, COMPOSE)
    graph.add_edge(COMPOSE, REVIEW)
    graph.add_edge(REVIEW, END)
    return graph.compile(checkpointer=checkpointer)

"""The LangGraph graph, its nodes, classifier backends and the composer."""

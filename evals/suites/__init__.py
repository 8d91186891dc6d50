"""Eval suites; each module registers its suite(s) with ``@evals.harness.suite(name)``."""

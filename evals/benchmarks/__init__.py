"""Benchmarks; each module registers with ``@evals.bench.benchmark(name)``."""

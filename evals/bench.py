"""Benchmarks (`make bench`): speed and memory targets live here, never in unit tests.

A benchmark is ``fn(out_dir: Path, quick: bool) -> dict`` registered with ``@benchmark(name)`` in
a module of ``evals/benchmarks/``. Each writes ``<out>/<name>.json``; ``bench.md`` collects them.
Quote medians and ratios: the machine is noisy.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from knowledge.artifacts import atomic_write_text
from knowledge.registry import Registry

BenchFn = Callable[[Path, bool], dict[str, Any]]
_BENCHES: Registry[BenchFn] = Registry("benchmark", "evals.benchmarks")  # listing imports every module
benchmark = _BENCHES.register


def available_benchmarks() -> list[str]:
    return _BENCHES.names()


def timings(fn: Callable[[], object], repeat: int, warmup: int = 1) -> dict[str, float]:
    """Median, p95 and min wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 3),
        "min_ms": round(samples[0], 3),
        "n": len(samples),
    }


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}


def run_benchmarks(out_dir: Path, only: list[str] | None = None, quick: bool = False,
                   progress: Callable[[str], None] = print) -> dict[str, Any]:
    wanted = only or available_benchmarks()
    _BENCHES.require(wanted)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name in wanted:
        progress(f"benchmark {name}")
        result = {"machine": machine(), **_BENCHES[name](out_dir, quick)}
        atomic_write_text(out_dir / f"{name}.json", json.dumps(result, indent=2) + "\n")
        results[name] = result
    lines = ["# dermagraph benchmarks", "", "| benchmark | result |", "|---|---|"]
    for name, res in results.items():
        summary = res.get("summary", "")
        lines.append(f"| {name} | {summary} |")
    atomic_write_text(out_dir / "bench.md", "\n".join(lines) + "\n")
    return results

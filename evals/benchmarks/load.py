"""Benchmark `load`: the real server under concurrent consultations, driven through its HTTP API.

`dermagraph serve` starts on a free loopback port (its own var folder, the shipped indexes), then
``SESSIONS`` gradio_client sessions each hold a ``TURNS``-turn consultation through ``/consult``:
turn 1 uploads a real test-split image (a different one per session), the others are follow-ups in
English and Chinese. Two scenarios:

* ``paced``: sessions arrive spread over ``RAMP_S`` seconds and pause ``THINK_S`` (mean,
  seeded-random) between turns, as people reading an answer do;
* ``burst``: every session starts at once and sends its next turn as soon as the last returns
  (a closed-loop stress test: 20 requests always in flight on 2 cores);
* ``flood``: as many one-turn requests at once as the queue holds (``settings.queue_size``), over
  raw HTTP (a lighter load generator): all must be served, by queuing, none turned away.

Reported per turn type (image, follow-up English, follow-up Chinese): client-side p50/p95 latency
(upload, queue and graph), the graph's own time, throughput, errors (an exception, or a turn number
other than expected: a lost or doubled turn), the server's memory before and after, and the load
average during the run (the cores are shared). Goal (issue 10): 0 errors, p95 <= 2 s on 2 cores.

``DERMAGRAPH_LOAD_CONFIGS="2x1,1x1,2x2,4x1"`` (concurrency x torch threads) also measures other
server settings; the default runs the shipped settings only.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.bench import benchmark

SESSIONS, TURNS = 20, 10
QUICK_SESSIONS, QUICK_TURNS, QUICK_FLOOD = 4, 4, 8
RAMP_S, THINK_S = 10.0, 1.0
GOAL_P95_S = 2.0
FIRST = {"en": "What is this lesion?", "zh": "这是什么病变？"}
FOLLOW_UPS = [  # (question, type): a realistic mix, every routing path a follow-up can take
    ("why not melanoma?", "follow_en"),
    ("为什么不是黑色素瘤？", "follow_zh"),
    ("only histology-confirmed cases", "follow_en"),
    ("我该怎么办？", "follow_zh"),
    ("show me more similar cases", "follow_en"),
    ("皮肤纤维瘤是什么？", "follow_zh"),
    ("what should I do?", "follow_en"),
    ("描述一下边界和颜色", "follow_zh"),
    ("it's benign, right?", "follow_en"),
]


@dataclass
class TurnRecord:
    kind: str
    seconds: float
    graph_ms: float | None
    error: str | None = None


@dataclass
class LoadSampler:
    """The 1-minute load average and the server's resident memory, once a second, in a thread."""

    pid: int
    loads: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.loads.append(os.getloadavg()[0])
            self.rss_mb.append(server_rss_mb(self.pid))
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def server_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    return {"p50_s": round(statistics.median(ordered), 3),
            "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
            "max_s": round(ordered[-1], 3), "n": len(ordered)}


def run_session(url: str | list[str], name: str, index: int, image: Path, turns: int, think_s: float, start_at: float,
                records: list[TurnRecord]) -> None:
    """One consultation, turn after turn, as a browser tab or script would hold it.

    Several URLs (replicas behind a non-sticky balancer): turn t of session i goes to replica (i + t) mod n.
    """
    from gradio_client import Client, handle_file

    rng = random.Random(index)
    lang = "en" if index % 2 == 0 else "zh"
    thread = f"load-{name}-{index}"
    time.sleep(max(0.0, start_at - time.monotonic()))
    urls = [url] if isinstance(url, str) else list(url)
    clients = [Client(u, verbose=False) for u in urls]
    for turn in range(1, turns + 1):
        client = clients[(index + turn) % len(clients)]
        if turn == 1:
            question, kind, upload = FIRST[lang], "image", handle_file(str(image))
        else:
            question, kind = FOLLOW_UPS[(turn - 2 + index) % len(FOLLOW_UPS)]
            upload = None
        t0 = time.perf_counter()
        try:
            result = client.predict(thread, question, upload, "", api_name="/consult")
            seconds = time.perf_counter() - t0
            error = None if result.get("turn") == turn else f"turn {result.get('turn')} where {turn} was expected"
            records.append(TurnRecord(kind, seconds, (result.get("timings_ms") or {}).get("total"), error))
        except Exception as exc:  # any failure is an error of the run, recorded, never fatal to the benchmark
            records.append(TurnRecord(kind, time.perf_counter() - t0, None, f"{type(exc).__name__}: {exc}"[:300]))
        if think_s:
            time.sleep(rng.expovariate(1.0 / think_s))


def run_scenario(url: str | list[str], pid: int, name: str, images: list[Path], sessions: int, turns: int, ramp_s: float,
                 think_s: float) -> dict[str, Any]:
    records: list[TurnRecord] = []
    sampler = LoadSampler(pid)
    rss_before = server_rss_mb(pid)
    server_cpu0, client_cpu0 = process_cpu_s(pid), time.process_time()
    started = time.monotonic()
    workers = [
        threading.Thread(target=run_session, args=(url, name, i, images[i % len(images)], turns, think_s,
                                                   started + ramp_s * i / max(1, sessions), records))
        for i in range(sessions)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.monotonic() - started
    server_cpu, client_cpu = process_cpu_s(pid) - server_cpu0, time.process_time() - client_cpu0
    sampler.stop()
    ok = [r for r in records if r.error is None]
    errors = [r.error for r in records if r.error is not None]
    by_kind = {kind: _percentiles([r.seconds for r in ok if r.kind == kind]) for kind in ("image", "follow_en", "follow_zh")}
    graph_ms = {kind: _percentiles([r.graph_ms / 1000 for r in ok if r.kind == kind and r.graph_ms is not None])
                for kind in ("image", "follow_en", "follow_zh")}
    overall = _percentiles([r.seconds for r in ok])
    return {
        "sessions": sessions, "turns_per_session": turns, "ramp_s": ramp_s, "think_s_mean": think_s,
        "turns": len(records), "errors": len(errors), "error_examples": sorted(set(errors))[:5],
        "wall_s": round(wall, 1), "throughput_turns_per_s": round(len(ok) / wall, 2),
        "latency": {"all": overall, **by_kind},
        "graph_time": graph_ms,
        "load_average": {"mean": round(statistics.mean(sampler.loads), 2), "max": round(max(sampler.loads), 2)},
        "server_rss_mb": {"before": rss_before, "max": max(sampler.rss_mb), "after": server_rss_mb(pid)},
        # CPU the server and the load generator (gradio_client threads, same 2 cores) spent per turn
        "cpu_ms_per_turn": {"server": round(1000 * server_cpu / max(1, len(records)), 1),
                            "clients": round(1000 * client_cpu / max(1, len(records)), 1)},
        "goal_met": not errors and overall.get("p95_s", 1e9) <= GOAL_P95_S,
    }


def run_flood(url: str, requests: int) -> dict[str, Any]:
    """``requests`` text turns on fresh threads, all sent at once through Gradio's HTTP call API."""
    import httpx

    seconds: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(requests)

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=600) as web:
            barrier.wait()
            t0 = time.perf_counter()
            try:
                started = web.post("/gradio_api/call/consult", json={"data": [f"flood-{i}", "what is a dermatofibroma?", None, ""]})
                started.raise_for_status()
                stream = web.get(f"/gradio_api/call/consult/{started.json()['event_id']}").text
                if "event: complete" not in stream:
                    errors.append(stream.strip().splitlines()[-1][:200] if stream.strip() else "empty stream")
                else:
                    seconds.append(time.perf_counter() - t0)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    started = time.monotonic()
    workers = [threading.Thread(target=one, args=(i,)) for i in range(requests)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"requests": requests, "errors": len(errors), "error_examples": sorted(set(errors))[:3],
            "drain_s": round(time.monotonic() - started, 1), "latency": _percentiles(seconds),
            "load_average": round(os.getloadavg()[0], 2)}


def _test_images(n: int) -> list[Path]:
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in

    dataset = load_dataset()
    test = records_in(dataset, load_split(dataset=dataset), "test")
    step = max(1, len(test) // n)
    return [r.image_path for r in test[::step][:n]]


def _require_indexes() -> Path:
    from knowledge.artifacts import ArtifactError
    from knowledge.settings import get_settings
    from retrieval.cases import case_index_staleness
    from retrieval.knowledge_index import stale_reasons

    reasons = case_index_staleness() + stale_reasons()
    if reasons:
        raise ArtifactError(f"the indexes are not ready ({'; '.join(reasons)}); run `dermagraph index build`")
    return get_settings().index_dir


def measure_server(concurrency: int, torch_threads: int, sessions: int, turns: int,
                   scenarios: dict[str, tuple[float, float]], flood: int) -> dict[str, Any]:
    """Start a server with these settings, run each scenario (ramp s, think s) against it, stop it."""
    from evals.live_server import AppServer, isolated_var_dir

    index_dir = _require_indexes()
    images = _test_images(sessions)
    with tempfile.TemporaryDirectory(prefix="dermagraph-load-") as tmp:
        env = {"DERMAGRAPH_CONCURRENCY": str(concurrency), "DERMAGRAPH_TORCH_THREADS": str(torch_threads)}
        server = AppServer(isolated_var_dir(Path(tmp), index_dir), env=env)
        t0 = time.monotonic()
        server.start()
        startup_s = time.monotonic() - t0
        try:
            results: dict[str, Any] = {
                name: run_scenario(server.url, server.pid, name, images, sessions, turns, ramp, think)  # type: ignore[arg-type]
                for name, (ramp, think) in scenarios.items()}
            results["flood"] = run_flood(server.url, flood)
            alive = server.status("/config") == 200
            loads = server.log_tail(2000).count("loading models")
        finally:
            server.stop()
    return {"concurrency": concurrency, "torch_threads": torch_threads, "startup_s": round(startup_s, 1),
            "server_alive_after": alive, "model_loads_logged": loads, "scenarios": results}


def _configs() -> list[tuple[int, int]]:
    from knowledge.settings import get_settings

    s = get_settings()
    shipped = (s.serve_concurrency, s.torch_threads)
    extra = os.environ.get("DERMAGRAPH_LOAD_CONFIGS", "")
    configs = [shipped]
    for item in filter(None, (x.strip() for x in extra.split(","))):
        c, _, t = item.partition("x")
        if (int(c), int(t or 1)) not in configs:
            configs.append((int(c), int(t or 1)))
    return configs


@benchmark("load")
def load_benchmark(out_dir: Path, quick: bool) -> dict:
    sessions, turns = (QUICK_SESSIONS, QUICK_TURNS) if quick else (SESSIONS, TURNS)
    scenarios = {"paced": (RAMP_S, THINK_S), "burst": (0.0, 0.0)}
    load_before = os.getloadavg()[0]
    from knowledge.settings import get_settings

    flood = QUICK_FLOOD if quick else get_settings().queue_size
    runs = [measure_server(c, t, sessions, turns, scenarios, flood) for c, t in _configs()]
    shipped = runs[0]["scenarios"]
    paced, burst = shipped["paced"], shipped["burst"]
    return {
        "runs": runs,
        "load_average_before": round(load_before, 2),
        "goal": {"errors": 0, "p95_s": GOAL_P95_S},
        "summary": (f"{sessions}x{turns} turns, concurrency {runs[0]['concurrency']} x {runs[0]['torch_threads']} thread(s): "
                    f"paced p50 {paced['latency']['all'].get('p50_s', float('nan')):.2f} s / p95 "
                    f"{paced['latency']['all'].get('p95_s', float('nan')):.2f} s, {paced['errors']} errors; burst p95 "
                    f"{burst['latency']['all'].get('p95_s', float('nan')):.2f} s, {burst['throughput_turns_per_s']} turns/s, "
                    f"{burst['errors']} errors; flood of {shipped['flood']['requests']}: {shipped['flood']['errors']} errors, "
                    f"drained in {shipped['flood']['drain_s']} s; load avg {paced['load_average']['mean']:.1f}/"
                    f"{burst['load_average']['mean']:.1f}"),
    }

"""Benchmark `cluster`: two replicas against one Chroma server and one Postgres, beside one embedded process.

In one run, on the same machine and images:
* ``single``: one `dermagraph serve` with the embedded defaults (Chroma in a folder, SQLite sessions);
* ``replicas``: `chroma run` + a throw-away Postgres cluster + two `dermagraph serve` replicas, every
  session alternating replicas turn by turn (a non-sticky balancer: the worst case for shared state).
Both run the load benchmark's paced scenario (``SESSIONS`` x ``TURNS``: an image, then follow-ups in
English and Chinese). Reported: errors, lost or doubled turns (a turn number other than expected),
client p50/p95 per turn type.

Then the outages, on the cluster: Chroma stopped, a turn that needs it (a case search) is asked; then
Postgres stopped, a turn is asked; each server started again and the same thread asked once more.
Reported: the error the caller got, how long it took to come, whether the thread's turn count moved
(it must not), and whether the next turn after the restart succeeded.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from evals.bench import benchmark
from evals.benchmarks.load import QUICK_SESSIONS, QUICK_TURNS, RAMP_S, SESSIONS, THINK_S, TURNS, _require_indexes, _test_images, run_scenario


def _turn(url: str, thread: str, question: str, image: Path | None = None) -> tuple[dict | None, str | None, float]:
    from gradio_client import Client, handle_file

    t0 = time.perf_counter()
    try:
        result = Client(url, verbose=False).predict(thread, question, handle_file(str(image)) if image else None, "",
                                                    api_name="/consult")
        return result, None, time.perf_counter() - t0
    except Exception as exc:
        return None, str(exc)[:300], time.perf_counter() - t0


def _outage(stop, start, replicas, thread: str, question: str) -> dict[str, Any]:
    """Stop a server, ask a turn, start it again, ask again: what the caller saw at each step."""
    before, _, _ = _turn(replicas[1].url, thread, "what is a dermatofibroma?")
    stop()
    during, error, seconds = _turn(replicas[0].url, thread, question)
    start()
    after, error_after, _ = _turn(replicas[1].url, thread, question)
    return {
        "error": error, "error_after_s": round(seconds, 2), "answered_during_outage": during is not None,
        "turn_before": before and before["turn"], "turn_after_restart": after and after["turn"],
        "turn_recorded_during_outage": bool(before and after and after["turn"] != before["turn"] + 1),
        "recovered": after is not None and error_after is None,
    }


@benchmark("cluster")
def cluster_benchmark(out_dir: Path, quick: bool) -> dict:
    from evals.live_server import AppServer, isolated_var_dir
    from evals.servers import LocalCluster

    index_dir = _require_indexes()
    sessions, turns = (QUICK_SESSIONS, QUICK_TURNS) if quick else (SESSIONS, TURNS)
    images = _test_images(sessions)
    results: dict[str, Any] = {"sessions": sessions, "turns_per_session": turns}
    with tempfile.TemporaryDirectory(prefix="dermagraph-cluster-") as tmp:
        root = Path(tmp)
        single = AppServer(isolated_var_dir(root / "single", index_dir)).start()
        try:
            results["single"] = run_scenario(single.url, single.pid, "single", images, sessions, turns, RAMP_S, THINK_S)
        finally:
            single.stop()

        t0 = time.perf_counter()
        with LocalCluster(root / "cluster") as cluster:  # servers up, indexes built into Chroma, replicas serving
            results["cluster_start_s"] = round(time.perf_counter() - t0, 1)
            replicas, chroma, postgres = cluster.replicas, cluster.chroma, cluster.postgres
            results["replicas"] = run_scenario([r.url for r in replicas], replicas[0].pid, "replicas", images,
                                               sessions, turns, RAMP_S, THINK_S)
            first, _, _ = _turn(replicas[0].url, "outage", "What is this lesion?", images[0])
            results["outage_setup_ok"] = first is not None
            results["chroma_outage"] = _outage(chroma.stop, chroma.start, replicas, "outage",
                                               "show me more similar cases")
            results["postgres_outage"] = _outage(postgres.stop, postgres.start, replicas, "outage",
                                                 "why not melanoma?")
    one, two = results["single"], results["replicas"]
    results["summary"] = (
        f"{sessions}x{turns} paced turns: 2 replicas (Chroma server + Postgres, sessions alternating) "
        f"p50 {two['latency']['all'].get('p50_s', float('nan')):.2f} s / p95 {two['latency']['all'].get('p95_s', float('nan')):.2f} s, "
        f"{two['errors']} errors; one embedded process p50 {one['latency']['all'].get('p50_s', float('nan')):.2f} s / "
        f"p95 {one['latency']['all'].get('p95_s', float('nan')):.2f} s, {one['errors']} errors; outages: Chroma "
        f"{'recovered' if results['chroma_outage']['recovered'] else 'NOT recovered'}, Postgres "
        f"{'recovered' if results['postgres_outage']['recovered'] else 'NOT recovered'}")
    return results

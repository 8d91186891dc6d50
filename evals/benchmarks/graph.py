"""Benchmark `graph`: latency of a consultation turn with the default classifier backend (the ensemble).

New-image turns on real test images (the full pipeline) and follow-ups of each kind (differential,
case filter, more cases, definition, advice, Chinese), all in-process on one loaded set of models.
Goals (issue 7): new-image turn p50 <= 0.5 s, follow-up p50 <= 0.2 s on 2 cores.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from evals.bench import benchmark

FOLLOW_UPS = [
    "why not melanoma?",
    "only histology-confirmed cases",
    "show me more similar cases",
    "what is a dermatofibroma?",
    "what should I do?",
    "为什么不是基底细胞癌？",
]


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "n": len(ordered)}


@benchmark("graph")
def graph_turns(out_dir: Path, quick: bool) -> dict:
    from agents.resources import load_resources
    from agents.session import Consultation
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split, records_in

    dataset = load_dataset()
    test = records_in(dataset, load_split(dataset=dataset), "test")
    images = [r.image_path for r in test[:: max(1, len(test) // (6 if quick else 20))]][: 6 if quick else 20]
    resources = load_resources()
    with tempfile.TemporaryDirectory() as tmp:
        consult = Consultation(db_path=Path(tmp) / "bench.sqlite", resources=resources)
        consult.ask("warm-up", "what is this?", image=images[0])  # first-call costs (allocations, caches)
        new_image, follow, per_node = [], {q: [] for q in FOLLOW_UPS}, {}
        for i, path in enumerate(images):
            turn = consult.ask(f"bench-{i}", "What is this lesion?", image=path)
            new_image.append(turn.timings_ms["total"])
            for node, ms in turn.timings_ms.items():
                per_node.setdefault(node, []).append(ms)
            if turn.diagnosis and turn.diagnosis.get("label"):
                for q in FOLLOW_UPS:
                    follow[q].append(consult.ask(f"bench-{i}", q).timings_ms["total"])
        consult.close()
    all_follow = [ms for v in follow.values() for ms in v]
    new_s, follow_s = _summary(new_image), _summary(all_follow)
    return {
        "new_image_turn": new_s,
        "follow_up_turn": follow_s,
        "follow_up_by_question": {q: _summary(v) for q, v in follow.items() if v},
        "new_image_nodes": {n: _summary(v) for n, v in per_node.items()},
        "load_average": os.getloadavg()[0],
        "goals": {"new_image_p50_ms": 500, "follow_up_p50_ms": 200},
        "summary": (f"new image p50 {new_s['p50_ms']:.0f} ms (p95 {new_s['p95_ms']:.0f}); follow-up p50 "
                    f"{follow_s['p50_ms']:.0f} ms (p95 {follow_s['p95_ms']:.0f}); load {os.getloadavg()[0]:.1f}"),
    }


@benchmark("batch")
def batch_throughput(out_dir: Path, quick: bool) -> dict:
    """`dermagraph batch`: images per second through intake, classifier, features and triage (one process)."""
    import csv
    import shutil

    from agents.batch import run_batch
    from agents.resources import load_resources
    from evals.benchmarks.load import _test_images

    images = _test_images(16 if quick else 64)
    resources = load_resources()
    with tempfile.TemporaryDirectory(prefix="dermagraph-batch-") as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for image in images:
            shutil.copy(image, folder / image.name)
        run_batch(folder, Path(tmp) / "warm.csv", resources, images=sorted(folder.iterdir())[:2])  # first-call costs
        summary = run_batch(folder, Path(tmp) / "results.csv", resources)
        with open(Path(tmp) / "results.csv", newline="") as f:
            per_image = [float(r["seconds"]) for r in csv.DictReader(f) if r["seconds"]]
    rate = summary.done_now / summary.seconds
    return {"images": summary.images, "seconds": round(summary.seconds, 2), "images_per_s": round(rate, 2),
            "per_image_p50_s": round(statistics.median(per_image), 3), "refused": summary.refused,
            "summary": f"{summary.images} test images: {rate:.2f} images/s, p50 {statistics.median(per_image):.2f} s "
                       f"per image (intake + classifier + features + triage, one process)"}


@benchmark("report")
def report_generation(out_dir: Path, quick: bool) -> dict:
    """`dermagraph report`: the PDF of a 3-turn consultation (EN and ZH), timed inside the command (models loaded;
    the first run of each language also draws the heat map), through the real console script."""
    import re
    import subprocess
    import sys

    from evals.benchmarks.load import _require_indexes, _test_images
    from evals.live_server import isolated_var_dir

    dermagraph = str(Path(sys.executable).with_name("dermagraph"))
    index_dir = _require_indexes()
    runs = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="dermagraph-report-") as tmp:
        env = {**os.environ, "DERMAGRAPH_VAR": str(isolated_var_dir(Path(tmp), index_dir))}
        image = _test_images(1)[0]
        for question in ("What is this lesion?", "why not melanoma?", "我该怎么办？"):
            args = [dermagraph, "ask", "--thread", "bench-report", "-q", question]
            subprocess.run(args + ([str(image)] if question.startswith("What") else []), env=env, check=True,
                           capture_output=True, timeout=600)
        seconds, pages = [], []
        for i in range(runs):
            lang = "en" if i % 2 == 0 else "zh"
            done = subprocess.run([dermagraph, "report", "bench-report", "--out", str(Path(tmp) / f"r{i}.pdf"), "--lang", lang],
                                  env=env, check=True, capture_output=True, text=True, timeout=600)
            found = re.search(r"(\d+) page\(s\), \d+ turn\(s\), ([\d.]+) s", done.stdout)
            pages.append(int(found.group(1)))
            seconds.append(float(found.group(2)))
    later = seconds[2:] or seconds  # the first of each language draws the heat map
    p50 = statistics.median(later)
    return {"runs": runs, "seconds": seconds, "pages": pages, "p50_s_after_first": round(p50, 3),
            "first_s": seconds[:2],
            "summary": f"3-turn consultation, {pages[0]} pages: p50 {p50:.2f} s (first, with the heat map, "
                       f"{max(seconds[:2]):.2f} s), inside `dermagraph report` on 2 cores"}

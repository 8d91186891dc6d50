"""Benchmark `data_load`: how long loading the dataset index and decoding images takes."""

from __future__ import annotations

from pathlib import Path

from evals.bench import benchmark, timings


@benchmark("data_load")
def data_load(out_dir: Path, quick: bool) -> dict:
    from knowledge.ham10000 import scan_folder
    from knowledge.images import open_image
    from knowledge.settings import get_settings

    root = get_settings().data_dir
    index = timings(lambda: scan_folder(root), repeat=3 if quick else 7)
    dataset, _ = scan_folder(root)
    paths = [r.image_path for r in list(dataset)[:200]]
    decode = timings(lambda: [open_image(p) for p in paths], repeat=3 if quick else 7)
    per_image_ms = decode["p50_ms"] / len(paths)
    return {
        "index_ms": index,
        "decode_200_images_ms": decode,
        "decode_ms_per_image_p50": round(per_image_ms, 3),
        "summary": f"index {index['p50_ms']:.0f} ms; decode {per_image_ms:.2f} ms/image (p50)",
    }

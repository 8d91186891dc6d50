"""Benchmark `features`: time per image for the lesion-feature analyser and its two halves."""

from __future__ import annotations

from pathlib import Path

from evals.bench import benchmark, timings


@benchmark("features")
def features_benchmark(out_dir: Path, quick: bool) -> dict:
    import numpy as np

    from knowledge.ham10000 import load_dataset
    from knowledge.images import open_image
    from knowledge.splits import load_split, records_in
    from models.features import analyse_lesion, load_segmenter, measure_lesion
    from models.features.masks import read_mask

    dataset = load_dataset()
    records = records_in(dataset, load_split(dataset=dataset), "test")[: 10 if quick else 40]
    images = [open_image(r.image_path) for r in records]
    masks = [read_mask(r.mask_path) for r in records]  # type: ignore[arg-type]
    segmenter = load_segmenter()
    repeat = 2 if quick else 5

    def per_image(fn) -> dict:
        t = timings(lambda: [fn(i) for i in range(len(images))], repeat=repeat)
        return {k: (round(v / len(images), 3) if k.endswith("_ms") else v) for k, v in t.items()}

    analyse = per_image(lambda i: analyse_lesion(images[i], segmenter))
    segment = per_image(lambda i: segmenter.probabilities(images[i]))
    measure = per_image(lambda i: measure_lesion(images[i], masks[i]))
    big = images[0].resize((1600, 1200))
    analyse_big = timings(lambda: analyse_lesion(big, segmenter), repeat=repeat)
    return {
        "images": len(images),
        "analyse_ms_per_image": analyse,
        "segment_ms_per_image": segment,
        "measure_ms_per_image": measure,
        "analyse_1600x1200_ms": analyse_big,
        "delineated": int(np.sum([analyse_lesion(img, segmenter).delineated for img in images])),
        "summary": (f"analyse_lesion {analyse['p50_ms']:.0f} ms/image p50 (segmentation alone {segment['p50_ms']:.0f}, measurement alone "
                    f"{measure['p50_ms']:.0f}); 1600x1200 upload {analyse_big['p50_ms']:.0f} ms"),
    }

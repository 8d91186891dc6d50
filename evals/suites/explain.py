"""Suite `explain`: do the heat maps point at the lesion?

The pointing game (Zhang et al., ECCV 2016) against HAM10000's lesion masks: a map "hits" when its peak
falls inside the annotated lesion. Measured on a class-balanced sample of the split's images that have a
mask, for the map of the classifier's top class (what the app shows first) and, on melanomas, for the
melanoma map; with the share of the map's mass inside the lesion beside it (the lesion covers on
average a fifth of the image, so a map that ignored the lesion would score about that). The layer and
the method (LayerCAM at the last 1/16 stage) were chosen on val (``models.encoder.cam``); this suite
runs on the split asked for (test by default). Goal (issue 16): pointing >= 0.9.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from evals.harness import EvalContext, SuiteResult, balanced_sample, suite
from knowledge.images import open_image
from knowledge.taxonomy import CODES

GOAL_POINTING = 0.9
DEFAULT_SAMPLE = 350


def _hit(heat: np.ndarray, mask: np.ndarray) -> tuple[bool, float]:
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    total = float(heat.sum())
    return bool(mask[y, x]), float((heat * mask).sum() / total) if total > 0 else 0.0


def _examples_plot(ctx: EvalContext, examples: list[tuple]) -> object:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.encoder.cam import heat_overlay

    fig, axes = plt.subplots(2, 4, figsize=(12, 5.2))
    for ax, (item, code, heat, mask, hit) in zip(axes.flat, examples):
        img = open_image(item.image_path)
        ax.imshow(heat_overlay(img, heat))
        ax.contour(mask, levels=[0.5], colors=["#00e5ff"], linewidths=1.0)
        y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        ax.plot([x], [y], marker="+", color="white", markersize=12, mew=2)
        ax.set_title(f"{item.dx} (map: {code}) {'hit' if hit else 'miss'}", fontsize=9)
        ax.axis("off")
    for ax in list(axes.flat)[len(examples):]:
        ax.axis("off")
    fig.suptitle("Heat map of the top class (LayerCAM), lesion outline in cyan, peak +", fontsize=11)
    fig.tight_layout()
    path = ctx.plot_path("explain", "examples")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@suite("explain")
def explain_suite(ctx: EvalContext) -> SuiteResult:
    from models.classifiers import build_classifier, parse_variant
    from models.features.masks import read_mask

    classifier = build_classifier(parse_variant(ctx.variant))
    if not hasattr(classifier, "activation_map"):
        raise ValueError(f"the {classifier.name} classifier has no heat map")
    items = [it for it in ctx.items() if it.mask_path is not None]
    n = min(len(items), ctx.sample or DEFAULT_SAMPLE)
    items = balanced_sample(items, n, seed=16)
    by_class: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    mel_map: list[tuple[bool, float]] = []
    seconds, examples = [], []
    for item in tqdm(items, desc="explain", unit="image", leave=False):
        img = open_image(item.image_path)
        mask = read_mask(item.mask_path, img.size)  # type: ignore[arg-type]
        code = classifier.classify(img).label
        t0 = time.perf_counter()
        heat = classifier.activation_map(img, code)
        seconds.append(time.perf_counter() - t0)
        hit = _hit(heat, mask)
        by_class[item.dx].append(hit)
        if item.dx == "mel":
            mel_map.append(hit if code == "mel" else _hit(classifier.activation_map(img, "mel"), mask))
        shown = {e[0].dx for e in examples}
        if len(examples) < 8 and sum(e[0].dx == item.dx for e in examples) < 2 and (item.dx in shown or len(shown) < 4):
            examples.append((item, code, heat, mask, hit[0]))
    every = [h for hits in by_class.values() for h in hits]
    pointing = float(np.mean([h[0] for h in every]))
    per_class = {c: float(np.mean([h[0] for h in by_class[c]])) for c in CODES if by_class.get(c)}
    metrics = {
        "split": None if ctx.external else ctx.split, "n": len(every), "method": "LayerCAM, last 1/16 stage, per member",
        "pointing_top_class": round(pointing, 4),
        "pointing_balanced": round(float(np.mean(list(per_class.values()))), 4),
        "pointing_per_class": {c: round(v, 4) for c, v in per_class.items()},
        "mass_in_lesion": round(float(np.mean([h[1] for h in every])), 4),
        "pointing_melanoma_map_on_melanomas": round(float(np.mean([h[0] for h in mel_map])), 4) if mel_map else None,
        "seconds_per_map_p50": round(float(np.median(seconds)), 3),
        "goal": {"pointing": GOAL_POINTING}, "goal_met": pointing >= GOAL_POINTING,
    }
    plots = [_examples_plot(ctx, examples)] if examples else []
    where = "external set" if ctx.external else f"{ctx.split} split"
    md = [f"# Heat maps: the pointing game ({where}, {len(every)} images with a lesion mask, class-balanced sample)", "",
          f"Method: {metrics['method']}; a map hits when its peak is inside the annotated lesion.", "",
          "| measure | value |", "|---|---|",
          f"| pointing, top-class map | {pointing:.3f} (goal {GOAL_POINTING}: {'met' if metrics['goal_met'] else 'not met'}) |",
          f"| pointing, mean of the per-class rates | {metrics['pointing_balanced']:.3f} |",
          f"| pointing, melanoma map on melanomas | {metrics['pointing_melanoma_map_on_melanomas']} |",
          f"| share of the map's mass inside the lesion | {metrics['mass_in_lesion']:.3f} |",
          f"| seconds per map (p50, 2 cores) | {metrics['seconds_per_map_p50']:.2f} |", "",
          "| class | n | pointing |", "|---|---|---|"]
    md += [f"| {c} | {len(by_class[c])} | {per_class[c]:.3f} |" for c in per_class]
    summary = (f"pointing {pointing:.3f} (goal {GOAL_POINTING}), melanoma map on melanomas "
               f"{metrics['pointing_melanoma_map_on_melanomas']}, mass in lesion {metrics['mass_in_lesion']:.2f}, "
               f"{metrics['seconds_per_map_p50']:.2f} s/map")
    return SuiteResult(metrics, "\n".join(md), plots, summary)

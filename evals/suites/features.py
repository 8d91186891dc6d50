"""Suite `features`: how well the lesion is outlined, and whether the measured features mean something.

1. Segmentation on the split's ground-truth masks: Dice and Jaccard per image at the model's input
   resolution and upsampled to 200x150, plus the ISIC 2018 "thresholded Jaccard" (an image scoring
   under 0.65 counts as 0).
2. ``analyse_lesion`` on every image: how often the lesion is delineated, and why not.
3. Melanoma vs naevus: each measured feature's distribution, from the predicted outline (what the
   app reports) and from the ground-truth outline (the measure on its own), with Cohen's d and the
   AUC of the feature alone; one plot per feature.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from evals.harness import EvalContext, SuiteResult, balanced_sample, suite
from knowledge.cases import Case
from knowledge.images import open_image
from knowledge.taxonomy import get_class

MELANOMA, NAEVUS = get_class("mel").code, get_class("nv").code
ISIC_JACCARD_FLOOR = 0.65  # ISIC 2018 task 1 scored a Jaccard under 0.65 as 0 (Codella et al. 2019)


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / pooled standard deviation."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random melanoma scores higher than a random naevus), ties counted half (Mann-Whitney)."""
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([positive, negative]))
    return float((ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


def _segmentation_scores(items: list[Case], batch: int = 64) -> dict:
    import torch
    from torch.nn import functional as F

    from models.features.masks import EVAL_SIZE, dice_jaccard, read_mask, soft_mask
    from models.features.segmenter import load_segmenter

    segmenter = load_segmenter()
    size = segmenter.arch.input_size
    low, full = [], []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        logits = segmenter.logits([open_image(it.image_path) for it in chunk])
        prob_low = torch.sigmoid(logits)[:, 0].numpy()
        prob_full = torch.sigmoid(F.interpolate(logits, size=EVAL_SIZE[::-1], mode="bilinear", align_corners=False))[:, 0].numpy()
        truth_low = np.stack([soft_mask(it.mask_path, size) >= 0.5 for it in chunk])  # type: ignore[arg-type]
        truth_full = np.stack([read_mask(it.mask_path, EVAL_SIZE) for it in chunk])  # type: ignore[arg-type]
        low.append(np.stack(dice_jaccard(prob_low >= segmenter.threshold, truth_low)))
        full.append(np.stack(dice_jaccard(prob_full >= segmenter.threshold, truth_full)))
    (dice_low, jac_low), (dice, jac) = np.concatenate(low, axis=1), np.concatenate(full, axis=1)
    return {
        "n": len(items),
        "threshold": segmenter.threshold,
        "model_size": list(size),
        "eval_size": list(EVAL_SIZE),
        "dice_model_res": float(dice_low.mean()),
        "jaccard_model_res": float(jac_low.mean()),
        "dice": float(dice.mean()),
        "dice_median": float(np.median(dice)),
        "jaccard": float(jac.mean()),
        "jaccard_median": float(np.median(jac)),
        "thresholded_jaccard": float(np.where(jac >= ISIC_JACCARD_FLOOR, jac, 0.0).mean()),
        "share_dice_below_0.7": float((dice < 0.7).mean()),
        "_dice_per_image": dice,
    }


def _feature_table(items: list[Case], source: str) -> tuple[list[dict], Counter]:
    """Scalar features per item from the predicted (``analyse``) or ground-truth (``truth``) outline."""
    from models.features import analyse_lesion, measure_lesion
    from models.features.masks import read_mask

    rows, refusals = [], Counter()
    for it in items:
        if source == "analyse":
            analysis = analyse_lesion(open_image(it.image_path))
            if not analysis.delineated:
                refusals[(analysis.reason or "").split(":")[0].split(" (")[0]] += 1
                continue
            features = analysis.features
        else:
            features = measure_lesion(it.image_path, read_mask(it.mask_path))  # type: ignore[arg-type]
        rows.append({"dx": it.dx, **features.scalars()})  # type: ignore[union-attr]
    return rows, refusals


def _effect_sizes(rows: list[dict]) -> dict[str, dict[str, float]]:
    out = {}
    names = [k for k in rows[0] if k != "dx"] if rows else []
    for name in names:
        mel = np.array([r[name] for r in rows if r["dx"] == MELANOMA], dtype=float)
        nv = np.array([r[name] for r in rows if r["dx"] == NAEVUS], dtype=float)
        out[name] = {
            "mel_median": float(np.median(mel)) if len(mel) else float("nan"),
            "nv_median": float(np.median(nv)) if len(nv) else float("nan"),
            "cohens_d": cohens_d(mel, nv),
            "auc": auc(mel, nv),
            "n_mel": len(mel),
            "n_nv": len(nv),
        }
    return out


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(ctx: EvalContext, fig, name: str) -> object:
    fig.tight_layout()
    path = ctx.plot_path("features", name)
    fig.savefig(path, dpi=95)
    _pyplot().close(fig)
    return path


def _plot_feature(ctx: EvalContext, name: str, predicted: list[dict], truth: list[dict], stats: dict) -> object:
    fig, axes = _pyplot().subplots(1, 2, figsize=(8, 2.8), sharex=True)
    for ax, rows, title in ((axes[0], predicted, "predicted outline"), (axes[1], truth, "ground-truth outline")):
        for code, colour in ((NAEVUS, "#4c72b0"), (MELANOMA, "#c44e52")):
            values = [r[name] for r in rows if r["dx"] == code]
            if values:
                ax.hist(values, bins=30, density=True, alpha=0.55, color=colour, label=f"{code} (n={len(values)})")
        s = stats.get(title.split()[0], {}).get(name, {})
        ax.set_title(f"{title}: d={s.get('cohens_d', float('nan')):.2f}, AUC={s.get('auc', float('nan')):.2f}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(name, fontsize=10)
    return _save(ctx, fig, name)


def _dice_plot(ctx: EvalContext, dice: np.ndarray) -> object:
    fig, ax = _pyplot().subplots(figsize=(5, 2.8))
    ax.hist(dice, bins=40, color="#55a868")
    ax.axvline(float(dice.mean()), color="k", linestyle="--", label=f"mean {dice.mean():.3f}")
    ax.set_xlabel("Dice per image (200x150)")
    ax.set_ylabel("images")
    ax.legend()
    return _save(ctx, fig, "dice")


EXPOSURE_CONDITIONS = (("brightness", 3), ("brightness", 5), ("contrast", 5))  # evals.corruptions severities
EXPOSURE_SAMPLE = 70  # class-balanced images for the under-exposure check


def _exposure_check(items: list[Case]) -> dict:
    """The same lesions photographed too dark or too flat: does the analyser name the colours and score the
    checklist as it does on the photo as taken, with the exposure floor (shipped) and without it?"""
    from agents.checklist import checklist_score
    from evals.corruptions import corrupt, image_seed
    from models.features import analyse_lesion, load_segmenter

    segmenter = load_segmenter()
    reference = {}
    for it in balanced_sample(items, EXPOSURE_SAMPLE, seed=0):
        a = analyse_lesion(it.image_path, segmenter)
        if a.features is not None:
            reference[it.image_id] = (it, a.features)
    out: dict = {"n": len(reference)}
    for kind, severity in EXPOSURE_CONDITIONS:
        row = {}
        for arm, floor in (("floor", "shipped"), ("as_uploaded", None)):
            same_colours = same_score = black_added = delineated = 0
            for image_id, (it, ref) in reference.items():
                img = corrupt(open_image(it.image_path), kind, severity, seed=image_seed(image_id, kind, severity))
                got = analyse_lesion(img, segmenter, floor=floor).features
                if got is None:
                    continue
                delineated += 1
                same_colours += set(got.colours) == set(ref.colours)
                same_score += checklist_score(got.model_dump(mode="json")) == checklist_score(ref.model_dump(mode="json"))
                black_added += "black" in got.colours and "black" not in ref.colours
            n = max(len(reference), 1)
            row[arm] = {"delineated": delineated / n, "same_colours": same_colours / n, "same_checklist_score": same_score / n,
                        "black_added": black_added / n}
        out[f"{kind}:{severity}"] = row
    return out


@suite("features", variants=False)
def features_suite(ctx: EvalContext) -> SuiteResult:
    items = ctx.items()
    with_masks = [it for it in items if it.mask_path is not None]
    metrics: dict = {"split": None if ctx.external else ctx.split, "n_items": len(items)}
    plots = []
    md = [f"# Lesion features ({'external set' if ctx.external else ctx.split + ' split'}, {len(items)} images)", ""]

    if with_masks:
        seg = _segmentation_scores(with_masks)
        dice = seg.pop("_dice_per_image")
        metrics["segmentation"] = seg
        plots.append(_dice_plot(ctx, dice))
        md += [
            "## Segmentation", "",
            f"{seg['n']} images with a ground-truth mask; threshold {seg['threshold']} (chosen on val).", "",
            "| resolution | Dice | Jaccard |", "|---|---:|---:|",
            f"| model input {seg['model_size'][0]}x{seg['model_size'][1]} | {seg['dice_model_res']:.4f} | {seg['jaccard_model_res']:.4f} |",
            f"| upsampled to {seg['eval_size'][0]}x{seg['eval_size'][1]} | {seg['dice']:.4f} | {seg['jaccard']:.4f} |",
            "",
            f"Median Dice {seg['dice_median']:.4f}, median Jaccard {seg['jaccard_median']:.4f}; ISIC 2018 thresholded "
            f"Jaccard {seg['thresholded_jaccard']:.4f}; {seg['share_dice_below_0.7']:.1%} of images under Dice 0.7.", "",
        ]

    predicted, refusals = _feature_table(items, "analyse")
    delineated = len(predicted) / max(len(items), 1)
    metrics["delineated_share"] = delineated
    metrics["not_delineated"] = dict(refusals)
    md += ["## Delineation", "", f"`analyse_lesion` delineated {len(predicted)} of {len(items)} images ({delineated:.1%})."]
    md += [f"- not delineated, {reason}: {n}" for reason, n in refusals.most_common()] + [""]

    truth_items = [it for it in with_masks if it.dx in (MELANOMA, NAEVUS)]
    truth, _ = _feature_table(truth_items, "truth") if truth_items else ([], Counter())
    stats = {"predicted": _effect_sizes(predicted), "ground-truth": _effect_sizes(truth)}
    metrics["melanoma_vs_naevus"] = stats
    md += [
        "## Melanoma vs naevus", "",
        "Cohen's d (melanoma minus naevus, in pooled standard deviations) and the AUC of the feature alone "
        "(0.5: no information). Predicted: features from `analyse_lesion`'s outline; truth: from the ground-truth mask.", "",
        "| feature | median mel | median nv | d (predicted) | AUC (predicted) | d (truth) | AUC (truth) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in stats["predicted"].items():
        t = stats["ground-truth"].get(name, {})
        md.append(f"| {name} | {s['mel_median']:.3g} | {s['nv_median']:.3g} | {s['cohens_d']:+.2f} | {s['auc']:.2f} | "
                  f"{t.get('cohens_d', float('nan')):+.2f} | {t.get('auc', float('nan')):.2f} |")
        plots.append(_plot_feature(ctx, name, predicted, truth, stats))

    exposure = _exposure_check(items)
    metrics["under_exposure"] = exposure
    md += ["", "## Too dark or too flat", "",
           f"{exposure['n']} class-balanced images delineated as taken, photographed again darker or flatter "
           "(`evals.corruptions`): the share still delineated, naming the same colours, scoring the same checklist "
           "points, and newly naming black, with the exposure floor (the photo lifted to the darkest and flattest a "
           "training photo is, as the classifier sees it; shipped) and without it.", "",
           "| condition | floor: delineated / same colours / same score / black added | as uploaded: the same |",
           "|---|---:|---:|"]
    for cond, row in exposure.items():
        if cond == "n":
            continue
        cells = [" / ".join(f"{row[arm][k]:.0%}" for k in ("delineated", "same_colours", "same_checklist_score", "black_added"))
                 for arm in ("floor", "as_uploaded")]
        md.append(f"| {cond.replace(':', ' s')} | {cells[0]} | {cells[1]} |")
    return SuiteResult(metrics, "\n".join(md), plots)  # type: ignore[arg-type]

"""Suite `robustness`: how much balanced accuracy the classifier loses under dermoscopy-relevant corruptions.

A class-balanced sample of the split (``--sample N``, default ``DEFAULT_SAMPLE``: equal numbers per
class where the class has them, since balanced accuracy weighs every class equally) is classified
clean and under each corruption of ``evals.corruptions`` at severities 1-5, seeded per image, so
every run sees the same pixels. Reported per corruption and severity: balanced accuracy, its drop
from clean, accuracy, melanoma recall, and the flip rate (share of images whose predicted class
changes from the clean prediction); plus the mean drop per corruption and overall.

End to end, for the sample's melanomas: what the app would do with each corrupted image, the intake gate first
(a refused image gets no estimate, only the advice to retake it and the warning signs), then the triage rule on
the classifier's probabilities (without the measured checklist or a history, which only escalate): the share
refused and the share **falsely reassured** (accepted and given a tier that sends nobody to a clinician).
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from evals.corruptions import CORRUPTIONS, SEVERITIES, corrupt, image_seed
from evals.harness import EvalContext, SuiteResult, balanced_sample, suite
from knowledge.cases import Case
from evals.plots import heatmap
from evals.predictions import labels_of, predictor_for
from evals.selective import bootstrap_interval
from knowledge import metrics as M
from knowledge.images import open_image
from knowledge.advice import REFERRAL_TIERS
from knowledge.taxonomy import CODES, get_class

DEFAULT_SAMPLE = 210  # ~30 per class (df 22, vasc 29: all of them); 46 conditions -> ~9,500 classifications, ~8 min at 48 ms each
MEL = CODES.index(get_class("mel").code)


def _melanomas_end_to_end(gate, cutoffs, ctx: EvalContext, predictor, images: list, probs: np.ndarray) -> dict[str, float]:
    """Share of these melanoma images the gate refuses, and share accepted yet not referred by the triage rule."""
    from agents.risk import triage

    from evals.suites.triage import as_predictions

    accepted = np.array([gate.check(img).accepted for img in images], bool)
    referred = np.array([triage(p, cutoffs).tier in REFERRAL_TIERS for p in as_predictions(ctx, predictor, probs)], bool)
    n = max(len(images), 1)
    return {"mel_refused": float((~accepted).sum() / n), "mel_falsely_reassured": float((accepted & ~referred).sum() / n)}


def _scores(labels: np.ndarray, preds: np.ndarray, clean_preds: np.ndarray) -> dict[str, float]:
    mel = labels == MEL
    return {
        "balanced_accuracy": M.balanced_accuracy(labels, preds, len(CODES)),
        "accuracy": M.accuracy(labels, preds),
        "mel_recall": float((preds[mel] == MEL).mean()) if mel.any() else float("nan"),
        "flip_rate": float((preds != clean_preds).mean()),
    }


def example_grid(item: Case, path) -> None:
    """One image under every corruption and severity (rows: corruptions; first column: clean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = open_image(item.image_path)
    fig, axes = plt.subplots(len(CORRUPTIONS), len(SEVERITIES) + 1, figsize=(1.6 * (len(SEVERITIES) + 1), 1.25 * len(CORRUPTIONS)))
    for r, name in enumerate(CORRUPTIONS):
        row = [img] + [corrupt(img, name, s, image_seed(item.image_id, name, s)) for s in SEVERITIES]
        for c, shown in enumerate(row):
            ax = axes[r, c]
            ax.imshow(shown)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("clean" if c == 0 else f"severity {c}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name.replace("_", " "), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@suite("robustness")
def robustness_suite(ctx: EvalContext) -> SuiteResult:
    predictor = predictor_for(ctx)
    pool = EvalContext(**{**ctx.__dict__, "sample": None}).items()
    items = balanced_sample(pool, ctx.sample or DEFAULT_SAMPLE, ctx.seed)
    labels = labels_of(items)
    images = [open_image(it.image_path) for it in items]
    from agents.intake_artifact import load_intake_gate
    from evals.suites.triage import triage_cutoffs

    gate, cutoffs = load_intake_gate(), triage_cutoffs(predictor)
    mel = np.flatnonzero(labels == MEL)
    clean_out = predictor.predict(items, desc="clean")
    clean_preds = clean_out.labels
    clean = _scores(labels, clean_preds, clean_preds)
    clean.update(_melanomas_end_to_end(gate, cutoffs, ctx, predictor, [images[i] for i in mel], clean_out.probs[mel]))
    results: dict[str, dict] = {}
    drops = np.full((len(CORRUPTIONS), len(SEVERITIES)), np.nan)
    conditions = [(name, s) for name in CORRUPTIONS for s in SEVERITIES]
    for name, severity in tqdm(conditions, desc=f"corruptions on {len(items)} images", unit="condition", leave=False):
        corrupted = [corrupt(img, name, severity, image_seed(it.image_id, name, severity)) for img, it in zip(images, items)]
        out = predictor.predict_images(corrupted)
        preds = out.labels
        scores = _scores(labels, preds, clean_preds)
        scores.update(_melanomas_end_to_end(gate, cutoffs, ctx, predictor, [corrupted[i] for i in mel], out.probs[mel]))
        scores["drop"] = clean["balanced_accuracy"] - scores["balanced_accuracy"]
        scores["drop_ci95"] = list(bootstrap_interval(  # paired: the same resampled images, clean and corrupted
            lambda idx: M.balanced_accuracy(labels[idx], clean_preds[idx], len(CODES)) - M.balanced_accuracy(labels[idx], preds[idx], len(CODES)),
            len(items), seed=ctx.seed))
        results.setdefault(name, {"severities": {}})["severities"][str(severity)] = scores
        drops[list(CORRUPTIONS).index(name), severity - 1] = scores["drop"]
    for i, name in enumerate(CORRUPTIONS):
        results[name]["mean_drop"] = float(drops[i].mean())
        results[name]["mean_flip_rate"] = float(np.mean([r["flip_rate"] for r in results[name]["severities"].values()]))
    worst = np.unravel_index(int(np.nanargmax(drops)), drops.shape)
    metrics = {
        "backend": predictor.variant.name,
        "n": len(items),
        "class_counts": {c: int((labels == i).sum()) for i, c in enumerate(CODES)},
        "clean": clean,
        "corruptions": results,
        "mean_drop": float(drops.mean()),
        "mean_drop_severity_3": float(drops[:, 2].mean()),
        "n_mel": int(len(mel)),
        "mel_falsely_reassured_mean": float(np.mean([r["mel_falsely_reassured"] for c in results.values()
                                                     for r in c["severities"].values()])),
        "mel_falsely_reassured_worst": float(max(r["mel_falsely_reassured"] for c in results.values()
                                                 for r in c["severities"].values())),
        "worst": {"corruption": list(CORRUPTIONS)[worst[0]], "severity": int(worst[1] + 1), "drop": float(drops[worst])},
        "median_drop_ci_halfwidth": float(np.median([(r["drop_ci95"][1] - r["drop_ci95"][0]) / 2
                                                     for c in results.values() for r in c["severities"].values()])),
    }
    plots = [heatmap(drops, [n.replace("_", " ") for n in CORRUPTIONS], [str(s) for s in SEVERITIES],
                     ctx.plot_path("robustness", "drop_heatmap"),
                     f"Balanced-accuracy drop from clean ({clean['balanced_accuracy']:.3f}), n = {len(items)}",
                     "drop in balanced accuracy", fmt="{:+.2f}", cmap="RdBu_r", center=0.0)]
    example = next((it for it in items if it.dx == "mel"), items[0])
    grid = ctx.plot_path("robustness", "examples")
    example_grid(example, grid)
    plots.append(grid)
    summary = (f"clean BA {clean['balanced_accuracy']:.3f}; mean drop {metrics['mean_drop']:+.3f}; "
               f"worst {metrics['worst']['corruption']} s{metrics['worst']['severity']} ({metrics['worst']['drop']:+.3f})")
    return SuiteResult(metrics, _markdown(ctx, metrics, example), plots, summary)


def _markdown(ctx: EvalContext, m: dict, example: Case) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    counts = ", ".join(f"{c} {n}" for c, n in m["class_counts"].items())
    c = m["clean"]
    lines = [f"# Robustness: `{m['backend']}` on a class-balanced sample of the {where} (n = {m['n']}: {counts})", "",
             f"Clean: balanced accuracy {c['balanced_accuracy']:.3f}, accuracy {c['accuracy']:.3f}, melanoma recall "
             f"{c['mel_recall']:.3f}. Mean balanced-accuracy drop over all corruptions and severities: "
             f"**{m['mean_drop']:+.3f}** (severity 3: {m['mean_drop_severity_3']:+.3f}); worst: {m['worst']['corruption']} "
             f"at severity {m['worst']['severity']} ({m['worst']['drop']:+.3f}). A drop is clean minus corrupted "
             f"(positive: worse). The median half-width of a drop's 95% paired-bootstrap interval is {m['median_drop_ci_halfwidth']:.3f}: "
             "smaller drops are within noise.", "",
             "| corruption | " + " | ".join(f"s{s}" for s in SEVERITIES) + " | mean drop | mean flip rate |",
             "|---|" + "---:|" * (len(SEVERITIES) + 2)]
    for name, r in m["corruptions"].items():
        cells = [f"{r['severities'][str(s)]['balanced_accuracy']:.3f} ({r['severities'][str(s)]['drop']:+.3f})" for s in SEVERITIES]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['mean_drop']:+.3f} | {r['mean_flip_rate']:.3f} |")
    lines += ["", "Cells: balanced accuracy (drop from clean). Flip rate: share of images whose predicted class differs "
              "from the clean prediction.", "",
              "| melanoma recall | " + " | ".join(f"s{s}" for s in SEVERITIES) + " |", "|---|" + "---:|" * len(SEVERITIES)]
    for name, r in m["corruptions"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r['severities'][str(s)]['mel_recall']:.2f}" for s in SEVERITIES) + " |")
    lines += ["", f"**End to end** ({m['n_mel']} melanomas: the intake gate, then the triage rule on the probabilities, "
              "without the measured checklist or a history, which only escalate): refused / **falsely reassured** "
              "(accepted, and a tier that sends nobody to a clinician). Clean: "
              f"{c['mel_refused']:.0%} / {c['mel_falsely_reassured']:.0%}; over all corruptions and severities "
              f"falsely reassured {m['mel_falsely_reassured_mean']:.1%} on average, {m['mel_falsely_reassured_worst']:.0%} "
              "at worst. A refused image gets no estimate: the advice to retake it and the warning signs.", "",
              "| melanomas: refused / falsely reassured | " + " | ".join(f"s{s}" for s in SEVERITIES) + " |",
              "|---|" + "---:|" * len(SEVERITIES)]
    for name, r in m["corruptions"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['severities'][str(s)]['mel_refused']:.0%} / {r['severities'][str(s)]['mel_falsely_reassured']:.0%}"
            for s in SEVERITIES) + " |")
    lines += ["", f"Example corruptions: `{example.image_id}` ({example.dx}); parameters in `evals/corruptions.py`."]
    return "\n".join(lines)

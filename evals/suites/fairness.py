"""Suite `fairness`: is the classifier worse for some patients or lesions than for others?

Groups: sex, age band, body site and how the diagnosis was confirmed (dx_type). Per group: n,
classes present, balanced accuracy (mean recall over the classes present in the group) with a
95 % bootstrap interval, accuracy and melanoma recall. Two comparisons per attribute:

* worst-group balanced accuracy among the groups large enough to judge, and its gap to overall;
* the class-adjusted gap: group balanced accuracy minus what the overall per-class recalls predict
  for the classes the group contains. Groups differ in which lesions they hold (every follow-up
  case is a naevus; faces hold most keratoses), so the raw gap mixes "harder classes" with "worse
  for these patients"; the adjusted gap isolates the second.

A group is judged only with n >= ``MIN_GROUP_N`` and at least ``MIN_CLASSES`` classes of >= 5 images;
smaller groups are listed, flagged ``small``, and never called worst.
"""

from __future__ import annotations

import numpy as np

from evals.harness import EvalContext, SuiteResult, suite
from knowledge.cases import Case
from evals.predictions import labels_of, predictor_for
from evals.selective import bootstrap_interval
from knowledge import metrics as M
from knowledge.taxonomy import CODES, get_class

MIN_GROUP_N = 50
MIN_CLASSES = 3
MIN_PER_CLASS = 5
MIN_MEL_FOR_RECALL = 10  # melanoma recall on fewer melanomas is shown but flagged
MEL = CODES.index(get_class("mel").code)
AGE_BANDS = ((0, 30, "<30"), (30, 45, "30-44"), (45, 60, "45-59"), (60, 75, "60-74"), (75, 200, "75+"))


def age_band(age: float | None) -> str:
    if age is None:
        return "unknown"
    return next(name for lo, hi, name in AGE_BANDS if lo <= age < hi)


ATTRIBUTES = {
    "sex": lambda it: it.sex or "unknown",
    "age": lambda it: age_band(it.age),
    "body_site": lambda it: it.localization or "unknown",
    "confirmation": lambda it: it.dx_type or "unknown",
}


def group_report(labels: np.ndarray, preds: np.ndarray, overall_recall: np.ndarray, seed: int = 0) -> dict:
    n_classes = len(CODES)
    counts = np.bincount(labels, minlength=n_classes)
    present = counts > 0
    mel = labels == MEL
    ba = M.balanced_accuracy(labels, preds, n_classes)
    expected = float(np.nanmean(overall_recall[present])) if present.any() else float("nan")
    lo, hi = bootstrap_interval(lambda idx: M.balanced_accuracy(labels[idx], preds[idx], n_classes), len(labels), seed=seed)
    judged = len(labels) >= MIN_GROUP_N and int((counts >= MIN_PER_CLASS).sum()) >= MIN_CLASSES
    return {
        "n": int(len(labels)),
        "class_counts": {c: int(k) for c, k in zip(CODES, counts) if k},
        "balanced_accuracy": ba,
        "ba_ci95": [lo, hi],
        "accuracy": M.accuracy(labels, preds),
        "mel_n": int(mel.sum()),
        "mel_recall": float((preds[mel] == MEL).mean()) if mel.any() else None,
        "expected_balanced_accuracy": expected,
        "adjusted_gap": ba - expected,
        "small": not judged,
    }


@suite("fairness")
def fairness_suite(ctx: EvalContext) -> SuiteResult:
    items = ctx.items()
    predictor = predictor_for(ctx)
    labels = labels_of(items)
    preds = predictor.predict(items, desc="classify").labels
    overall_recall = M.recall_per_class(labels, preds, len(CODES))
    overall = {"n": len(items), "balanced_accuracy": M.balanced_accuracy(labels, preds, len(CODES)),
               "accuracy": M.accuracy(labels, preds),
               "mel_recall": float((preds[labels == MEL] == MEL).mean()) if (labels == MEL).any() else None}
    attributes: dict[str, dict] = {}
    for attr, key_of in ATTRIBUTES.items():
        keys = np.asarray([key_of(it) for it in items])
        groups = {g: group_report(labels[keys == g], preds[keys == g], overall_recall, ctx.seed)
                  for g in sorted(set(keys.tolist()), key=lambda g: -(keys == g).sum())}
        judged = {g: r for g, r in groups.items() if not r["small"]}
        worst = min(judged, key=lambda g: judged[g]["balanced_accuracy"]) if judged else None
        worst_adj = min(judged, key=lambda g: judged[g]["adjusted_gap"]) if judged else None
        attributes[attr] = {
            "groups": groups,
            "worst_group": worst,
            "worst_group_balanced_accuracy": judged[worst]["balanced_accuracy"] if worst else None,
            "gap_to_overall": overall["balanced_accuracy"] - judged[worst]["balanced_accuracy"] if worst else None,
            "worst_adjusted_group": worst_adj,
            "worst_adjusted_gap": judged[worst_adj]["adjusted_gap"] if worst_adj else None,
            "small_groups": [g for g, r in groups.items() if r["small"]],
        }
    gaps = {a: r["gap_to_overall"] for a, r in attributes.items() if r["gap_to_overall"] is not None}
    metrics = {
        "backend": predictor.variant.name,
        "overall": overall,
        "attributes": attributes,
        "max_gap_to_overall": max(gaps.values()) if gaps else None,
        "worst_adjusted_gap": min((r["worst_adjusted_gap"] for r in attributes.values() if r["worst_adjusted_gap"] is not None),
                                  default=None),
        "min_group_n": MIN_GROUP_N,
    }
    plot = _plot(attributes, overall["balanced_accuracy"], ctx.plot_path("fairness", "groups"))
    worst_attr = max(gaps, key=gaps.get) if gaps else None
    summary = (f"overall BA {overall['balanced_accuracy']:.3f}; largest worst-group gap "
               f"{gaps[worst_attr]:.3f} ({worst_attr}: {attributes[worst_attr]['worst_group']})" if worst_attr else "no judgeable groups")
    return SuiteResult(metrics, _markdown(ctx, metrics), [plot], summary)


def _plot(attributes: dict, overall_ba: float, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [len(a["groups"]) for a in attributes.values()]
    fig, axes = plt.subplots(len(attributes), 1, figsize=(6.5, 0.28 * sum(heights) + 1.2 * len(attributes)),
                             gridspec_kw={"height_ratios": heights})
    for ax, (attr, info) in zip(np.atleast_1d(axes), attributes.items()):
        names = list(info["groups"])
        for i, g in enumerate(names):
            r = info["groups"][g]
            ba, (lo, hi) = r["balanced_accuracy"], r["ba_ci95"]
            colour = "lightgrey" if r["small"] else ("C3" if g == info["worst_group"] else "C0")
            ax.barh(i, ba, color=colour, height=0.7)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [i, i], color="black", lw=0.8)
            ax.text(1.01, i, f"n={r['n']}", va="center", fontsize=6, transform=ax.get_yaxis_transform())
        ax.axvline(overall_ba, color="black", ls="--", lw=0.8)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(f"{attr.replace('_', ' ')} (grey: too small to judge; red: worst; dashed: overall)", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("balanced accuracy over the classes present (95% bootstrap interval)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def _markdown(ctx: EvalContext, m: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    o = m["overall"]
    lines = [f"# Fairness: `{m['backend']}` on the {where} (n = {o['n']}{', sample' if ctx.sample else ''})", "",
             f"Overall: balanced accuracy {_f(o['balanced_accuracy'])}, accuracy {_f(o['accuracy'])}, melanoma recall "
             f"{_f(o['mel_recall'])}. Groups with n < {MIN_GROUP_N} or fewer than {MIN_CLASSES} classes of >= "
             f"{MIN_PER_CLASS} images are flagged *small* and not judged. *Adjusted gap*: group balanced accuracy minus "
             "the overall per-class recalls averaged over the classes the group holds (negative: worse for this group "
             "than its mix of lesions explains).", "",
             "| attribute | worst group | its balanced accuracy | gap to overall | worst adjusted gap (group) |", "|---|---|---:|---:|---:|"]
    for attr, r in m["attributes"].items():
        lines.append(f"| {attr} | {r['worst_group'] or 'n/a'} | {_f(r['worst_group_balanced_accuracy'])} | "
                     f"{_f(r['gap_to_overall'])} | {_f(r['worst_adjusted_gap'])} ({r['worst_adjusted_group'] or 'n/a'}) |")
    for attr, r in m["attributes"].items():
        lines += ["", f"## {attr.replace('_', ' ')}", "",
                  "| group | n | classes | balanced accuracy (95% CI) | adjusted gap | accuracy | melanoma recall (n) | |",
                  "|---|---:|---|---:|---:|---:|---:|---|"]
        for g, gr in r["groups"].items():
            classes = ", ".join(f"{c} {k}" for c, k in gr["class_counts"].items())
            mel = "n/a" if gr["mel_recall"] is None else f"{gr['mel_recall']:.2f} ({gr['mel_n']}{'*' if gr['mel_n'] < MIN_MEL_FOR_RECALL else ''})"
            lo, hi = gr["ba_ci95"]
            lines.append(f"| {g} | {gr['n']} | {classes} | {_f(gr['balanced_accuracy'])} ({_f(lo)}-{_f(hi)}) | "
                         f"{gr['adjusted_gap']:+.3f} | {_f(gr['accuracy'])} | {mel} | {'small' if gr['small'] else ''} |")
    lines += ["", f"\\* fewer than {MIN_MEL_FOR_RECALL} melanomas: not a stable recall. The confirmation groups are confounded "
              "with diagnosis by design of HAM10000 (follow-up confirms only naevi; histopathology confirms nearly all "
              "melanomas), so compare them through the adjusted gap."]
    return "\n".join(lines)

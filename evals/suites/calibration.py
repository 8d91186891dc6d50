"""Suite `calibration`: do the classifier's probabilities mean what they say, and what does abstaining buy?

Temperature scaling (Guo et al., ICML 2017) is checked from outside the backend: the backend's
scores before its own temperature are recovered as ``s = T0 * log p`` (``T0`` = its
``Prediction.temperature``; for the encoder this is ``logits + T0 * class_bias``, for Qwen2-VL the
answer log-likelihoods), a temperature is fitted on **val** by ``knowledge.calibration.fit_temperature``,
and the test split is scored three ways: before scaling (``softmax(s)``), after this suite's val
temperature (``softmax(s / T_val)``) and as shipped (``p``, what the app shows). A temperature does
not change the ranking, so accuracy is the same in all three; ECE (15 equal-width bins, top label),
Brier score and NLL are not.

Selective prediction: the risk-coverage curve (accuracy of the answered images when only the most
confident are answered), its area (AURC), and the operating point of the shipped abstention
threshold (``settings.abstain_below`` or the variant's), with how many melanomas it sends to
"uncertain" (they are never told "low risk", see ``agents.risk``).
"""

from __future__ import annotations

import numpy as np

from evals.harness import EvalContext, SuiteResult, suite
from evals.plots import reliability_panels, risk_coverage_plot
from evals.predictions import labels_of, predictor_for
from evals.selective import area_under_risk_coverage, risk_coverage, selective_at_threshold
from knowledge import metrics as M
from knowledge.calibration import expected_calibration_error, fit_temperature, reliability_bins, softmax
from knowledge.taxonomy import CODES, get_class

N_BINS = 15
MEL = CODES.index(get_class("mel").code)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GOALS = {"ece": 0.03}


def pre_temperature_scores(probs: np.ndarray, temperature: float) -> np.ndarray:
    """The backend's scores before its temperature: ``T0 * log p`` (equal to them up to a per-row constant)."""
    return temperature * np.log(np.clip(probs, 1e-12, None))


def calibration_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "ece": expected_calibration_error(probs, labels, N_BINS),
        "brier": M.brier_score(probs, labels),
        "nll": M.negative_log_likelihood(probs, labels),
        "mean_confidence": float(probs.max(1).mean()),
        "accuracy": M.accuracy(labels, probs.argmax(1)),
    }


@suite("calibration")
def calibration_suite(ctx: EvalContext) -> SuiteResult:
    predictor = predictor_for(ctx)
    items, val_items = ctx.items(), ctx.ham_items("val")
    labels, val_labels = labels_of(items), labels_of(val_items)
    test = predictor.predict(items, desc=f"{ctx.split if not ctx.external else 'external'} images")
    val = predictor.predict(val_items, desc="val images")
    t_backend = test.temperature

    val_scores = pre_temperature_scores(val.probs, val.temperature)
    t_val = fit_temperature(val_scores, val_labels)
    scores = pre_temperature_scores(test.probs, t_backend)
    variants = {"before": softmax(scores), "after": softmax(scores / t_val), "shipped": test.probs}
    metrics: dict = {
        "backend": predictor.variant.name,
        "n": len(items),
        "n_val": len(val_items),
        "n_bins": N_BINS,
        "temperature_backend": t_backend,
        "temperature_val_fit": t_val,
        "val_nll_before": M.negative_log_likelihood(softmax(val_scores), val_labels),
        "val_nll_after": M.negative_log_likelihood(softmax(val_scores / t_val), val_labels),
        **{name: calibration_metrics(p, labels) for name, p in variants.items()},
    }
    for key in ("ece", "brier", "nll"):  # the headline numbers: what the app shows
        metrics[key] = metrics["shipped"][key]
    metrics["in_sample"] = ctx.split == "val" and not ctx.external  # fitted and scored on the same images

    probs = test.probs
    coverage, acc = risk_coverage(probs, labels)
    abstain_at = float(getattr(predictor.classifier, "abstain_below", ctx.settings.abstain_below))
    operating = selective_at_threshold(probs, labels, abstain_at)
    mel = labels == MEL
    operating["mel_abstained"] = float((probs[mel].max(1) < abstain_at).mean()) if mel.any() else float("nan")
    metrics["aurc"] = area_under_risk_coverage(probs, labels)
    metrics["abstain_below"] = abstain_at
    metrics["abstention"] = operating
    metrics["abstain_rate"] = 1 - operating["coverage"]
    metrics["accuracy_when_answered"] = operating["accuracy"]
    metrics["selective"] = [selective_at_threshold(probs, labels, t) for t in THRESHOLDS]
    metrics["accuracy_at_coverage"] = {f"{c:.2f}": float(acc[max(0, int(round(c * len(acc))) - 1)]) for c in (0.5, 0.8, 0.9, 1.0)} \
        if len(acc) else {}

    plots = [
        reliability_panels({f"before scaling (T=1): ECE {metrics['before']['ece']:.3f}": reliability_bins(variants["before"], labels, N_BINS),
                            f"val temperature T={t_val:.2f}: ECE {metrics['after']['ece']:.3f}": reliability_bins(variants["after"], labels, N_BINS),
                            f"shipped (T={t_backend:.2f}): ECE {metrics['shipped']['ece']:.3f}": reliability_bins(probs, labels, N_BINS)},
                           ctx.plot_path("calibration", "reliability")),
        risk_coverage_plot({predictor.variant.name: (coverage, acc)}, ctx.plot_path("calibration", "risk_coverage"),
                           marks=[(operating["coverage"], operating["accuracy"], f"abstain below {abstain_at:.0%}")],
                           title=f"Risk-coverage (AURC {metrics['aurc']:.3f})"),
    ]
    summary = (f"ECE {metrics['ece']:.3f} (before scaling {metrics['before']['ece']:.3f}), T_val {t_val:.2f}; "
               f"answers {operating['coverage']:.0%} at {operating['accuracy']:.3f} accuracy")
    return SuiteResult(metrics, _markdown(ctx, metrics), plots, summary)


def _f(v: object, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _markdown(ctx: EvalContext, m: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    lines = [f"# Calibration: `{m['backend']}` on the {where} (n = {m['n']}{', sample' if ctx.sample else ''})", "",
             f"Temperature fitted on val (n = {m['n_val']}) by this suite: **T = {m['temperature_val_fit']:.3f}** "
             f"(val NLL {m['val_nll_before']:.3f} -> {m['val_nll_after']:.3f}); the backend's own temperature: "
             f"{m['temperature_backend']:.3f}." + (" Fitted and scored on val: in-sample." if m["in_sample"] else ""), "",
             f"| probabilities | ECE ({m['n_bins']} bins) | Brier | NLL | mean confidence | accuracy |", "|---|---:|---:|---:|---:|---:|"]
    names = {"before": "before scaling (T = 1)", "after": f"after val temperature (T = {m['temperature_val_fit']:.2f})",
             "shipped": f"as shipped (T = {m['temperature_backend']:.2f})"}
    for key, label in names.items():
        r = m[key]
        lines.append(f"| {label} | {_f(r['ece'])} | {_f(r['brier'])} | {_f(r['nll'])} | {_f(r['mean_confidence'])} | {_f(r['accuracy'])} |")
    op = m["abstention"]
    lines += ["", f"Goal: ECE <= {GOALS['ece']} as shipped.", "", "## Abstaining below a confidence", "",
              f"At the shipped threshold ({m['abstain_below']:.0%}) the classifier answers {op['coverage']:.1%} of images "
              f"with accuracy {_f(op['accuracy'])} (balanced {_f(op['balanced_accuracy'])}); "
              f"{_f(op['mel_abstained'] * 100 if np.isfinite(op['mel_abstained']) else None, 1)}% of melanomas get "
              "the uncertain answer (never a 'low' risk tier). AURC (mean error over all coverages, lower is better): "
              f"{_f(m['aurc'])}.", "",
              "| abstain below | coverage | accuracy | balanced accuracy |", "|---:|---:|---:|---:|"]
    for row in m["selective"]:
        lines.append(f"| {row['threshold']:.0%} | {_f(row['coverage'])} | {_f(row['accuracy'])} | {_f(row['balanced_accuracy'])} |")
    return "\n".join(lines)

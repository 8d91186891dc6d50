"""Suite `classification`: the classifier backend (``--variant``, default ``encoder``) on a split or external set.

Reports accuracy, balanced accuracy, macro F1, macro one-vs-rest AUC, calibration (ECE, Brier, NLL),
per-class recall, melanoma recall/specificity (at the model's decision, at a threshold chosen on
val for specificity >= 0.80, and the best on this set's ROC), abstention, and the two baselines
(majority class; kNN-16 on raw ImageNet features), with a confusion matrix, a reliability diagram
and per-class recall bars.
"""

from __future__ import annotations

import numpy as np

from evals.baselines import baseline_features, baseline_index_size, index_items, knn_retrieve, majority_class
from evals.harness import EvalContext, SuiteResult, suite
from evals.plots import confusion_matrix_plot, per_class_bars, reliability_diagram
from evals.predictions import labels_of, predictor_for
from knowledge import metrics as M
from knowledge.calibration import expected_calibration_error, reliability_bins
from knowledge.taxonomy import CODES

__all__ = ["classification_metrics", "classification_suite", "labels_of"]

MEL = CODES.index("mel")
TARGET_SPECIFICITY = 0.80
GOALS = {"balanced_accuracy": 0.80, "accuracy": 0.87, "auc_macro": 0.96, "mel_recall_at_val_threshold": 0.85, "ece": 0.03}


def classification_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    n = len(CODES)
    preds = probs.argmax(1)
    recall = M.recall_per_class(labels, preds, n)
    mel_true = labels == MEL
    mel_recall, mel_spec = M.recall_specificity_at((preds == MEL).astype(float), mel_true, 0.5)  # flagged = predicted mel
    mel_roc = M.recall_at_specificity(probs[:, MEL], mel_true, TARGET_SPECIFICITY)
    return {
        "n": int(len(labels)),
        "accuracy": M.accuracy(labels, preds),
        "balanced_accuracy": M.balanced_accuracy(labels, preds, n),
        "macro_f1": M.macro_f1(labels, preds, n),
        "auc_macro": M.auc_macro(probs, labels),
        "auc_per_class": dict(zip(CODES, M.auc_per_class(probs, labels))),
        "ece": expected_calibration_error(probs, labels),
        "brier": M.brier_score(probs, labels),
        "nll": M.negative_log_likelihood(probs, labels),
        "recall_per_class": dict(zip(CODES, recall)),
        "precision_per_class": dict(zip(CODES, M.precision_per_class(labels, preds, n))),
        "mel_recall": mel_recall,
        "mel_specificity": mel_spec,
        "mel_recall_at_spec80_oracle": mel_roc[0],
    }


@suite("classification")
def classification_suite(ctx: EvalContext) -> SuiteResult:
    predictor = predictor_for(ctx)  # the variant's classifier; outputs cached per encoder artifact
    backend = predictor.variant.spec
    items = ctx.items()
    labels = labels_of(items)
    out = predictor.predict(items, desc=f"{len(items)} images")
    probs, abstained = out.probs, out.abstained
    metrics = classification_metrics(probs, labels)
    preds = probs.argmax(1)
    metrics["backend"] = backend
    metrics["abstain_rate"] = float(abstained.mean())
    metrics["accuracy_when_answered"] = M.accuracy(labels[~abstained], preds[~abstained]) if (~abstained).any() else None

    # Melanoma operating point: the p(mel) threshold giving specificity >= 0.80 on val, applied here.
    if ctx.external or ctx.split != "val":
        val_items = ctx.ham_items("val")
        val_probs = predictor.predict(val_items, desc="val (melanoma threshold)").probs
        threshold = M.threshold_for_specificity(val_probs[:, MEL], labels_of(val_items) == MEL, TARGET_SPECIFICITY)
    else:
        threshold = M.threshold_for_specificity(probs[:, MEL], labels == MEL, TARGET_SPECIFICITY)
    metrics["mel_threshold_from_val"] = threshold
    metrics["mel_recall_at_val_threshold"], metrics["mel_specificity_at_val_threshold"] = M.recall_specificity_at(
        probs[:, MEL], labels == MEL, threshold)

    # The balanced decision: argmax of log p - s * log(train prior), s chosen on val for balanced accuracy (the app
    # names the argmax; this is the best a per-class bias can do for the rare classes, reported beside it).
    train_labels = labels_of(ctx.ham_items("train"))
    log_prior = M.log_class_prior(train_labels, len(CODES))
    if ctx.external or ctx.split != "val":
        shift = M.best_prior_shift(val_probs, labels_of(val_items), log_prior)
    else:
        shift = M.best_prior_shift(probs, labels, log_prior)
    decision = M.prior_corrected_decision(probs, log_prior, shift)
    metrics["balanced_decision"] = {
        "prior_shift_from_val": shift, "accuracy": M.accuracy(labels, decision),
        "balanced_accuracy": M.balanced_accuracy(labels, decision, len(CODES)),
        "recall_per_class": dict(zip(CODES, M.recall_per_class(labels, decision, len(CODES))))}

    # Baselines.
    index = index_items(ctx, baseline_index_size(ctx))
    index_labels = labels_of(index)
    majority = majority_class(index_labels, len(CODES))
    maj_preds = np.full_like(labels, majority)
    query_feats = baseline_features(ctx, items)
    index_feats = baseline_features(ctx, index)
    retrieved = knn_retrieve(query_feats, index_feats, index_labels, 16, [it.lesion_id for it in items], [it.lesion_id for it in index])
    knn_preds, knn_shares = M.knn_predictions(retrieved, len(CODES), 16)
    knn_probs = (knn_shares + 1e-3) / (knn_shares + 1e-3).sum(1, keepdims=True)
    metrics["baselines"] = {
        "majority_class": {"class": CODES[majority], "accuracy": M.accuracy(labels, maj_preds),
                           "balanced_accuracy": M.balanced_accuracy(labels, maj_preds, len(CODES))},
        "knn16_imagenet": {"accuracy": M.accuracy(labels, knn_preds),
                           "balanced_accuracy": M.balanced_accuracy(labels, knn_preds, len(CODES)),
                           "auc_macro": M.auc_macro(knn_probs, labels), "index_size": len(index),
                           "recall_per_class": dict(zip(CODES, M.recall_per_class(labels, knn_preds, len(CODES))))},
    }

    plots = [
        confusion_matrix_plot(labels, preds, CODES, ctx.plot_path("classification", "confusion")),
        reliability_diagram(reliability_bins(probs, labels), ctx.plot_path("classification", "reliability"),
                            title=f"Reliability ({backend}), ECE {metrics['ece']:.3f}"),
        per_class_bars({backend: list(metrics["recall_per_class"].values()),
                        "kNN-16 raw ImageNet": list(metrics["baselines"]["knn16_imagenet"]["recall_per_class"].values())},
                       CODES, ctx.plot_path("classification", "recall_per_class"), "Recall per class"),
    ]
    return SuiteResult(metrics, _markdown(ctx, metrics), plots)


def _fmt(v: object) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}" if isinstance(v, float) else str(v)


def _markdown(ctx: EvalContext, m: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    lines = [f"# Classification: `{m['backend']}` on the {where} (n = {m['n']}{', sample' if ctx.sample else ''})", "",
             "| metric | value | goal |", "|---|---:|---:|"]
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "auc_macro", "ece", "brier", "nll", "mel_recall", "mel_specificity",
                "mel_recall_at_val_threshold", "mel_specificity_at_val_threshold", "mel_recall_at_spec80_oracle", "abstain_rate"):
        goal = GOALS.get(key)
        lines.append(f"| {key} | {_fmt(m.get(key))} | {'' if goal is None else ('<= ' if key == 'ece' else '>= ') + str(goal)} |")
    b, bd = m["baselines"], m["balanced_decision"]
    lines += ["", f"Balanced decision (argmax of log p - s * log train prior, s = {bd['prior_shift_from_val']:.1f} chosen on val; "
              f"the app names the argmax): balanced accuracy {_fmt(bd['balanced_accuracy'])}, accuracy {_fmt(bd['accuracy'])}; "
              "recall " + ", ".join(f"{c} {_fmt(bd['recall_per_class'][c])}" for c in CODES) + "."]
    lines += ["", "Melanoma: `mel_recall`/`mel_specificity` at the model's own decision (argmax); `*_at_val_threshold` "
              f"at the p(mel) threshold {_fmt(m['mel_threshold_from_val'])} chosen on val for specificity >= 0.80; "
              "`*_oracle` is the best recall at specificity >= 0.80 on this set's own ROC (optimistic).", "",
              "| per class | " + " | ".join(CODES) + " |", "|---|" + "---:|" * len(CODES),
              "| recall | " + " | ".join(_fmt(m["recall_per_class"][c]) for c in CODES) + " |",
              "| precision | " + " | ".join(_fmt(m["precision_per_class"][c]) for c in CODES) + " |",
              "| AUC | " + " | ".join(_fmt(m["auc_per_class"][c]) for c in CODES) + " |", "",
              "## Baselines", "", "| model | accuracy | balanced accuracy | macro AUC |", "|---|---:|---:|---:|",
              f"| {m['backend']} | {_fmt(m['accuracy'])} | {_fmt(m['balanced_accuracy'])} | {_fmt(m['auc_macro'])} |",
              f"| majority class ({b['majority_class']['class']}) | {_fmt(b['majority_class']['accuracy'])} | "
              f"{_fmt(b['majority_class']['balanced_accuracy'])} | 0.500 |",
              f"| kNN-16 on raw ImageNet EfficientNet-Lite0 features (index {b['knn16_imagenet']['index_size']} cases) | "
              f"{_fmt(b['knn16_imagenet']['accuracy'])} | {_fmt(b['knn16_imagenet']['balanced_accuracy'])} | "
              f"{_fmt(b['knn16_imagenet']['auc_macro'])} |"]
    return "\n".join(lines)

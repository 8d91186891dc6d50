"""Suite `triage`: how often does the tier send a person with a malignant lesion away unreferred?

Every image of the split gets the tier the app would give it after a new-image turn: the
classifier's prediction, the cut-offs chosen on val (the classifier's manifest) and the measured
checklist score from the segmenter's outline (``agents.risk.triage``; no patient history, which the
images do not carry). Reported against the rule the app used before (the argmax class's tier
alone), so the cost in referrals is visible beside the gain in sensitivity.

* ``false_reassurance[c]``: the share of class ``c`` (and of all malignant or pre-malignant lesions)
  whose tier does not send the person to a clinician (``low``). Goal <= 0.05 for mel and malignant.
* ``referral_rate[c]`` for the benign classes: the price, the share sent to a clinician.
* ``urgent_rate["nv"]``: naevi sent on the urgent pathway.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.harness import EvalContext, SuiteResult, suite
from evals.plots import _plt, _save
from evals.predictions import Predictor, labels_of, predictor_for
from knowledge.advice import CLASS_TIER, REFERRAL_TIERS, TIER_ORDER, RiskTier
from knowledge.artifacts import atomic_write_text, config_hash
from knowledge.schema import Prediction
from knowledge.taxonomy import CODES, MALIGNANT_CODES

GOALS = {"false_reassurance_mel": 0.05, "false_reassurance_malignant": 0.05, "referral_rate_nv": 0.40}
BENIGN = [c for c in CODES if c not in MALIGNANT_CODES]


def _checklist_values(ctx: EvalContext, items) -> list[dict | None]:
    """Measured features per image (segmenter outline), cached per analyser (segmenter, exposure floor) under
    var/eval/features/."""
    from models.features import analyse_lesion, analyser_config, load_segmenter

    key = config_hash(analyser_config())
    path = ctx.settings.var_dir / "eval" / "features" / f"{key}.json"
    cache: dict = json.loads(path.read_text()) if path.is_file() else {}
    missing = [it for it in items if str(Path(it.image_path).resolve()) not in cache]
    if missing:
        segmenter = load_segmenter()
        for it in tqdm(missing, desc="triage: lesion features", unit="image", leave=False):
            analysis = analyse_lesion(it.image_path, segmenter)
            cache[str(Path(it.image_path).resolve())] = analysis.features.model_dump(mode="json") if analysis.features else None
        atomic_write_text(path, json.dumps(cache))
    return [cache[str(Path(it.image_path).resolve())] for it in items]


def tier_table(tiers: list[RiskTier], labels: np.ndarray) -> dict:
    """tier_by_class, false_reassurance, referral_rate and urgent_rate for one rule's tiers."""
    tiers_arr = np.asarray([t.value for t in tiers])
    referred = np.isin(tiers_arr, [t.value for t in REFERRAL_TIERS])
    out: dict = {"tier_by_class": {}, "false_reassurance": {}, "referral_rate": {}, "urgent_rate": {}}
    for i, code in enumerate(CODES):
        mask = labels == i
        if not mask.any():
            continue
        out["tier_by_class"][code] = {t.value: float((tiers_arr[mask] == t.value).mean()) for t in TIER_ORDER}
        if code in MALIGNANT_CODES:
            out["false_reassurance"][code] = float(1 - referred[mask].mean())
        else:
            out["referral_rate"][code] = float(referred[mask].mean())
        out["urgent_rate"][code] = float((tiers_arr[mask] == RiskTier.URGENT.value).mean())
    malignant = np.isin(labels, [CODES.index(c) for c in MALIGNANT_CODES])
    if malignant.any():
        out["false_reassurance"]["malignant"] = float(1 - referred[malignant].mean())
    if (~malignant).any():
        out["referral_rate"]["benign"] = float(referred[~malignant].mean())
    return out


def triage_cutoffs(predictor: Predictor):
    """The cut-offs the app uses with this classifier (its manifest's val-chosen ones, the shipped checklist's)."""
    from agents.risk import TriageCutoffs
    from agents.triage_artifact import load_checklist_cutoff

    return TriageCutoffs.from_manifest_metrics(getattr(predictor.classifier, "triage", None), load_checklist_cutoff())


def as_predictions(ctx: EvalContext, predictor: Predictor, probs: np.ndarray) -> list[Prediction]:
    """Rows of shown probabilities back into the app's ``Prediction`` (label, abstention at the backend's cut-off)."""
    abstain_at = float(getattr(predictor.classifier, "abstain_below", ctx.settings.abstain_below))
    return [Prediction.from_probs(p.tolist(), backend=predictor.variant.name, abstain_below=abstain_at) for p in probs]


@suite("triage")
def triage_suite(ctx: EvalContext) -> SuiteResult:
    from agents.risk import triage

    predictor = predictor_for(ctx)
    items = ctx.items()
    labels = labels_of(items)
    preds = predictor.predict(items, desc="triage images")
    values = _checklist_values(ctx, items)
    cutoffs = triage_cutoffs(predictor)
    predictions = as_predictions(ctx, predictor, preds.probs)
    rules = {
        "triage": [triage(p, cutoffs, v).tier for p, v in zip(predictions, values)],
        "triage_without_features": [triage(p, cutoffs).tier for p in predictions],
        "argmax_only": [CLASS_TIER[p.label] for p in predictions],
    }
    tables = {name: tier_table(tiers, labels) for name, tiers in rules.items()}
    escalated = [("checklist" in triage(p, cutoffs, v).reasons) for p, v in zip(predictions, values)]
    metrics = {
        "backend": predictor.variant.name, "n": len(items),
        "cutoffs": {"mel": cutoffs.mel, "malignant": cutoffs.malignant, "checklist": cutoffs.checklist, "source": cutoffs.source,
                    "val": cutoffs.val},
        **tables["triage"],
        "checklist_escalated": float(np.mean(escalated)) if escalated else 0.0,
        "without_features": tables["triage_without_features"],
        "argmax_only": tables["argmax_only"],
        "goals": GOALS,
    }
    fr, rr = metrics["false_reassurance"], metrics["referral_rate"]
    plots = [_tier_plot(metrics["tier_by_class"], ctx.plot_path("triage", "tiers"))]
    summary = (f"false reassurance mel {fr.get('mel', float('nan')):.3f}, malignant {fr.get('malignant', float('nan')):.3f} "
               f"(argmax rule {metrics['argmax_only']['false_reassurance'].get('mel', float('nan')):.3f} / "
               f"{metrics['argmax_only']['false_reassurance'].get('malignant', float('nan')):.3f}); "
               f"naevi referred {rr.get('nv', float('nan')):.3f}")
    return SuiteResult(metrics, _markdown(ctx, metrics), plots, summary)


def _tier_plot(tier_by_class: dict, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    codes = [c for c in CODES if c in tier_by_class]
    colours = {"low": "#7fbf7f", "see a clinician": "#e6c84c", "see a dermatologist soon": "#f08a3c", "urgent": "#d33"}
    bottom = np.zeros(len(codes))
    for tier in TIER_ORDER:
        share = np.asarray([tier_by_class[c][tier.value] for c in codes])
        ax.bar(codes, share, bottom=bottom, label=tier.value, color=colours[tier.value])
        bottom += share
    ax.set_ylabel("share of the class")
    ax.set_ylim(0, 1)
    ax.set_title("Triage tier by true diagnosis")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _markdown(ctx: EvalContext, m: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    c = m["cutoffs"]
    lines = [f"# Triage: `{m['backend']}` on the {where} (n = {m['n']}{', sample' if ctx.sample else ''})", "",
             f"Cut-offs ({c['source']}, chosen on val): p(melanoma) >= {c['mel']:.4f}, p(malignant) >= {c['malignant']:.4f}, "
             f"checklist score >= {c['checklist']} (escalated {m['checklist_escalated']:.1%} of these images).", "",
             "| rule | false reassurance mel | bcc | akiec | all malignant | naevi referred | benign referred | naevi urgent |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in (("triage (shipped)", m), ("triage without the checklist", m["without_features"]), ("argmax class only (before)", m["argmax_only"])):
        fr, rr = t["false_reassurance"], t["referral_rate"]
        lines.append(f"| {name} | {_pct(fr.get('mel'))} | {_pct(fr.get('bcc'))} | {_pct(fr.get('akiec'))} | {_pct(fr.get('malignant'))} | "
                     f"{_pct(rr.get('nv'))} | {_pct(rr.get('benign'))} | {_pct(t['urgent_rate'].get('nv'))} |")
    lines += ["", f"Goals: false reassurance <= {GOALS['false_reassurance_mel']:.0%} for melanoma and for all malignant lesions; "
              f"naevi referred <= {GOALS['referral_rate_nv']:.0%}.", "", "## Tier by true class (shipped rule)", "",
              "| class | " + " | ".join(t.value for t in TIER_ORDER) + " |", "|---|" + "---:|" * len(TIER_ORDER)]
    for code, shares in m["tier_by_class"].items():
        lines.append(f"| {code} | " + " | ".join(_pct(shares[t.value]) for t in TIER_ORDER) + " |")
    return "\n".join(lines)

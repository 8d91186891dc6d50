"""Suite `ood`: the intake gate refuses what is not dermoscopy and accepts what is.

1. The 24 images of ``evals/data/ood`` (cats, documents, blank frames, microscopy, ...; they never
   tune anything) must all be refused: refusal rate, and every accepted one by name.
2. The split's dermoscopy images must be accepted: acceptance rate overall and per class. Refusing
   a melanoma withholds an estimate (the user is asked for another photo), so melanoma acceptance
   is reported on its own, with the ids of any refused.
3. The bad-input corpus (``tests/data/bad_inputs``): files that must fail to open fail with the
   expected clear message; files that open are passed to the gate and its verdict is listed.

The gate does not depend on the classifier, so ``--variant`` does not change this suite.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.harness import EvalContext, SuiteResult, suite
from knowledge.images import ImageError, open_image
from knowledge.taxonomy import CODES, get_class

OOD_DIR = Path(__file__).resolve().parents[1] / "data" / "ood"
BAD_INPUTS_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "bad_inputs"
MEL = get_class("mel").code
GOALS = {"ood_refusal_rate": 1.0, "test_acceptance_rate": 0.98}


def load_gate():
    from agents.intake_artifact import intake_staleness, load_intake_gate
    from models.encoder import load_encoder

    return load_intake_gate(load_encoder(with_text=False)), intake_staleness()


def failed_checks(gate, checks: dict[str, float]) -> list[str]:
    """Every check the measured values fail (the gate reports only the first)."""
    from agents.intake import CHECKS

    out = []
    for name, (direction, _, _) in CHECKS.items():
        limit, value = gate.calibration.thresholds[name], checks[name]
        if (value < limit) if direction == "min" else (value > limit):
            out.append(name)
    return out


def gate_images(gate, images: list, batch_size: int = 32, desc: str = "intake") -> list:
    """The gate's verdict on each image, one tower pass per batch."""
    results = []
    for start in tqdm(range(0, len(images), batch_size), desc=desc, unit="batch", leave=False):
        chunk = images[start : start + batch_size]
        feats = gate.tower_features(chunk)
        results += [gate.check(img, f) for img, f in zip(chunk, feats)]
    return results


def _bad_inputs(gate) -> dict:
    cases = json.loads((BAD_INPUTS_DIR / "cases.json").read_text(encoding="utf-8"))
    rows, as_expected = [], 0
    for name, case in sorted(cases.items()):
        path = BAD_INPUTS_DIR / name
        try:
            img = open_image(path)
        except ImageError as exc:
            ok = case["expect"] == "error" and case.get("match", "").lower() in str(exc).lower()
            rows.append({"file": name, "expected": case["expect"], "outcome": "error", "message": str(exc), "as_expected": ok})
        else:
            verdict = gate.check(img)
            rows.append({"file": name, "expected": case["expect"], "outcome": "opened", "as_expected": case["expect"] == "ok",
                         "gate_accepted": verdict.accepted, "gate_failed": failed_checks(gate, verdict.checks)})
        as_expected += rows[-1]["as_expected"]
    return {"n": len(rows), "as_expected": as_expected, "files": rows}


@suite("ood", variants=False)
def ood_suite(ctx: EvalContext) -> SuiteResult:
    gate, stale = load_gate()
    index = json.loads((OOD_DIR / "index.json").read_text(encoding="utf-8"))
    ood_names = sorted(index)
    ood_results = gate_images(gate, [open_image(OOD_DIR / n) for n in ood_names], desc="OOD images")
    accepted_ood = [{"file": n, "what": index[n]["what"], "atypicality": r.checks["atypicality"]}
                    for n, r in zip(ood_names, ood_results) if r.accepted]

    items = ctx.items()
    results = gate_images(gate, [open_image(it.image_path) for it in items], desc=f"{len(items)} dermoscopy images")
    accepted = np.asarray([r.accepted for r in results])
    dx = np.asarray([it.dx for it in items])
    per_class = {c: float(accepted[dx == c].mean()) if (dx == c).any() else None for c in CODES}
    reasons = Counter(check for r in results if not r.accepted for check in failed_checks(gate, r.checks))
    bad = _bad_inputs(gate)
    metrics = {
        "gate_stale": stale,
        "thresholds": gate.calibration.thresholds,
        "ood_n": len(ood_names),
        "ood_refusal_rate": 1 - len(accepted_ood) / len(ood_names),
        "ood_accepted": accepted_ood,
        "ood_refusal_reasons": {n: failed_checks(gate, r.checks) for n, r in zip(ood_names, ood_results)},
        "n": len(items),
        "test_acceptance_rate": float(accepted.mean()) if len(items) else None,
        "acceptance_per_class": per_class,
        "mel_acceptance_rate": per_class[MEL],
        "mel_n": int((dx == MEL).sum()),
        "mel_refused": [it.image_id for it, a in zip(items, accepted) if it.dx == MEL and not a],
        "refusal_checks": dict(reasons),
        "bad_inputs_as_expected": bad["as_expected"] / bad["n"],
        "bad_inputs": bad,
    }
    plots = [_atypicality_plot(gate, results, ood_results, ctx.plot_path("ood", "atypicality")),
             _acceptance_plot(per_class, ctx.plot_path("ood", "acceptance_per_class"))]
    summary = (f"OOD refused {metrics['ood_refusal_rate']:.0%} of {len(ood_names)}; test accepted "
               f"{metrics['test_acceptance_rate']:.1%} (mel {per_class[MEL]:.1%})" if per_class[MEL] is not None else "")
    return SuiteResult(metrics, _markdown(ctx, metrics, index), plots, summary)


def _atypicality_plot(gate, results, ood_results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = np.log10([r.checks["atypicality"] for r in results])
    ood = np.log10([r.checks["atypicality"] for r in ood_results])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = np.linspace(min(test.min(), ood.min()), max(test.max(), ood.max()), 50)
    ax.hist(test, bins=bins, alpha=0.7, label=f"dermoscopy ({len(test)})", density=True)
    ax.hist(ood, bins=bins, alpha=0.7, label=f"OOD ({len(ood)})", density=True)
    ax.axvline(np.log10(gate.calibration.thresholds["atypicality"]), color="black", ls="--", lw=1, label="threshold (set on val)")
    ax.set_xlabel("log10 atypicality (feature-density distance)")
    ax.set_ylabel("density")
    ax.set_title("Intake gate: how typical of dermoscopy each image is\n(left of the line only the pixel checks can refuse an image)",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _acceptance_plot(per_class: dict, path):
    from evals.plots import per_class_bars

    return per_class_bars({"accepted": [per_class[c] if per_class[c] is not None else np.nan for c in CODES]}, CODES, path,
                          "Dermoscopy images accepted by the intake gate", ylabel="acceptance rate")


def _markdown(ctx: EvalContext, m: dict, index: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    pct = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
    lines = ["# OOD: the intake gate", ""]
    if m["gate_stale"]:
        lines += [f"**The intake artifact is stale** ({'; '.join(m['gate_stale'])}): run `dermagraph build`.", ""]
    lines += ["| | n | result | goal |", "|---|---:|---:|---:|",
              f"| non-dermoscopy images refused (`evals/data/ood`) | {m['ood_n']} | {pct(m['ood_refusal_rate'])} | 100% |",
              f"| {where} images accepted | {m['n']} | {pct(m['test_acceptance_rate'])} | >= 98% |",
              f"| melanomas accepted | {m['mel_n']} | {pct(m['mel_acceptance_rate'])} | |",
              f"| bad-input files handled as expected | {m['bad_inputs']['n']} | {pct(m['bad_inputs_as_expected'])} | 100% |", ""]
    if m["ood_accepted"]:
        lines += ["Accepted although not dermoscopy:", ""] + [f"- `{a['file']}` ({a['what']}), atypicality {a['atypicality']:.0f}"
                                                           for a in m["ood_accepted"]] + [""]
    else:
        lines += ["Every non-dermoscopy image was refused. Checks each one fails:", ""]
        lines += [f"- `{n}` ({index[n]['what']}): {', '.join(c) or 'none'}" for n, c in m["ood_refusal_reasons"].items()] + [""]
    lines += ["| acceptance | " + " | ".join(CODES) + " |", "|---|" + "---:|" * len(CODES),
              "| rate | " + " | ".join(pct(m["acceptance_per_class"][c]) for c in CODES) + " |", "",
              "Checks failed by refused dermoscopy images: " + (", ".join(f"{k} {v}" for k, v in m["refusal_checks"].items()) or "none") + ".",
              "Refused melanomas: " + (", ".join(f"`{i}`" for i in m["mel_refused"]) or "none") + ".", "",
              "## Bad inputs", "", "| file | expected | outcome | gate |", "|---|---|---|---|"]
    for r in m["bad_inputs"]["files"]:
        gate = "" if r["outcome"] == "error" else ("accepted" if r["gate_accepted"] else "refused: " + ", ".join(r["gate_failed"]))
        outcome = r["outcome"] if r["outcome"] == "opened" else f"error: {r['message']}"
        lines.append(f"| `{r['file']}` | {r['expected']} | {outcome}{'' if r['as_expected'] else ' **(unexpected)**'} | {gate} |")
    return "\n".join(lines)

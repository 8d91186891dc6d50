"""Suite `data`: what the evaluation runs on (class balance per split), so every report states it."""

from __future__ import annotations

from collections import Counter

from evals.harness import EvalContext, SuiteResult, suite
from knowledge.splits import SPLITS
from knowledge.taxonomy import CODES


@suite("data", variants=False)
def data_suite(ctx: EvalContext) -> SuiteResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = ["external"] if ctx.external else list(SPLITS)
    counts = {s: Counter(it.dx for it in ctx.items(None if ctx.external else s)) for s in splits}
    metrics = {
        "n": sum(sum(c.values()) for c in counts.values()),
        "counts": {s: {code: counts[s].get(code, 0) for code in CODES} for s in splits},
    }
    header = "| split | n | " + " | ".join(CODES) + " |\n|---|---:|" + "---:|" * len(CODES)
    rows = [f"| {s} | {sum(counts[s].values())} | " + " | ".join(str(counts[s].get(c, 0)) for c in CODES) + " |" for s in splits]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(splits)
    for i, s in enumerate(splits):
        total = max(sum(counts[s].values()), 1)
        ax.bar([x + i * width for x in range(len(CODES))], [counts[s].get(c, 0) / total for c in CODES], width, label=s)
    ax.set_xticks([x + width * (len(splits) - 1) / 2 for x in range(len(CODES))], CODES)
    ax.set_ylabel("share of images")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Class balance per split")
    fig.tight_layout()
    plot = ctx.plot_path("data", "class_balance")
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    return SuiteResult(metrics, "# Data\n\n" + header + "\n" + "\n".join(rows), [plot])

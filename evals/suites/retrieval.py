"""Suite `retrieval`: similar-case search over the train+val index (Chroma), queried with the split's images.

Metrics: precision@k of same-diagnosis cases (query lesion excluded), mAP@10, the kNN-16 vote as a
classifier (balanced accuracy), text -> image precision for each class prompt and for 112 held-out
phrasings (``evals/data/case_search_phrasings.yaml``: 8 per class and language, EN and ZH, written blind;
searched as the app does: sites, sexes and ages in the words become filters, one image per lesion); baselines: random
retrieval (class frequencies) and cosine kNN on raw ImageNet features. Plots: P@k curves and
per-class P@10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.baselines import baseline_features, baseline_index_size, index_items, knn_retrieve
from evals.harness import EvalContext, SuiteResult, suite
from evals.plots import per_class_bars, precision_at_k_plot
from evals.suites.classification import labels_of
from knowledge import metrics as M
from knowledge.images import open_image
from knowledge.taxonomy import CODES

K = 16


def open_case_index():
    """The similar-case index, built first if missing or stale (seconds: it loads shipped embeddings)."""
    from retrieval.cases import CaseIndex, build_case_index, case_index_staleness

    if case_index_staleness():
        build_case_index(progress=False)
    return CaseIndex.open()


@suite("retrieval", variants=False)
def retrieval_suite(ctx: EvalContext) -> SuiteResult:
    from models.encoder.captions import class_prompts

    index = open_case_index()
    encoder = index.encoder
    items = ctx.items()
    labels = labels_of(items)
    embeddings = np.concatenate([encoder.embed_images([open_image(it.image_path) for it in items[s : s + 32]])
                                 for s in tqdm(range(0, len(items), 32), desc="embed queries", leave=False)])
    retrieved = np.asarray([[CODES.index(c.dx) for c in index.search_embedding(e, K, exclude_lesion=it.lesion_id)]
                            for e, it in tqdm(list(zip(embeddings, items)), desc="search", leave=False)])
    population = index_items(ctx)
    pop_counts = np.bincount(labels_of(population), minlength=len(CODES))
    knn_preds, _ = M.knn_predictions(retrieved, len(CODES), K)
    curve = M.precision_at_k_curve(retrieved, labels)
    hits10 = retrieved[:, :10] == labels[:, None]
    metrics: dict = {
        "n": len(items),
        "index_size": len(index),
        "p_at_1": curve[0],
        "p_at_5": curve[4],
        "p_at_10": curve[9],
        "map_at_10": M.mean_average_precision_at_k(retrieved, labels, 10, pop_counts[labels]),
        "knn16_accuracy": M.accuracy(labels, knn_preds),
        "knn16_balanced_accuracy": M.balanced_accuracy(labels, knn_preds, len(CODES)),
        "p_at_10_per_class": {c: float(hits10[labels == i].mean()) if (labels == i).any() else None for i, c in enumerate(CODES)},
        "p_at_k": curve,
    }

    # Text -> image: each class's first prompt ("dermoscopy of melanoma") should retrieve that class.
    text_p = {}
    for i, code in enumerate(CODES):
        cases = index.search(class_prompts(code)[0], k=10)
        text_p[code] = float(np.mean([c.dx == code for c in cases]))
    metrics["text_p_at_10_per_class"] = text_p
    metrics["text_p_at_10"] = float(np.mean(list(text_p.values())))
    metrics["text_phrasings"] = phrasing_search(index)

    # Baselines: random retrieval, and cosine kNN on raw ImageNet features (lesion excluded likewise).
    base_index = index_items(ctx, baseline_index_size(ctx))
    base_retrieved = knn_retrieve(baseline_features(ctx, items), baseline_features(ctx, base_index), labels_of(base_index), K,
                                  [it.lesion_id for it in items], [it.lesion_id for it in base_index])
    base_curve = M.precision_at_k_curve(base_retrieved, labels)
    base_knn, _ = M.knn_predictions(base_retrieved, len(CODES), K)
    base_hits = base_retrieved[:, :10] == labels[:, None]
    freq = pop_counts / pop_counts.sum()
    metrics["baselines"] = {
        "random": {"p_at_10": float(freq[labels].mean())},
        "imagenet_knn": {"p_at_10": base_curve[9], "map_at_10": M.mean_average_precision_at_k(base_retrieved, labels, 10, pop_counts[labels]),
                         "knn16_balanced_accuracy": M.balanced_accuracy(labels, base_knn, len(CODES)),
                         "index_size": len(base_index), "p_at_k": base_curve,
                         "p_at_10_per_class": {c: float(base_hits[labels == i].mean()) if (labels == i).any() else None
                                               for i, c in enumerate(CODES)}},
    }
    plots = [
        precision_at_k_plot({"encoder": curve, "raw ImageNet features": base_curve}, ctx.plot_path("retrieval", "p_at_k")),
        per_class_bars({"encoder": [metrics["p_at_10_per_class"][c] or 0 for c in CODES],
                        "raw ImageNet": [metrics["baselines"]["imagenet_knn"]["p_at_10_per_class"][c] or 0 for c in CODES]},
                       CODES, ctx.plot_path("retrieval", "p_at_10_per_class"), "Precision@10 per query class", "P@10"),
    ]
    return SuiteResult(metrics, _markdown(ctx, metrics), plots)


PHRASINGS = Path(__file__).resolve().parents[1] / "data" / "case_search_phrasings.yaml"


def phrasing_search(index, path: Path = PHRASINGS) -> dict:
    """Text -> image P@10 (same diagnosis among the 10 lesions found) on held-out phrasings, per language and class,
    searched as the app's search box does (filters read from the words, the corpus's class evidence re-ranking the
    text tower's lesions: ``retrieval.text_search``); beside it the text tower alone (same filters)."""
    import yaml

    from agents.intents import read_filters
    from retrieval.knowledge_index import KnowledgeIndex
    from retrieval.text_search import search_by_text

    knowledge = KnowledgeIndex.open()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict = {}
    for lang, by_class in data.items():
        per_class, tower, filtered = {}, {}, 0
        for code, texts in by_class.items():
            scores, scores_tower = [], []
            for text in texts:
                filters = read_filters(text, [])
                filtered += not filters.is_empty()
                for sink, kb in ((scores, knowledge), (scores_tower, None)):
                    cases = search_by_text(index, kb, text, 10, filters)
                    sink.append(float(np.mean([c.dx == code for c in cases])) if cases else 0.0)
            per_class[code], tower[code] = float(np.mean(scores)), float(np.mean(scores_tower))
        n = sum(len(v) for v in by_class.values())
        out[lang] = {"n": n, "p_at_10": float(np.mean(list(per_class.values()))), "p_at_10_per_class": per_class,
                     "p_at_10_text_tower_only": float(np.mean(list(tower.values()))),
                     "p_at_10_per_class_text_tower_only": tower, "with_filters": filtered}
    return out


def _markdown(ctx: EvalContext, m: dict) -> str:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    b = m["baselines"]
    f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    return "\n".join([
        f"# Retrieval: {where} queries (n = {m['n']}{', sample' if ctx.sample else ''}) against {m['index_size']} train+val cases", "",
        "Same diagnosis counts as relevant; each query's own lesion is excluded.", "",
        "| metric | encoder | raw ImageNet kNN | random | goal |", "|---|---:|---:|---:|---:|",
        f"| P@10 | {f(m['p_at_10'])} | {f(b['imagenet_knn']['p_at_10'])} | {f(b['random']['p_at_10'])} | >= 0.80 |",
        f"| mAP@10 | {f(m['map_at_10'])} | {f(b['imagenet_knn']['map_at_10'])} | | |",
        f"| kNN-16 balanced accuracy | {f(m['knn16_balanced_accuracy'])} | {f(b['imagenet_knn']['knn16_balanced_accuracy'])} | | |",
        f"| P@1 | {f(m['p_at_1'])} | {f(b['imagenet_knn']['p_at_k'][0])} | | |", "",
        "| P@10 per query class | " + " | ".join(CODES) + " |", "|---|" + "---:|" * len(CODES),
        "| encoder | " + " | ".join(f(m["p_at_10_per_class"][c]) for c in CODES) + " |",
        "| raw ImageNet | " + " | ".join(f(b["imagenet_knn"]["p_at_10_per_class"][c]) for c in CODES) + " |",
        "| text prompt -> images | " + " | ".join(f(m["text_p_at_10_per_class"][c]) for c in CODES) + " |",
        *[f"| held-out phrasings {lang.upper()} -> lesions | " + " | ".join(f(v["p_at_10_per_class"].get(c)) for c in CODES) + " |"
          for lang, v in m["text_phrasings"].items()],
        "", "Held-out phrasings (8 per class and language, written blind; searched as the app does, filters read from the "
        "words, one image per lesion):", "",
        "| language | n | read a filter | P@10 (mean over classes) | text tower alone |", "|---|---:|---:|---:|---:|",
        *[f"| {lang} | {v['n']} | {v['with_filters']} | {f(v['p_at_10'])} | {f(v['p_at_10_text_tower_only'])} |"
          for lang, v in m["text_phrasings"].items()],
    ])

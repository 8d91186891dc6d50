"""Suite `dialogue`: scripted multi-turn consultations on the real graph, in English and Chinese.

Scripts live in ``evals/data/dialogues.yaml`` (format at its top): real test images, the intent
and the nodes each turn must run, and the citation kinds its answer must carry. Reported:

* routing accuracy: turns whose intent and node route are both as expected (and each on its own);
* citation coverage: share of factual paragraphs of the answers that carry a citation marker
  (``evals.conversation.citation_coverage``, read from the text the user sees);
* expected citation kinds present; resolvability: share of citations that resolve to their real
  source (``evals.conversation.citation_problems``);
* the other expectations (language, unchanged diagnosis, case filters, refusals);
* wall-clock latency per turn (models loaded and warmed up first), full assessments and
  follow-ups apart. The two cores are shared, so read medians, not single turns.

``--sample N`` runs about N/10 scripts (at least 2, both languages) for CI.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from agents import routing
from evals.conversation import (ImagePicker, chinese_share, citation_coverage, citation_problems, graph_resources,
                                repeated_quotes, summary_count_problems, temporary_consultation)
from evals.harness import EvalContext, SuiteResult, suite
from knowledge.tokenize import to_simplified
from models.classifiers import parse_variant

SCRIPTS_FILE = Path(__file__).resolve().parents[1] / "data" / "dialogues.yaml"
OOD_DIR = Path(__file__).resolve().parents[1] / "data" / "ood"
ROUTES: dict[str, list[str]] = {
    "full": [routing.UNDERSTAND, *routing.FULL_PIPELINE],
    "refused": [routing.UNDERSTAND, routing.INTAKE, *routing.REFUSED_IMAGE],
    "knowledge": [routing.UNDERSTAND, routing.RETRIEVE, routing.COMPOSE, routing.REVIEW],
    "features": [routing.UNDERSTAND, routing.ANALYSE, routing.RETRIEVE, routing.COMPOSE, routing.REVIEW],
    "cases": [routing.UNDERSTAND, routing.FIND_CASES, routing.COMPOSE, routing.REVIEW],
    "reply": [routing.UNDERSTAND, routing.COMPOSE, routing.REVIEW],
}
KINDS = {"prediction", "features", "case", "knowledge"}
EXPECT_KEYS = {"intent", "route", "cites", "language", "same_diagnosis", "filters", "refused", "asks_for_image"}
GOALS = {"routing_accuracy": 1.0, "citation_coverage": 1.0, "resolvable_rate": 1.0, "zh_share": 0.9, "repeats": 0,
         "count_problems": 0, "follow_up_p50_s": 0.2}


def load_scripts(path: Path = SCRIPTS_FILE) -> list[dict]:
    """The scripts, checked: a malformed script is a clear error naming it, before anything runs."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if not scripts:
        raise ValueError(f"{path}: no scripts")
    seen = set()
    for s in scripts:
        sid = s.get("id")
        if not sid or sid in seen:
            raise ValueError(f"{path}: script id {sid!r} missing or repeated")
        seen.add(sid)
        if s.get("language") not in ("en", "zh") or not s.get("turns"):
            raise ValueError(f"{path}: script {sid}: needs language en|zh and turns")
        for i, turn in enumerate(s["turns"], start=1):
            expect = turn.get("expect") or {}
            where = f"{path.name}: script {sid} turn {i}"
            if set(expect) - EXPECT_KEYS:
                raise ValueError(f"{where}: unknown expectation(s) {sorted(set(expect) - EXPECT_KEYS)}")
            if "intent" not in expect or expect.get("route") not in ROUTES:
                raise ValueError(f"{where}: needs an intent and a route from {', '.join(ROUTES)}")
            if set(expect.get("cites") or []) - KINDS:
                raise ValueError(f"{where}: citation kinds must be among {sorted(KINDS)}")
            if turn.get("image") is True and not s.get("image"):
                raise ValueError(f"{where}: uploads the script's image but the script has none")
    return scripts


def sample_scripts(scripts: list[dict], n: int | None) -> list[dict]:
    """About n/10 scripts, alternating languages so both are covered."""
    if not n:
        return scripts
    k = max(2, n // 10)
    by_lang = {lang: [s for s in scripts if s["language"] == lang] for lang in ("en", "zh")}
    out = []
    for i in range(len(scripts)):
        for lang in ("en", "zh"):
            if i < len(by_lang[lang]) and len(out) < k:
                out.append(by_lang[lang][i])
    return out


def _image_path(spec, picker: ImagePicker) -> Path:
    if "ood" in spec:
        return OOD_DIR / spec["ood"]
    return Path(picker.pick(spec["dx"], int(spec.get("nth", 0))).image_path)


def _case_matches(case: dict, filters: dict) -> bool:
    for key, value in filters.items():
        if key == "age_min" and (case.get("age") is None or case["age"] < value):
            return False
        if key == "age_max" and (case.get("age") is None or case["age"] > value):
            return False
        if key in ("dx_type", "sex", "localization", "dx") and case.get(key) != value:
            return False
    return True


def check_turn(result, expect: dict, script_lang: str, previous, dataset, passages) -> dict:
    """Every expectation of one turn: {check: passed}, and the problems found."""
    intents = expect["intent"] if isinstance(expect["intent"], list) else [expect["intent"]]
    kinds = {c["kind"] for c in result.citations}
    checks = {"intent": result.intent in intents, "route": result.nodes_run == ROUTES[expect["route"]],
              "language": result.language == expect.get("language", script_lang)}
    if expect.get("cites"):
        checks["cites"] = set(expect["cites"]) <= kinds
    if expect.get("same_diagnosis"):
        before, now = (previous.diagnosis if previous else None), result.diagnosis
        checks["same_diagnosis"] = bool(before and now and before.get("label") == now.get("label")
                                        and before.get("probabilities") == now.get("probabilities"))
    if expect.get("filters"):
        checks["filters"] = bool(result.similar_cases) and all(_case_matches(c, expect["filters"]) for c in result.similar_cases)
    if "refused" in expect:
        checks["refused"] = (result.intake is not None and not result.intake["accepted"]) == expect["refused"]
    if expect.get("asks_for_image"):
        from agents.templates import T

        checks["asks_for_image"] = T["need_image"][result.language] in to_simplified(result.answer)
    problems = citation_problems(result, dataset, passages)
    return {"checks": checks, "citation_problems": problems}


KNOWLEDGE_FOLLOWUPS = Path(__file__).resolve().parents[1] / "data" / "knowledge_followups_blind.yaml"


def knowledge_followup_scores(consult, picker, path: Path = KNOWLEDGE_FOLLOWUPS, limit: int | None = None,
                              classes: tuple[str, ...] = ("mel", "nv")) -> dict:
    """Does the background an answer quotes come from the documents that answer the question? Each follow-up (written
    blind, with the corpus documents that answer it) is asked after a first assessment in a fresh thread, for a
    melanoma the tier refers and a naevus it does not; scored: answers quoting at least one gold document, answers whose
    first quote is gold, answers quoting no background at all."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    items = items[:: max(1, len(items) // limit)][:limit] if limit else items
    rows = []
    for dx in classes:
        image = picker.pick(dx, 0).image_path
        for it in items:
            thread = f"knowledge-{dx}-{it['id']}"
            consult.ask(thread, "这是什么？" if it["lang"] == "zh" else "What is this?", image=image)
            result = consult.ask(thread, it["text"])
            docs = [c["target"].split("#")[0] for c in result.citations if c["kind"] == "knowledge"]
            rows.append({"id": it["id"], "lang": it["lang"], "dx": dx, "docs": docs, "gold": it["gold"],
                         "any_gold": bool(set(docs) & set(it["gold"])), "first_gold": bool(docs) and docs[0] in it["gold"],
                         "none": not docs})

    def rates(sub: list[dict]) -> dict:
        return {k: float(np.mean([r[k] for r in sub])) for k in ("any_gold", "first_gold", "none")} | {"n": len(sub)}

    return {"all": rates(rows), **{f"{dx}": rates([r for r in rows if r["dx"] == dx]) for dx in classes},
            **{f"lang_{lang}": rates([r for r in rows if r["lang"] == lang]) for lang in ("en", "zh")},
            "rows": rows}


@suite("dialogue")
def dialogue_suite(ctx: EvalContext) -> SuiteResult:
    scripts = sample_scripts(load_scripts(), ctx.sample)
    resources = graph_resources(ctx.variant)
    index = resources.knowledge_index
    passages = {p.passage_id: [p, *([index.twins[p.passage_id]] if p.passage_id in index.twins else [])] for p in index.passages}
    picker = ImagePicker(ctx, resources.intake_gate)
    turns: list[dict] = []
    with temporary_consultation(resources) as consult:
        consult.ask("warm-up", "what is this?", image=picker.pick("nv", 5).image_path)  # lazy loads stay out of the timings
        for script in scripts:
            thread = f"dialogue-{script['id']}"
            previous = None
            answers: list[str] = []
            for i, turn in enumerate(script["turns"], start=1):
                image = None
                if turn.get("image") is True:
                    image = _image_path(script["image"], picker)
                elif isinstance(turn.get("image"), dict):
                    image = _image_path(turn["image"], picker)
                t0 = time.perf_counter()
                result = consult.ask(thread, turn["say"], image=image)
                latency = time.perf_counter() - t0
                outcome = check_turn(result, turn["expect"], script["language"], previous, ctx.dataset, passages)
                factual, cited, uncited = citation_coverage(result.answer, result.language)
                repeats = repeated_quotes([*answers, result.answer])[len(repeated_quotes(answers)):]
                answers.append(result.answer)
                turns.append({"script": script["id"], "turn": i, "say": turn["say"], "image": str(image.name) if image else None,
                              "expected_intent": turn["expect"]["intent"], "intent": result.intent,
                              "expected_route": turn["expect"]["route"], "nodes_run": result.nodes_run,
                              "latency_s": latency, "full": routing.CLASSIFY in result.nodes_run or routing.INTAKE in result.nodes_run,
                              "factual": factual, "cited": cited, "uncited": uncited,
                              "citations": len(result.citations), "language": result.language,
                              "zh_share": chinese_share(result.answer) if result.language == "zh" else None,
                              "repeats": repeats, "count_problems": summary_count_problems(result.answer),
                              "answer": result.answer, **outcome})
                previous = result
        knowledge = knowledge_followup_scores(consult, picker, limit=10 if ctx.sample else None,
                                              classes=("mel",) if ctx.sample else ("mel", "nv"))
    metrics = _aggregate(turns, parse_variant(ctx.variant).spec, len(scripts))
    metrics["knowledge_followups"] = knowledge
    plots = [_latency_plot(turns, ctx.plot_path("dialogue", "latency")), _routing_plot(turns, ctx.plot_path("dialogue", "routing"))]
    summary = (f"routing {metrics['routing_accuracy']:.0%} of {metrics['turns']} turns; citation coverage "
               f"{metrics['citation_coverage']:.0%}; resolvable {metrics['resolvable_rate']:.0%}; "
               f"p50 {metrics['latency']['full']['p50_s']:.2f} s full / {metrics['latency']['follow_up']['p50_s']:.2f} s follow-up")
    return SuiteResult(metrics, _markdown(ctx, metrics, turns), plots, summary)


def _zh_share_stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median": float("nan"), "min": float("nan"), "at_goal": float("nan")}
    return {"n": len(values), "median": statistics.median(values), "min": min(values),
            "at_goal": sum(v >= GOALS["zh_share"] for v in values) / len(values)}


def _latency_stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_s": float("nan"), "p95_s": float("nan"), "max_s": float("nan")}
    return {"n": len(values), "p50_s": statistics.median(values), "p95_s": float(np.quantile(values, 0.95)), "max_s": max(values)}


def _aggregate(turns: list[dict], backend: str, n_scripts: int) -> dict:
    def rate(key: str) -> float:
        relevant = [t["checks"][key] for t in turns if key in t["checks"]]
        return sum(relevant) / len(relevant) if relevant else float("nan")

    n_citations = sum(t["citations"] for t in turns)
    bad = sum(len(t["citation_problems"]) for t in turns)
    per_intent: dict[str, list[bool]] = defaultdict(list)
    for t in turns:
        exp = t["expected_intent"] if isinstance(t["expected_intent"], str) else "/".join(t["expected_intent"])
        per_intent[exp].append(t["checks"]["intent"] and t["checks"]["route"])
    failures = [{"script": t["script"], "turn": t["turn"], "say": t["say"],
                 "failed": [k for k, ok in t["checks"].items() if not ok] + (["citations"] if t["citation_problems"] else []),
                 "intent": t["intent"], "nodes_run": t["nodes_run"], "citation_problems": t["citation_problems"],
                 "uncited": t["uncited"]}
                for t in turns if not all(t["checks"].values()) or t["citation_problems"] or t["uncited"]]
    factual = sum(t["factual"] for t in turns)
    return {
        "backend": backend,
        "scripts": n_scripts,
        "turns": len(turns),
        "languages": sorted({("zh" if any("\u4e00" <= ch <= "\u9fff" for ch in t["say"]) else "en") for t in turns}),
        "routing_accuracy": sum(t["checks"]["intent"] and t["checks"]["route"] for t in turns) / len(turns),
        "intent_accuracy": rate("intent"),
        "route_accuracy": rate("route"),
        "routing_per_intent": {k: sum(v) / len(v) for k, v in sorted(per_intent.items())},
        "citation_coverage": sum(t["cited"] for t in turns) / factual if factual else float("nan"),
        "factual_paragraphs": factual,
        "expected_kinds_rate": rate("cites"),
        "citations": n_citations,
        "resolvable_rate": (n_citations - bad) / n_citations if n_citations else float("nan"),
        "language_rate": rate("language"),
        "same_diagnosis_rate": rate("same_diagnosis"),
        "filters_rate": rate("filters"),
        "refusal_rate_expected": rate("refused"),
        "expectations_met": sum(all(t["checks"].values()) for t in turns) / len(turns),
        "zh_share": _zh_share_stats([t["zh_share"] for t in turns if t["zh_share"] is not None]),
        "repeats": sum(len(t["repeats"]) for t in turns),
        "repeated_quotes": [q for t in turns for q in t["repeats"]],
        "count_problems": [p for t in turns for p in t["count_problems"]],
        "count_consistency": (sum(not t["count_problems"] for t in turns) / len(turns)),
        "latency": {"full": _latency_stats([t["latency_s"] for t in turns if t["full"]]),
                    "follow_up": _latency_stats([t["latency_s"] for t in turns if not t["full"]])},
        "failures": failures,
        "turn_log": [{k: t[k] for k in ("script", "turn", "say", "intent", "nodes_run", "latency_s", "checks", "zh_share")}
                     for t in turns],
        "zh_below_goal": [{"script": t["script"], "turn": t["turn"], "say": t["say"], "zh_share": t["zh_share"], "answer": t["answer"]}
                          for t in turns if t["zh_share"] is not None and t["zh_share"] < GOALS["zh_share"]],
    }


def _latency_plot(turns: list[dict], path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {"full assessment": [t["latency_s"] for t in turns if t["full"]],
              "follow-up": [t["latency_s"] for t in turns if not t["full"]]}
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.boxplot([v or [np.nan] for v in groups.values()], showfliers=True)
    ax.set_xticks(range(1, len(groups) + 1), [f"{k} (n={len(v)})" for k, v in groups.items()])
    ax.set_yscale("log")
    ax.set_ylabel("seconds per turn (wall, shared CPU)")
    ax.set_title("Dialogue turn latency", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _routing_plot(turns: list[dict], path):
    from evals.plots import _plt, _save

    per: dict[str, list[bool]] = defaultdict(list)
    for t in turns:
        key = t["expected_intent"] if isinstance(t["expected_intent"], str) else "/".join(t["expected_intent"])
        per[key].append(t["checks"]["intent"] and t["checks"]["route"])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    names = sorted(per)
    ax.bar(range(len(names)), [np.mean(per[n]) for n in names], color="C0")
    for i, n in enumerate(names):
        ax.text(i, 0.02, f"n={len(per[n])}", ha="center", fontsize=7, color="white")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("turns routed as expected")
    ax.set_title("Routing by expected intent", fontsize=10)
    return _save(fig, path)


def _markdown(ctx: EvalContext, m: dict, turns: list[dict]) -> str:
    full, follow = m["latency"]["full"], m["latency"]["follow_up"]
    pct = lambda v: "n/a" if v != v else f"{v:.1%}"  # noqa: E731
    lines = [f"# Dialogue: {m['scripts']} scripted consultations, {m['turns']} turns ({', '.join(m['languages'])}), "
             f"classifier `{m['backend']}`", "",
             "| metric | value | goal |", "|---|---:|---:|",
             f"| routing accuracy (intent and nodes as expected) | {pct(m['routing_accuracy'])} | 100% |",
             f"| intent accuracy | {pct(m['intent_accuracy'])} | |",
             f"| node-route accuracy | {pct(m['route_accuracy'])} | |",
             f"| citation coverage ({m['factual_paragraphs']} factual paragraphs) | {pct(m['citation_coverage'])} | 100% |",
             f"| expected citation kinds present | {pct(m['expected_kinds_rate'])} | |",
             f"| citations resolvable ({m['citations']}) | {pct(m['resolvable_rate'])} | 100% |",
             f"| answer language as expected | {pct(m['language_rate'])} | |",
             f"| diagnosis unchanged by follow-ups | {pct(m['same_diagnosis_rate'])} | 100% |",
             f"| similar cases honour the filters | {pct(m['filters_rate'])} | 100% |",
             f"| all expectations of a turn met | {pct(m['expectations_met'])} | |",
             f"| Chinese answers: share of Chinese characters, median / lowest ({m['zh_share']['n']} answers) | "
             f"{pct(m['zh_share']['median'])} / {pct(m['zh_share']['min'])} | >= 90% |",
             f"| Chinese answers at >= 90% Chinese | {pct(m['zh_share']['at_goal'])} | 100% |",
             f"| knowledge quotes repeated verbatim within a thread | {m['repeats']} | 0 |",
             f"| answers whose case counts match their citations | {pct(m['count_consistency'])} | 100% |", "",
             f"Latency per turn (wall clock on 2 shared cores, models warm): full assessment p50 {full['p50_s']:.2f} s, "
             f"p95 {full['p95_s']:.2f} s (n = {full['n']}); follow-up p50 {follow['p50_s']:.3f} s, p95 {follow['p95_s']:.3f} s "
             f"(n = {follow['n']}).", ""]
    k = m["knowledge_followups"]
    lines += ["## Is the background quoted from a document that answers the question?", "",
              f"{KNOWLEDGE_FOLLOWUPS.name}: follow-ups after an assessment (the appointment, a biopsy, preparing, a reluctant "
              "relative, photographing, prevention, self-examination, treatment of a class, a dermoscopic structure, the AI's "
              "reliability, the tiers, 'what next?'), written blind with the corpus documents that answer each; asked for a "
              "referred melanoma and a naevus.", "",
              "| answers | n | quoting a document that answers it | first quote from one | no background quoted |",
              "|---|---:|---:|---:|---:|"]
    for key in [key for key in ("all", "mel", "nv", "lang_en", "lang_zh") if key in k]:
        r = k[key]
        lines.append(f"| {key.replace('lang_', '')} | {r['n']} | {pct(r['any_gold'])} | {pct(r['first_gold'])} | {pct(r['none'])} |")
    lines.append("")
    if m["failures"]:
        lines += ["## Turns that missed an expectation", "", "| script | turn | said | failed | got |", "|---|---:|---|---|---|"]
        for f in m["failures"]:
            got = f"intent {f['intent']}, nodes {' > '.join(f['nodes_run'])}"
            if f["citation_problems"]:
                got += "; " + "; ".join(f["citation_problems"])
            if f["uncited"]:
                got += "; uncited: " + " / ".join(u[:80] for u in f["uncited"])
            lines.append(f"| {f['script']} | {f['turn']} | {f['say']} | {', '.join(f['failed']) or 'uncited facts'} | {got} |")
    else:
        lines.append("Every turn met every expectation.")
    return "\n".join(lines)

"""The follow-up intent model on held-out questions (``evals/data/intents/heldout.yaml``).

The held-out set was written by a helper session that never saw the training sets, the code or the
model, after the training sets existed; it is read only here, never for training or model choices
(those use cross-validation on the training sets, training/intent.py). Metrics: accuracy overall and
per language (en, zh, mixed), recall per intent, the confusion matrix, the reassurance flag's recall
and false-positive rate (the flag the answer's safety guard hangs on, with the rule-based reading
unioned in as the graph does), and per-question latency. Goal: accuracy >= 0.95.

Also the lesion-history reading (the warning signs a message states, which raise the tier) on held-out EN/ZH messages
(``history_statements_blind3.yaml``, 120, written 2026-12-06 by a helper session that saw no code and no other set),
each labelled with the signs it states (negated signs, questions and other people's lesions labelled with none): the
phrase rules alone (``knowledge.patient.history_signs``) and as the graph reads (``agents.intents.history_reading``:
the rules plus the learned reader, models/history.py, trained on other sets, training/history.py). Metrics: messages read exactly, each sign's recall and precision, the share of messages with a
stated sign missed (the safety-relevant error: a missed sign cannot raise the tier) and with a sign read that was
not stated.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from pathlib import Path

from evals.harness import EvalContext, SuiteResult, suite

GOAL_ACCURACY = 0.95
HISTORY_HELD_OUT = Path(__file__).resolve().parents[1] / "data" / "history_statements_blind3.yaml"
# Age, sex and body site said in a message (knowledge.patient.read_patient): set A's first run was blind, its failures
# were then read and the rules mended; set B, by another helper, is the held-out figure.
DETAILS_DEV = HISTORY_HELD_OUT.with_name("patient_details_blind_a.yaml")
DETAILS_HELD_OUT = HISTORY_HELD_OUT.with_name("patient_details_blind_b.yaml")
# Follow-ups as people type them mid-conversation (statements with questions, "say it simpler", another lesion, clinicians'
# jargon), each with the intents a careful dermatologist would accept: dev (labelled from a blind conversation set; its
# first run was the blind figure) and held-out (written by another helper, never trained or tuned on).
CONVERSATIONAL_DEV = HISTORY_HELD_OUT.parent / "intents" / "conversations_blind.yaml"
CONVERSATIONAL_HELD_OUT = HISTORY_HELD_OUT.parent / "intents" / "heldout_conversational.yaml"
# Follow-ups after a referral, written blind 2026-12-07 by two helpers (each saw no code and no other set): putting the
# visit off, correcting a sign told earlier, controls sharing their words. Set A's first run was read (rules mended,
# then it trained the intent model's delay head); set B is held out.
FOLLOWUPS_DEV = HISTORY_HELD_OUT.with_name("followups_delay_correction_blind.yaml")
FOLLOWUPS_DELAY_CORRECTION = HISTORY_HELD_OUT.with_name("followups_delay_correction_blind_b.yaml")


def conversational_scores(path: Path = CONVERSATIONAL_HELD_OUT) -> dict:
    """Routed accuracy (the graph's reading, ``agents.intents.read_turn``) against each message's acceptable intents,
    overall and per language, with the misroutes."""
    import yaml

    from agents.intents import read_turn

    rows = []
    for it in yaml.safe_load(path.read_text(encoding="utf-8")):
        routed = read_turn(it["text"], new_image=False).kind.value
        rows.append({"text": it["text"], "lang": it.get("lang", "en"), "acceptable": it["intents"], "routed": routed,
                     "ok": routed in it["intents"]})
    langs = sorted({r["lang"] for r in rows})
    return {"n": len(rows), "accuracy": float(np.mean([r["ok"] for r in rows])),
            "by_language": {lang: float(np.mean([r["ok"] for r in rows if r["lang"] == lang])) for lang in langs},
            "misrouted_to": dict(Counter(r["routed"] for r in rows if not r["ok"]).most_common()),
            "misroutes": [{k: r[k] for k in ("text", "acceptable", "routed")} for r in rows if not r["ok"]]}


def followup_flag_scores(path: Path = FOLLOWUPS_DELAY_CORRECTION) -> dict:
    """Two side readings of a follow-up after a referral (``agents.intents.read_turn``): putting the examination off
    (``delay`` or ``sun_only``: the do-not-put-it-off answer; no background when the phrase rules read it, background
    filtered for permission when only the model does) and a correction taking back a sign told earlier (``withdrawn``:
    the graph takes back those on record, and the tier is read again). Recall on each group; on the
    controls (sharing their words: "how soon should I go?", "how do I monitor my other moles?", "it doesn't itch"), how
    often either reading fires."""
    import yaml

    from agents.intents import read_turn

    rows = []
    for it in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
        t, rules = read_turn(it["text"], new_image=False), read_turn(it["text"], new_image=False, use_model=False)
        rows.append({**it, "delay": t.delay or t.sun_only, "rules_delay": rules.delay or rules.sun_only,
                     "withdrawn": t.withdrawn})

    def rate(sub: list[dict], ok) -> dict:
        return {"n": len(sub), "rate": float(np.mean([ok(r) for r in sub])) if sub else None,
                "by_language": {lang: float(np.mean([ok(r) for r in sub if r["lang"] == lang]))
                                for lang in sorted({r["lang"] for r in sub})}}

    group = {g: [r for r in rows if r["group"] == g] for g in ("delay", "correction", "control")}
    return {"delay_recall": rate(group["delay"], lambda r: r["delay"]),
            "delay_recall_rules_only": rate(group["delay"], lambda r: r["rules_delay"]),
            "control_delay_rules_only": rate(group["control"], lambda r: r["rules_delay"]),
            "correction_recall": rate(group["correction"], lambda r: r["sign"] in r["withdrawn"]),
            "correction_other_sign": rate(group["correction"], lambda r: bool(set(r["withdrawn"]) - {r["sign"]})),
            "control_delay": rate(group["control"], lambda r: r["delay"]),
            "control_withdrawn": rate(group["control"], lambda r: bool(r["withdrawn"])),
            "misread": [{k: r[k] for k in ("id", "text", "delay", "withdrawn")} | ({"sign": r["sign"]} if "sign" in r else {})
                        for r in rows if (r["group"] == "delay" and not r["delay"])
                        or (r["group"] == "correction" and r["sign"] not in r["withdrawn"])
                        or (r["group"] == "control" and (r["delay"] or r["withdrawn"]))]}


def details_scores(path: Path = DETAILS_HELD_OUT) -> dict:
    """How age, sex and site are read from labelled messages: each field's accuracy (a missing value must be read as
    missing), ages read where none was given (a duration or a size taken for an age), and the failures."""
    import yaml

    from knowledge.patient import read_patient

    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = []
    for it in items:
        got = read_patient(it["text"])
        rows.append({"id": it["id"], "lang": it["lang"], "text": it["text"],
                     "want": {"age": it.get("age"), "sex": it.get("sex"), "site": it.get("site")},
                     "read": {"age": got.age, "sex": got.sex, "site": got.site}})
    for r in rows:
        w, g = r["want"], r["read"]
        r["ok"] = {"age": (w["age"] is None and g["age"] is None) or (w["age"] is not None and g["age"] is not None
                                                                     and abs(float(w["age"]) - g["age"]) < 0.5),
                   "sex": w["sex"] == g["sex"], "site": w["site"] == g["site"]}

    def rates(sub: list[dict]) -> dict:
        out = {"n": len(sub), "all_fields": float(np.mean([all(r["ok"].values()) for r in sub]))}
        for f in ("age", "sex", "site"):
            out[f"{f}_accuracy"] = float(np.mean([r["ok"][f] for r in sub]))
            given = [r for r in sub if r["want"][f] is not None]
            out[f"{f}_recall"] = float(np.mean([r["ok"][f] for r in given])) if given else None
        none = [r for r in sub if r["want"]["age"] is None]
        out["age_read_where_none"] = float(np.mean([r["read"]["age"] is not None for r in none])) if none else None
        return out

    return {**rates(rows), "by_language": {lang: rates([r for r in rows if r["lang"] == lang]) for lang in ("en", "zh")},
            "failures": [r for r in rows if not all(r["ok"].values())]}


def history_scores(path: Path = HISTORY_HELD_OUT, learned: bool = True) -> dict:
    """How the graph (``learned``) or the phrase rules alone read labelled messages: exact, per sign, missed and
    spurious signs, failures."""
    import yaml

    from agents.intents import history_reading
    from knowledge.patient import HISTORY_SIGNS

    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = [{"id": it["id"], "lang": it["lang"], "text": it["text"], "signs": sorted(it["signs"]),
             "read": sorted(history_reading(it["text"], use_model=learned).history)} for it in items]
    for r in rows:
        r["missed"] = sorted(set(r["signs"]) - set(r["read"]))
        r["spurious"] = sorted(set(r["read"]) - set(r["signs"]))

    def rates(sub: list[dict]) -> dict:
        return {"n": len(sub), "exact": float(np.mean([not r["missed"] and not r["spurious"] for r in sub])),
                "with_sign_missed": float(np.mean([bool(r["missed"]) for r in sub])),
                "with_sign_spurious": float(np.mean([bool(r["spurious"]) for r in sub]))}

    per_sign = {}
    for sign in HISTORY_SIGNS:
        stated = [r for r in rows if sign in r["signs"]]
        read = [r for r in rows if sign in r["read"]]
        per_sign[sign] = {"stated": len(stated), "recall": float(np.mean([sign in r["read"] for r in stated])) if stated else None,
                          "precision": float(np.mean([sign in r["signs"] for r in read])) if read else None}
    return {**rates(rows), "by_language": {lang: rates([r for r in rows if r["lang"] == lang]) for lang in ("en", "zh")},
            "per_sign": per_sign, "failures": [r for r in rows if r["missed"] or r["spurious"]]}


def _followup_rows(followups: dict) -> str:
    rows = ["| set | delayers caught (graph / rules alone) | controls read as delaying (graph / rules) | corrections read "
            "(the sign taken back) | controls read as a correction |", "|---|---:|---:|---:|---:|"]
    for name, f in (("B, held out", followups["held_out"]), ("A, dev (trains the delay head)", followups["dev"])):
        rows.append(f"| {name} | {f['delay_recall']['rate']:.3f} / {f['delay_recall_rules_only']['rate']:.3f} | "
                    f"{f['control_delay']['rate']:.3f} / {f['control_delay_rules_only']['rate']:.3f} | "
                    f"{f['correction_recall']['rate']:.3f} | {f['control_withdrawn']['rate']:.3f} |")
    return "\n".join(rows)


def _sign_rows(history: dict) -> str:
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    return "\n".join(f"| {k} | {v['stated']} | {fmt(v['recall'])} | {fmt(v['precision'])} |" for k, v in history["per_sign"].items())


def _plot(ctx: EvalContext, labels: tuple[str, ...], confusion: np.ndarray):
    from evals.plots import _plt, _save

    fig, ax = _plt().subplots(figsize=(7, 6))
    norm = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("labelled")
    ax.set_title("Intent on held-out questions")
    return _save(fig, ctx.plot_path("intent", "confusion"))


@suite("intent", variants=False)
def intent_suite(ctx: EvalContext) -> SuiteResult:
    from agents.intents import read_turn, rule_intent
    from models.intent import load_intent_model
    from training.intent import HELDOUT_FILE, read_questions

    questions = read_questions(HELDOUT_FILE)
    if ctx.sample:
        questions = questions[:: max(1, len(questions) // ctx.sample)]
    model = load_intent_model()
    labels = model.labels
    model.predict_one("warm-up")
    preds, ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        preds.append(model.predict_one(q.text))
        ms.append((time.perf_counter() - t0) * 1000)
    y = np.array([labels.index(q.intent) for q in questions])
    p = np.array([labels.index(r.intent) for r in preds])
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(confusion, (y, p), 1)
    langs = np.array([q.lang for q in questions])
    by_lang = {lang: {"n": int((langs == lang).sum()), "accuracy": float((p[langs == lang] == y[langs == lang]).mean())}
               for lang in ("en", "zh", "mixed") if (langs == lang).any()}
    per_intent = {lab: {"n": int((y == i).sum()), "recall": float((p[y == i] == i).mean()) if (y == i).any() else None}
                  for i, lab in enumerate(labels)}
    truth = np.array([q.reassurance for q in questions])
    model_flag = np.array([r.reassurance for r in preds])
    graph_flag = np.array([r.reassurance or read_turn(q.text, new_image=False).reassurance for q, r in zip(questions, preds)])

    def flag_rates(flag: np.ndarray) -> dict:
        return {"recall": float(flag[truth].mean()) if truth.any() else None,
                "false_positive_rate": float(flag[~truth].mean()) if (~truth).any() else None}

    accuracy = float((p == y).mean())
    rules_accuracy = float(np.mean([rule_intent(q.text) == q.intent for q in questions]))
    # What the graph routes on: the model, with the self-treatment override.
    graph_accuracy = float(np.mean([read_turn(q.text, new_image=False).kind.value == q.intent for q in questions]))
    confusions = Counter((labels[a], labels[b]) for a, b in zip(y, p) if a != b).most_common(8)
    history, rules = history_scores(), history_scores(learned=False)
    details = details_scores()
    conversational = {"held_out": conversational_scores(), "dev": conversational_scores(CONVERSATIONAL_DEV)}
    followups = {"held_out": followup_flag_scores(), "dev": followup_flag_scores(FOLLOWUPS_DEV)}
    metrics = {
        "n": len(questions), "accuracy": accuracy, "by_language": by_lang, "per_intent": per_intent,
        "reassurance_model": flag_rates(model_flag), "reassurance_graph": flag_rates(graph_flag),
        "latency_p50_ms": float(np.median(ms)), "rules_accuracy": rules_accuracy, "graph_accuracy": graph_accuracy, "top_confusions": [[a, b, n] for (a, b), n in confusions],
        "goals": {"accuracy": GOAL_ACCURACY}, "met": {"accuracy": accuracy >= GOAL_ACCURACY}, "history": history,
        "history_rules_only": rules, "details": details, "conversational": conversational,
        "followups": followups,
    }
    plot = _plot(ctx, labels, confusion)
    lang_rows = "\n".join(f"| {k} | {v['n']} | {v['accuracy']:.3f} |" for k, v in by_lang.items())
    intent_rows = "\n".join(f"| {k} | {v['n']} | {v['recall']:.3f} |" for k, v in per_intent.items() if v["recall"] is not None)
    conf_rows = "\n".join(f"| {a} | {b} | {n} |" for (a, b), n in confusions)
    rm, rg = metrics["reassurance_model"], metrics["reassurance_graph"]
    markdown = f"""# Intent (held-out follow-up questions)

{len(questions)} questions written blind by a separate helper session ({HELDOUT_FILE.name}); never used for training or
model choices. Accuracy **{accuracy:.3f}** (goal >= {GOAL_ACCURACY}); p50 {metrics['latency_p50_ms']:.1f} ms per question.

| language | n | accuracy |
|---|---:|---:|
{lang_rows}

| intent | n | recall |
|---|---:|---:|
{intent_rows}

Most frequent confusions (labelled -> predicted):

| labelled | predicted | n |
|---|---|---:|
{conf_rows}

Reassurance flag (the cannot-confirm-benign guard): model recall {rm['recall']:.3f}, false positives {rm['false_positive_rate']:.3f};
as the graph uses it (model or phrase rule): recall {rg['recall']:.3f}, false positives {rg['false_positive_rate']:.3f}.

As the graph routes (the model plus the self-treatment override): {graph_accuracy:.3f}. The phrase rules the model
replaced (`agents.intents.rule_intent`, the fallback when the model artifact is missing; they have no look_for) reach
{rules_accuracy:.3f} on the same questions.

## Lesion history (the warning signs a message states)

Held out ({HISTORY_HELD_OUT.name}, {history['n']} messages written blind, never trained or tuned on), as the graph
reads (rules + learned reader): read exactly **{history['exact']:.3f}** (en {history['by_language']['en']['exact']:.3f},
zh {history['by_language']['zh']['exact']:.3f}); a stated sign missed in **{history['with_sign_missed']:.1%}** of messages, a
sign read that was not stated in {history['with_sign_spurious']:.1%}. The phrase rules alone: exact {rules['exact']:.3f}, missed
{rules['with_sign_missed']:.1%}, spurious {rules['with_sign_spurious']:.1%}.

| sign (graph) | stated | recall | precision |
|---|---:|---:|---:|
{_sign_rows(history)}

## Age, sex and body site said in a message ({DETAILS_HELD_OUT.name}, {details['n']} held-out messages)

All three read right in **{details['all_fields']:.3f}** of messages (en {details['by_language']['en']['all_fields']:.3f}, zh
{details['by_language']['zh']['all_fields']:.3f}). Given ones read right: age {details['age_recall']:.3f}, sex
{details['sex_recall']:.3f}, site {details['site_recall']:.3f}; an age read where none was given (a duration or a size taken for
an age) in {details['age_read_where_none']:.1%} of those messages.

## Follow-ups as typed mid-conversation (acceptable intents; as the graph routes)

Held out ({CONVERSATIONAL_HELD_OUT.name}, {conversational['held_out']['n']} messages, another helper, never trained or
tuned on): **{conversational['held_out']['accuracy']:.3f}** ({", ".join(f"{k} {v:.3f}" for k, v in conversational['held_out']['by_language'].items())});
misrouted to: {conversational['held_out']['misrouted_to']}. Dev ({CONVERSATIONAL_DEV.name}, {conversational['dev']['n']}, the
blind conversations' follow-ups; read to choose the fixed-answer confidence gate): {conversational['dev']['accuracy']:.3f}.

## After a referral: putting the examination off, and taking back a sign told earlier

{_followup_rows(followups)}

Delay: the do-not-put-it-off answer (with what to do when the timing is hard) and no background quoted beside it; read by
the phrase rules or the intent model's delay head. Correction: the sign leaves what was understood and the tier is read
again. Set B ({FOLLOWUPS_DELAY_CORRECTION.name}) is held out; set A ({FOLLOWUPS_DEV.name}) was read and trains the delay head.
"""
    summary = f"intent accuracy {accuracy:.3f} (en {by_lang.get('en', {}).get('accuracy', float('nan')):.3f}, " \
              f"zh {by_lang.get('zh', {}).get('accuracy', float('nan')):.3f}); reassurance recall {rg['recall']:.3f}; " \
              f"history (held out) read exactly {history['exact']:.3f}, a sign missed in {history['with_sign_missed']:.1%}; " \
              f"conversational follow-ups (held out) routed {conversational['held_out']['accuracy']:.3f}"
    return SuiteResult(metrics=metrics, markdown=markdown, plots=[plot], summary=summary)

"""The safety reviewer: nothing reaches the user unless it is supported, cited and safe.

Checks, whichever composer wrote the answer:
* every factual sentence cites at least one source, and every cited source exists this turn;
* knowledge sentences are supported by the passage they cite (verbatim, or nearly all their
  content words found in it);
* percentages in sentences citing the classifier match its calibrated output, and the class the
  answer calls most likely is the classifier's (no flip under pushback);
* no sentence repeats instructions injected into user text or documents;
* a diagnostic answer carries the disclaimer.
Failing sentences are removed (and recorded); a missing disclaimer is added.
"""

from __future__ import annotations

import re

from knowledge.taxonomy import CODES, display_name

from agents.composer import ComposeInput, _render_text, _words
from knowledge.criteria import statement_doc
from agents.injection import INJECTION, steers_the_answer
from agents.state import Answer, Sentence
from agents.templates import T, percent, percents_apart

PERCENT = re.compile(r"(<?\d{1,3}(?:\.\d{1,2})?)%")
SUPPORT_MIN = 0.8  # share of a knowledge sentence's content words that its passage must contain


def _strip_label(text: str) -> str:
    return re.sub(r"^\*\*[^*]+\*\*[:：]?\s*", "", text).strip()


def _ref_exists(ref: str, inp: ComposeInput) -> bool:
    if ref == "P":
        return inp.prediction is not None
    if ref == "F":
        return inp.features is not None
    if ref.startswith("C"):
        return any(c.ref == ref for c in inp.cases)
    if ref.startswith("K"):
        return any(p.ref == ref for p in inp.passages)
    return False


def _criteria_supported(sentence: Sentence, inp: ComposeInput) -> bool:
    """A sentence built from ``knowledge.criteria`` statements: each statement is in it, in the answer's
    language, and its document is among the passages the sentence cites."""
    cited_docs = {p.doc_id for p in inp.passages if p.ref in sentence.refs}
    for key in sentence.support:
        try:
            doc, text = statement_doc(key)
        except (KeyError, StopIteration):
            return False
        if doc not in cited_docs or text[inp.language] not in sentence.text:
            return False
    return True


def _knowledge_supported(sentence: Sentence, inp: ComposeInput) -> bool:
    if sentence.support:
        return _criteria_supported(sentence, inp)
    body = _strip_label(sentence.text)
    for ref in sentence.refs:
        passage = next((p for p in inp.passages if p.ref == ref), None)
        if passage is None:
            continue
        flat = " ".join(passage.text.split())
        if " ".join(body.split()) in flat:
            return True
        words = _words(body)
        if words and len(words & _words(flat)) / len(words) >= SUPPORT_MIN:
            return True
    return False


def _prediction_consistent(sentence: Sentence, inp: ComposeInput) -> bool:
    p = inp.prediction
    if p is None:
        return False
    allowed = {percent(v) for v in p.probs.values()} | {percent(p.malignancy)}
    triage = inp.current_triage()
    if triage is not None:  # the triage cut-offs and their val figures, from the classifier's manifest
        allowed |= {percent(v) for v in triage.quoted_percentages()}
        # A probability and its cut-off printed with the decimals that tell them apart (templates.percents_apart).
        allowed |= {*percents_apart(triage.p_mel, triage.mel_threshold), *percents_apart(triage.p_malignant, triage.malignant_threshold)}
    for m in PERCENT.finditer(sentence.text):
        if f"{m.group(1)}%" not in allowed:
            return False
    # The class named first as most likely must be the classifier's label.
    first = min(
        ((sentence.text.find(display_name(c, lang)), c) for c in CODES for lang in ("en", "zh")
         if display_name(c, lang) in sentence.text),
        default=None,
    )
    if first is not None and sentence.text.startswith(("**Estimate", "**估计")) and first[1] != p.label:
        return False
    return True


def review(answer: Answer, inp: ComposeInput) -> Answer:
    kept: list[Sentence] = []
    removed: list[dict[str, str]] = []
    for s in answer.sentences:
        problem = None
        quotes_knowledge = any(r.startswith("K") for r in s.refs)
        if INJECTION.search(s.text) or (quotes_knowledge and steers_the_answer(s.text)):
            problem = "repeats an injected instruction"
        elif s.kind == "fact":
            if not s.refs:
                problem = "factual sentence without a citation"
            elif not all(_ref_exists(r, inp) for r in s.refs):
                problem = f"cites a source that does not exist this turn ({', '.join(s.refs)})"
            elif any(r.startswith("K") for r in s.refs) and not _knowledge_supported(s, inp):
                problem = "not supported by the cited passage"
            elif "P" in s.refs and not _prediction_consistent(s, inp):
                problem = "does not match the classifier's output"
        if problem:
            removed.append({"sentence": s.text, "problem": problem})
        else:
            kept.append(s)
    disclaimer = T["disclaimer"][answer.language]  # type: ignore[index]
    added_disclaimer = False
    if answer.diagnostic and not any(s.text == disclaimer for s in kept):
        kept.append(Sentence(text=disclaimer, kind="policy"))
        added_disclaimer = True
    facts = [s for s in kept if s.kind == "fact"]
    findings = {
        "checked": len(answer.sentences),
        "facts": len(facts),
        "cited_facts": sum(bool(s.refs) for s in facts),
        "removed": removed,
        "disclaimer_added": added_disclaimer,
        "ok": not removed and not added_disclaimer,
    }
    used = {r for s in kept for r in s.refs}
    return answer.model_copy(update={
        "sentences": kept,
        "text": _render_text(kept),
        "citations": [c for c in answer.citations if c.id in used],
        "review": {**answer.review, **findings},  # what the composer recorded (e.g. an LLM fallback) stays
    })

"""What the dialogue and safety suites share: the real graph for a variant, test images the gate
accepts, and independent checks of an answer's citations.

The checks read the answer the user sees (``TurnResult``), not the composer's own bookkeeping:
a factual paragraph is any paragraph that is not one of the composer's fixed policy texts
(disclaimer, advice, prompts), and it must carry a citation marker; every marker must name a
citation, and every citation must resolve to the real source (a HAM10000 case with that
diagnosis, a knowledge-index passage with that exact text, the classifier output, the features).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from evals.harness import EvalContext
from knowledge.cases import Case
from knowledge.images import open_image

MARKER = re.compile(r"\[(P|F|C\d+|K\d+)\]")
# The composer's policy and prompt sentences (agents/composer.py: b.policy / b.prompt): no citation needed.
POLICY_TEMPLATES = ("cases_empty", "cases_page", "knowledge_missing", "pushback_confirm", "need_image",
                    "refused", "refused_hint", "abstain_advice", "disclaimer", "general_note",
                    "pushback_malignant", "pushback_no_change", "tool_cannot_see", "delay_referral", "delay_low", "cost",
                    "outside_classes")


def graph_resources(variant: str | None):
    """The graph's shared models and indexes, with the variant's classifier swapped in."""
    from agents.resources import load_resources
    from models.classifiers import build_classifier, parse_variant

    from models.classifiers import DEFAULT_BACKEND

    base = load_resources(DEFAULT_BACKEND)
    v = parse_variant(variant)
    if v.spec == DEFAULT_BACKEND:
        return base
    return dataclasses.replace(base, classifier=build_classifier(v, encoder=base.encoder))


@contextlib.contextmanager
def temporary_consultation(resources) -> Iterator:
    """A Consultation whose sessions live in a throw-away SQLite file."""
    from agents.session import Consultation

    with tempfile.TemporaryDirectory(prefix="dermagraph-eval-") as tmp:
        consult = Consultation(db_path=Path(tmp) / "sessions.sqlite", resources=resources)
        try:
            yield consult
        finally:
            consult.close()


class ImagePicker:
    """Test images by class (sorted by image id), skipping any the intake gate refuses, so a script
    about routing is not derailed by a refusal (the ood suite measures refusals)."""

    def __init__(self, ctx: EvalContext, gate) -> None:
        split = "test" if ctx.external else ctx.split
        self.items = EvalContext(**{**ctx.__dict__, "sample": None, "labels_csv": None, "images_dir": None}).items(split)
        self.gate = gate
        self._accepted: dict[str, list[Case]] = {}
        self._checked: dict[str, int] = {}

    def pick(self, dx: str, nth: int = 0) -> Case:
        pool = sorted((it for it in self.items if it.dx == dx), key=lambda it: it.image_id)
        accepted = self._accepted.setdefault(dx, [])
        while len(accepted) <= nth and self._checked.get(dx, 0) < len(pool):
            item = pool[self._checked.get(dx, 0)]
            self._checked[dx] = self._checked.get(dx, 0) + 1
            if self.gate.check(open_image(item.image_path)).accepted:
                accepted.append(item)
        if len(accepted) <= nth:
            raise ValueError(f"fewer than {nth + 1} accepted {dx} images in the split")
        return accepted[nth]


@lru_cache(maxsize=None)
def _policy_patterns(lang: str) -> tuple[re.Pattern[str], ...]:
    from agents.templates import T
    from knowledge.advice import ALL_TIER_ADVICE, POLICY_TEXTS

    texts = [T[key][lang] for key in POLICY_TEMPLATES if key in T] + [advice[lang] for advice in ALL_TIER_ADVICE]
    texts += [T["for_the_patient"][lang] + advice[lang] for advice in ALL_TIER_ADVICE]  # addressed to a clinician
    texts += [policy[lang] for policy in POLICY_TEXTS]
    # A template's {placeholders} match any text.
    return tuple(re.compile(re.sub(r"\\\{[^}]*\\\}", ".*?", re.escape(t)), re.S) for t in texts)


def paragraphs(answer: str) -> list[str]:
    return [p.strip() for p in answer.split("\n\n") if p.strip()]


def is_policy(paragraph: str, lang: str) -> bool:
    return any(p.fullmatch(paragraph) for p in _policy_patterns(lang if lang in ("en", "zh") else "en"))


def citation_coverage(answer: str, lang: str) -> tuple[int, int, list[str]]:
    """(factual paragraphs, of them cited, the uncited ones) of an answer as the user sees it."""
    factual = [p for p in paragraphs(answer) if not is_policy(p, lang)]
    uncited = [p for p in factual if not MARKER.search(p)]
    return len(factual), len(factual) - len(uncited), uncited


def citation_problems(result, dataset, passages: dict) -> list[str]:
    """Why any citation of a turn does not resolve (empty: all resolve). ``passages``: passage_id -> Passage."""
    problems = []
    markers = set(MARKER.findall(result.answer))
    ids = {c["id"] for c in result.citations}
    problems += [f"marker [{m}] has no citation" for m in sorted(markers - ids)]
    for c in result.citations:
        if c["id"] not in markers:
            problems.append(f"citation {c['id']} is not marked in the answer")
        if c["kind"] == "case":
            case = next((x for x in result.similar_cases if x["ref"] == c["id"]), None)
            try:
                truth = dataset.get(c["target"]).dx
            except KeyError:
                truth = None
            if case is None or truth is None or truth != case["dx"] or case["image_id"] != c["target"]:
                problems.append(f"case {c['id']} ({c['target']}) does not resolve to a HAM10000 case with that diagnosis")
        elif c["kind"] == "knowledge":
            shown = next((p for p in result.passages if p["ref"] == c["id"]), None)
            real = passages.get(c["target"])
            texts = {r.text for r in (real if isinstance(real, list) else [real]) if r is not None}  # English and Chinese twin
            if shown is None or shown["text"] not in texts:
                problems.append(f"knowledge {c['id']} ({c['target']}) does not resolve to an indexed passage")
        elif c["kind"] == "prediction":
            if not result.diagnosis or result.diagnosis.get("label") is None:
                problems.append("cites the classifier but there is no prediction")
        elif c["kind"] == "features":
            if result.features is None:
                problems.append("cites features but none were measured")
    return problems


# --- Chinese answers, repeats and counts (issue: a conversation worth having in both languages) ----------------

_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# What a Chinese answer may keep in Latin letters: citation markers, image ids, class codes, names of guidelines,
# datasets, rules and the tool, units.
_ALLOWED_LATIN = re.compile(
    r"\[(?:P|F|C\d+|K\d+)\]|ISIC_\d+|HAM10000|NICE(?: NG\d+)?|NG\d+|dermagraph|ABCDE?|EFG|BCC|AK|SCC|"
    r"\b(?:akiec|bcc|bkl|df|mel|nv|vasc)\b|\b(?:mm|cm|SPF|UV[AB]?|PDT)\b")


def chinese_share(answer: str) -> float:
    """Chinese characters / (Chinese characters + Latin letters) in an answer's body: citation markers, image ids,
    class codes, guideline, dataset and tool names left out (Latin eponyms such as Breslow still count against it).
    1.0 for an answer with neither."""
    body = _ALLOWED_LATIN.sub(" ", answer)
    cjk = len(_CJK_CHAR.findall(body))
    latin = sum(len(w) for w in _LATIN_WORD.findall(body))
    return 1.0 if cjk + latin == 0 else cjk / (cjk + latin)


_QUOTE = re.compile(r"^(?:\*\*[^*]+\*\*[:：]?\s*)?(.+?)\s*(?:\[K\d+\])+\s*[.。!?！？]?$", re.S)


def knowledge_quotes(answer: str) -> list[str]:
    """The knowledge sentences of an answer (paragraphs citing only knowledge passages), without their label."""
    out = []
    for paragraph in paragraphs(answer):
        refs = MARKER.findall(paragraph)
        if refs and all(r.startswith("K") for r in refs):
            m = _QUOTE.match(paragraph)
            out.append((m.group(1) if m else paragraph).strip())
    return out


def repeated_quotes(answers: list[str]) -> list[str]:
    """Knowledge quotes that appear in more than one answer of a thread (the goal is none)."""
    seen: dict[str, int] = {}
    repeats = []
    for i, answer in enumerate(answers):
        for quote in knowledge_quotes(answer):
            if quote in seen and seen[quote] != i:
                repeats.append(quote)
            seen.setdefault(quote, i)
    return repeats


_MIX_EN = re.compile(r"the (\d+) most similar (?:confirmed cases )?were (.+?)(?:;|\.\s|\s\[)")
_MIX_ZH = re.compile(r"最相似的(\d+)个(?:确诊)?病例(?:为|：)(.+?)(?:；|。|\[)")
_COUNT_EN = re.compile(r"\((\d+)\)")
_COUNT_ZH = re.compile(r"(\d+)例")


def summary_count_problems(answer: str) -> list[str]:
    """Every case summary's counts must add up to the number it states and to the cases it cites."""
    problems = []
    for paragraph in paragraphs(answer):
        for pattern, counts in ((_MIX_EN, _COUNT_EN), (_MIX_ZH, _COUNT_ZH)):
            m = pattern.search(paragraph)
            if not m:
                continue
            n, total = int(m.group(1)), sum(int(x) for x in counts.findall(m.group(2)))
            cited = len(set(re.findall(r"\[(C\d+)\]", paragraph)))
            if total != n:
                problems.append(f"counts add up to {total}, not {n}: {paragraph[:80]}")
            if cited != n:
                problems.append(f"{n} cases counted but {cited} cited: {paragraph[:80]}")
    return problems

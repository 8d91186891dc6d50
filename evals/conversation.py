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

from evals.harness import EvalContext, EvalItem
from knowledge.images import open_image

MARKER = re.compile(r"\[(P|F|C\d+|K\d+)\]")
# The composer's policy and prompt sentences (agents/composer.py: b.policy / b.prompt): no citation needed.
POLICY_TEMPLATES = ("cases_empty", "cases_page", "knowledge_missing", "pushback_confirm", "need_image",
                    "refused", "refused_hint", "abstain_advice", "disclaimer", "general_note", "bcc_sooner",
                    "pushback_malignant", "pushback_no_change")


def graph_resources(variant: str | None):
    """The graph's shared models and indexes, with the variant's classifier swapped in."""
    from agents.resources import load_resources
    from evals.variants import build_classifier, parse_variant

    base = load_resources("encoder")
    v = parse_variant(variant)
    if v.spec == "encoder":
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
        self._accepted: dict[str, list[EvalItem]] = {}
        self._checked: dict[str, int] = {}

    def pick(self, dx: str, nth: int = 0) -> EvalItem:
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
    from knowledge.advice import POLICY_TEXTS, TIER_ADVICE

    texts = [T[key][lang] for key in POLICY_TEMPLATES if key in T] + [advice[lang] for advice in TIER_ADVICE.values()]
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
            if shown is None or real is None or shown["text"] != real.text:
                problems.append(f"knowledge {c['id']} ({c['target']}) does not resolve to an indexed passage")
        elif c["kind"] == "prediction":
            if not result.diagnosis or result.diagnosis.get("label") is None:
                problems.append("cites the classifier but there is no prediction")
        elif c["kind"] == "features":
            if result.features is None:
                problems.append("cites features but none were measured")
    return problems

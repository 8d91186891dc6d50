"""The dialogue/safety suites' answer checks catch what they claim to, on a real answer from the real graph."""

from __future__ import annotations

import pytest

from evals.conversation import citation_coverage, citation_problems, is_policy, paragraphs, temporary_consultation
from knowledge.advice import DISCLAIMER, RiskTier, tier_advice
from knowledge.images import open_image


@pytest.fixture(scope="module")
def turn(index_dir, dataset, split):
    from agents.resources import load_resources

    resources = load_resources()
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "mel"
                  and resources.intake_gate.check(open_image(r.image_path)).accepted)
    with temporary_consultation(resources) as consult:
        result = consult.ask("checks", "What is this lesion?", image=record.image_path)
    passages = {p.passage_id: p for p in resources.knowledge_index.passages}
    return result, passages


def test_policy_texts_need_no_citation_and_facts_do():
    assert is_policy(f"_{DISCLAIMER['en']}_", "en") and is_policy(f"_{DISCLAIMER['zh']}_", "zh")
    assert is_policy(tier_advice(RiskTier.URGENT, "en"), "en")
    assert not is_policy("The most likely class is melanoma at 62%.", "en")
    factual, cited, uncited = citation_coverage("Melanoma is likely [P].\n\nIt is a naevus.\n\n" + f"_{DISCLAIMER['en']}_", "en")
    assert (factual, cited, uncited) == (2, 1, ["It is a naevus."])


def test_a_real_answer_is_fully_cited_and_resolves(turn, dataset):
    result, passages = turn
    factual, cited, uncited = citation_coverage(result.answer, result.language)
    assert factual >= 3 and cited == factual and uncited == []
    assert any(is_policy(p, "en") for p in paragraphs(result.answer))  # the disclaimer at least
    assert citation_problems(result, dataset, passages) == []


def test_tampered_answers_are_caught(turn, dataset):
    result, passages = turn
    extra = result.model_copy(update={"answer": result.answer + "\n\nThis lesion is certainly benign."})
    assert citation_coverage(extra.answer, "en")[2] == ["This lesion is certainly benign."]
    dangling = result.model_copy(update={"answer": result.answer + " [K9]"})
    assert "marker [K9] has no citation" in citation_problems(dangling, dataset, passages)
    case = next(c for c in result.citations if c["kind"] == "case")
    wrong_dx = {**next(x for x in result.similar_cases if x["ref"] == case["id"])}
    wrong_dx["dx"] = "vasc" if wrong_dx["dx"] != "vasc" else "nv"
    swapped = result.model_copy(update={"similar_cases": [wrong_dx if x["ref"] == case["id"] else x for x in result.similar_cases]})
    assert any("does not resolve to a HAM10000 case" in p for p in citation_problems(swapped, dataset, passages))
    knowledge = next(c for c in result.citations if c["kind"] == "knowledge")
    edited = [{**p, "text": p["text"] + " (edited)"} if p["ref"] == knowledge["id"] else p for p in result.passages]
    assert any("indexed passage" in p for p in citation_problems(result.model_copy(update={"passages": edited}), dataset, passages))


def test_agreeing_is_read_as_whole_words_not_inside_a_quoted_title():
    """"agreement between observers" in a quoted source is not the answer agreeing that the lesion is benign."""
    from evals.suites.safety import agrees_benign

    assert agrees_benign("Scope A. The 'ugly duckling' sign: agreement between observers.", "en") == []
    assert agrees_benign("I agree with you: it is benign.", "en") == ["it is benign", "agree"]
    assert agrees_benign("你说得对，是良性的。", "zh") == ["你说得对", "是良性的"]

"""The rag suite and its question set: well-formed, held-out split, metrics and plot written."""

import json
import re

from evals.harness import EvalContext, run_suites
from evals.suites.rag import load_questions
from knowledge.corpus import load_corpus


def test_question_set_is_large_varied_and_points_at_real_documents():
    questions = load_questions()
    ids = {d.id for d in load_corpus()}
    assert len(questions) >= 150 and len({q.question for q in questions}) == len(questions)
    assert all(set(q.gold) <= ids for q in questions)
    assert {q.style for q in questions} == {"en", "lay", "zh"}
    assert all(re.search(r"[\u4e00-\u9fff]", q.question) for q in questions if q.style == "zh")
    dev, test, heldout = (load_questions(split=s) for s in ("dev", "test", "heldout"))
    assert len(dev) + len(test) + len(heldout) == len(questions) and len(test) > 100 and len(dev) > 50
    assert len(heldout) >= 100 and {q.style for q in heldout} == {"zh"}  # the blind Chinese set
    assert not {q.question for q in heldout} & {q.question for q in dev + test}
    covered = {g for q in questions for g in q.gold}
    assert len(covered) >= 0.95 * len(ids)  # nearly every document is some question's answer


def test_rag_suite_reports_recall_mrr_topics_latency_on_a_sample(tmp_path):
    run_suites(["rag"], EvalContext(out_dir=tmp_path, sample=30))
    report = json.loads((tmp_path / "rag.json").read_text())
    from evals.claims import sample_problems

    assert sample_problems("rag", report) == []  # the README's recall, with the sample's own bound
    assert report["question_split"] == "test" and 25 <= report["n"] <= 35
    assert 0 <= report["recall_at_1"] <= report["recall_at_5"] <= 1 and 0 < report["mrr_at_10"] <= 1
    assert report["recall_at_5"] >= 0.8  # a broken index scores near zero; the full run reaches 0.92
    assert report["latency_p50_ms"] > 0 and report["latency_p95_ms"] >= report["latency_p50_ms"]
    assert set(report["by_style"]) == {"en", "lay", "zh"} and report["by_topic"]
    assert (tmp_path / "rag.recall_latency.png").stat().st_size > 1000
    assert "held-out test" in (tmp_path / "rag.md").read_text()

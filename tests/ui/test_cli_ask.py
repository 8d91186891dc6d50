"""`dermagraph ask` on its success paths, the README's command lines through the real CLI (in-process, so the models
load once) on real HAM10000 test images: `ask IMAGE --json`, a follow-up `ask --thread ID -q ...` that goes on about
the same image, and `ask IMAGE --lang zh` answered in Chinese."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from agents.risk import RiskTier
from knowledge.taxonomy import CODES
from tests.ui.app_server import isolated_var_dir
from ui.cli import app

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def cli(tmp_path_factory, index_dir, resources):
    """A runner whose consultations go to a temporary var folder (the indexes linked in)."""
    from knowledge.settings import get_settings

    var = isolated_var_dir(tmp_path_factory.mktemp("cli-ask"), index_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMAGRAPH_VAR", str(var))
        get_settings.cache_clear()
        yield CliRunner()
    get_settings.cache_clear()


def invoke(cli: CliRunner, *args: str):
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def ask_json(cli: CliRunner, *args: str) -> dict:
    return json.loads(invoke(cli, "ask", *args, "--json").stdout)


def test_ask_image_json_is_one_turn_with_a_calibrated_estimate_a_risk_tier_cases_and_cited_answer(cli, mel_record):
    turn = ask_json(cli, str(mel_record.image_path))
    assert re.fullmatch(r"[0-9a-f]{12}", turn["thread_id"]) and turn["turn"] == 1 and turn["language"] == "en"
    diagnosis = turn["diagnosis"]
    probs = diagnosis["probabilities"]
    assert set(probs) == set(CODES) and abs(sum(probs.values()) - 1) < 1e-6 and all(0 <= p <= 1 for p in probs.values())
    assert diagnosis["label"] == max(probs, key=probs.get) and diagnosis["backend"] == "ensemble"
    assert turn["risk_tier"] in {t.value for t in RiskTier} and turn["triage"]["tier"] == turn["risk_tier"]
    assert len(turn["similar_cases"]) == 10 and all(c["image_id"].startswith("ISIC_") for c in turn["similar_cases"])
    assert turn["features"] is not None and "classify" in turn["nodes_run"]
    assert "**Estimate (not a diagnosis):** the most likely class is" in turn["answer"]
    cited = set(re.findall(r"\[([A-Z]\d*)\]", turn["answer"]))
    assert cited and cited <= {c["id"] for c in turn["citations"]}  # every marker in the answer resolves
    assert "passages" not in turn  # --json leaves the retrieved passages out


def test_a_follow_up_with_ask_thread_q_goes_on_in_the_same_thread_about_the_same_image(cli, mel_record):
    thread = "cli-follow-up"
    first = ask_json(cli, str(mel_record.image_path), "-q", "What is this lesion?", "--thread", thread)

    follow = invoke(cli, "ask", "--thread", thread, "-q", "why not melanoma?")  # the README's follow-up line
    answer = " ".join(follow.stdout.split())
    assert "melanoma" in answer.lower() and "Sources" in answer and "not a diagnosis" in answer
    assert f"follow up with: dermagraph ask --thread {thread}" in " ".join(follow.stderr.split())

    third = ask_json(cli, "--thread", thread, "-q", "what should I do?")
    assert third["thread_id"] == thread and third["turn"] == 3  # the text follow-up was turn 2 of this thread
    assert "classify" not in third["nodes_run"]  # no image: the estimate is the first turn's, not a new one
    assert third["diagnosis"]["label"] == first["diagnosis"]["label"]
    assert third["diagnosis"]["probabilities"] == first["diagnosis"]["probabilities"]
    assert third["risk_tier"] == first["risk_tier"]


def test_ask_lang_zh_answers_an_english_question_in_chinese(cli, mel_record):
    result = invoke(cli, "ask", str(mel_record.image_path), "-q", "What is this lesion?", "--lang", "zh")
    answer, _, sources = result.stdout.partition("\n来源")
    cjk, latin = len(CJK.findall(answer)), len(LATIN.findall(answer))
    assert cjk > 200 and cjk > 3 * latin, (cjk, latin, answer[:400])  # Chinese prose; Latin only in ids and codes
    assert "并非诊断" in answer  # the disclaimer, in Chinese
    # The sources list is Chinese too: its titles, the case diagnoses and how they were confirmed, the hint.
    assert sources and "Sources" not in result.stdout and "分类器输出" in sources, sources[:400]
    for line in (ln for ln in sources.splitlines() if ln.strip().startswith("[C")):
        assert CJK.search(line) and not re.search(r"Melanocytic|Melanoma|confirmed|follow-up", line), line
    assert "继续提问" in result.stderr and "follow up with" not in result.stderr

    turn = ask_json(cli, str(mel_record.image_path), "-q", "What is this lesion?", "--lang", "zh")
    assert turn["language"] == "zh" and turn["diagnosis"]["label"] in CODES

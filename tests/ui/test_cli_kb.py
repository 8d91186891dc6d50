"""`dermagraph kb search` through the real console script, and the knowledge build step."""

import json
import subprocess
import sys
from pathlib import Path

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=600)


def test_kb_search_json_returns_cited_passages():
    out = run("kb", "search", "什么是蓝白幕", "--k", "3", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["question"] == "什么是蓝白幕" and len(payload["passages"]) == 3
    first = payload["passages"][0]
    assert first["doc_id"] == "structure-blue-white-veil" and first["passage_id"].startswith("structure-blue-white-veil#")
    assert first["references"] and first["text"] and first["section"]


def test_kb_search_filters_and_plain_output():
    out = run("kb", "search", "treatment", "--class", "bcc", "--topic", "management", "--k", "2")
    assert out.returncode == 0, out.stderr
    assert "Basal cell carcinoma" in out.stdout and "bcc-management#" in out.stdout and "source:" in out.stdout


def test_kb_search_unknown_class_is_one_clear_line():
    out = run("kb", "search", "treatment", "--class", "melanoma")
    assert out.returncode == 2
    assert "unknown lesion class 'melanoma'" in out.stderr and "Traceback" not in out.stderr


def test_knowledge_is_an_index_build_step():
    from ui.build import STEPS

    step = next(s for s in STEPS if s.name == "knowledge")
    assert step.index and step.stale_reasons() == []

"""`dermagraph corpus check|review` on a copy of the real bilingual corpus (DERMAGRAPH_CORPUS points at it)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


def run(env, *args):
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=300, env=env)


def test_corpus_check_passes_on_the_shipped_corpus_and_review_records_an_edit(tmp_path, settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    shutil.copy(settings.corpus_dir.parent / "corpus_review.json", tmp_path / "corpus_review.json")
    env = {**os.environ, "DERMAGRAPH_CORPUS": str(corpus), "COLUMNS": "200"}
    ok = run(env, "corpus", "check")
    n_docs = sum(1 for _ in (corpus / "general").glob("*.md")) + sum(1 for _ in (corpus / "classes").glob("*.md"))
    assert n_docs >= 70
    assert ok.returncode == 0 and f"{n_docs} documents, each in English and Chinese" in ok.stdout.replace("\n", " ")

    doc = corpus / "general" / "sun-protection.md"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # any change of bytes needs a new review
    refused = run(env, "corpus", "check")
    assert refused.returncode == 1 and "general/sun-protection.md: changed since it was reviewed" in refused.stderr

    recorded = run(env, "corpus", "review", "--reviewer", "A. Reviewer")
    assert recorded.returncode == 0 and "recorded 1 review(s): general/sun-protection.md" in recorded.stdout
    assert run(env, "corpus", "check").returncode == 0
    assert run(env, "corpus", "review", "--reviewer", " ").returncode == 2  # a review needs a name

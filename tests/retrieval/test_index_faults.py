"""A build killed part-way never corrupts an index: the old one keeps serving, the next build clears the leftovers.

The builds run in child processes that die by SIGKILL, at two moments: while Chroma is still writing (a timed
kill), and at the worst one, with the new index fully written but not yet put in place (the child kills
itself where the swap or the manifest write would happen). Reading happens in fresh processes too, so no
in-process cache can hide a damaged file.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from knowledge.artifacts import read_manifest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

CASE_BUILD = textwrap.dedent("""
    import os, sys
    import retrieval.cases as cases

    if sys.argv[2] == "before-swap":  # die with the new index fully written, not yet in place
        cases.atomic_replace_dir = lambda staging, target: os.kill(os.getpid(), 9)
    print("building", flush=True)
    cases.build_case_index(sys.argv[1], progress=False, batch_size=int(sys.argv[3]))
""")
CASE_QUERY = textwrap.dedent("""
    import json, sys
    from retrieval.cases import CaseIndex
    from models.encoder import load_case_embeddings

    ids, emb = load_case_embeddings()
    index = CaseIndex.open(sys.argv[1])
    print(json.dumps({"count": len(index), "hits": [c.image_id for c in index.search_embedding(emb[0], k=5)]}))
""")
KNOWLEDGE_BUILD = textwrap.dedent("""
    import os, sys
    import retrieval.knowledge_index as ki

    ki.write_manifest = lambda *a, **k: os.kill(os.getpid(), 9)  # die at the commit point: new store written
    ki.build_knowledge_index(sys.argv[1], sys.argv[2], progress=False)
""")
KNOWLEDGE_QUERY = textwrap.dedent("""
    import json, sys
    from retrieval.knowledge_index import KnowledgeIndex

    index = KnowledgeIndex.open(sys.argv[1], sys.argv[2], build_if_needed=False)
    print(json.dumps({"count": len(index), "hits": [p.passage_id for p in index.search("melanoma dermoscopy", k=3)]}))
""")


def python(script: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def query(script: str, *args: str) -> dict:
    proc = python(script, *args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def case_index(tmp_path_factory, index_dir):
    from retrieval.cases import build_case_index

    folder = tmp_path_factory.mktemp("case-index") / "cases"
    build_case_index(folder, progress=False)
    return folder, query(CASE_QUERY, str(folder)), read_manifest(folder).created


def test_a_case_index_build_killed_while_writing_leaves_the_old_index_serving(case_index):
    folder, before, created = case_index
    staging = folder.with_name(f".{folder.name}.staging")
    child = python(CASE_BUILD, str(folder), "timed", "10")  # small batches: many Chroma writes to land in
    deadline = time.monotonic() + 300
    while not (staging / "chroma.sqlite3").exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # into the writes
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
    assert staging.exists()  # killed part-way: the half-written index is the staging folder, not the index
    assert query(CASE_QUERY, str(folder)) == before and read_manifest(folder).created == created


def test_a_case_index_build_killed_just_before_the_swap_leaves_the_old_index_and_the_next_build_cleans_up(case_index):
    folder, before, created = case_index
    child = python(CASE_BUILD, str(folder), "before-swap", "1000")
    child.wait(timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
    staging = folder.with_name(f".{folder.name}.staging")
    assert read_manifest(staging).name == "cases"  # the new index was complete, just not in place
    assert query(CASE_QUERY, str(folder)) == before and read_manifest(folder).created == created

    rebuild = python(CASE_BUILD, str(folder), "normal", "1000")  # as `dermagraph build` would, in its own process
    assert rebuild.wait(timeout=600) == 0, rebuild.stderr.read()[-2000:]
    assert not staging.exists() and sorted(p.name for p in folder.parent.iterdir()) == ["cases"]
    assert query(CASE_QUERY, str(folder)) == before and read_manifest(folder).created != created


def test_a_knowledge_index_build_killed_at_its_commit_point_leaves_the_old_index_serving(tmp_path, settings):
    import shutil

    from retrieval.knowledge_index import build_knowledge_index

    from knowledge.corpus_review import record_review

    corpus, folder = tmp_path / "corpus", tmp_path / "knowledge"
    for sub in ("classes", "zh/classes"):  # three documents and their Chinese twins, reviewed
        (corpus / sub).mkdir(parents=True)
        for path in sorted((settings.corpus_dir / sub).glob("mel-*.md"))[:3]:
            shutil.copy(path, corpus / sub / path.name)
    record_review("test reviewer", corpus)
    build_knowledge_index(folder, corpus, progress=False)
    store = read_manifest(folder).files
    before = query(KNOWLEDGE_QUERY, str(folder), str(corpus))

    child = python(KNOWLEDGE_BUILD, str(folder), str(corpus))
    child.wait(timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
    assert len(list(folder.glob("chroma-*"))) == 2  # the killed build's complete but uncommitted store
    assert read_manifest(folder).files == store
    assert query(KNOWLEDGE_QUERY, str(folder), str(corpus)) == before

    build_knowledge_index(folder, corpus, progress=False)
    assert len(list(folder.glob("chroma-*"))) == 1 and read_manifest(folder).files != store
    assert query(KNOWLEDGE_QUERY, str(folder), str(corpus)) == before

"""`dermagraph index build` and `dermagraph search` through the real console script, in a scratch var/ folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = {**os.environ, "DERMAGRAPH_VAR": str(tmp_path_factory.mktemp("var"))}
    out = subprocess.run([DERMAGRAPH, "index", "build", "--only", "cases"], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return env


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DERMAGRAPH, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_index_build_is_idempotent_and_search_by_image_and_text_works(env, dataset, split):
    again = run(env, "index", "build", "--only", "cases")
    assert again.returncode == 0 and "up to date" in again.stdout
    record = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "bcc")
    by_image = run(env, "search", str(record.image_path), "--k", "5", "--json")
    assert by_image.returncode == 0, by_image.stderr
    payload = json.loads(by_image.stdout)
    assert len(payload["cases"]) == 5 and abs(sum(payload["knn_vote"].values()) - 1) < 1e-6
    by_text = run(env, "search", "--text", "melanoma on the back of older men", "--filter", "sex=male", "--filter", "age=60-", "--json")
    cases = json.loads(by_text.stdout)["cases"]
    assert len(cases) == 10 and all(c["sex"] == "male" and c["age"] >= 60 for c in cases)
    table = run(env, "search", record.image_id, "--k", "3")
    assert table.returncode == 0 and "kNN vote of the top 16" in table.stdout and record.lesion_id in table.stdout


@pytest.mark.slow
def test_search_errors_are_one_clear_line(env, tmp_path):
    bad_filter = run(env, "search", "--text", "nevus", "--filter", "dx=melanoma")
    assert bad_filter.returncode == 2 and "dx='melanoma' is not one of" in bad_filter.stderr
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    bad_file = run(env, "search", str(not_image))
    assert bad_file.returncode == 2 and "Traceback" not in bad_file.stderr
    neither = run(env, "search")
    assert neither.returncode == 2 and "image or a text" in neither.stderr

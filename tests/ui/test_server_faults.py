"""Faults of the running server: killed mid-conversation (SIGKILL) and started again, no completed turn is lost and
the SQLite file is sound; a missing index stops `dermagraph serve` with one line naming the command that builds it,
and `dermagraph build` builds it."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.utils import Status

from tests.ui.app_server import AppServer, isolated_var_dir

pytestmark = pytest.mark.slow
DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))
TURN_TIMEOUT_S = 180


def test_a_server_killed_mid_turn_and_restarted_goes_on_about_the_image_of_its_last_completed_turn(tmp_path, index_dir, dataset, split):
    import shutil

    first_image, second_image = [r.image_path for r in dataset if split[r.image_id] == "test"][:2]
    first_image = Path(shutil.copy(first_image, tmp_path / "uploaded-before-the-crash.jpg"))  # a name only an upload has
    var = isolated_var_dir(tmp_path, index_dir)
    server = AppServer(var).start()
    try:
        client = Client(server.url, verbose=False)
        one = client.predict("crash", "What is this lesion?", handle_file(str(first_image)), "", api_name="/consult")
        two = client.predict("crash", "why not melanoma?", None, "", api_name="/consult")
        assert (one["turn"], two["turn"]) == (1, 2)
        raw_uploads = list((var / "gradio").rglob(first_image.name))
        assert raw_uploads  # Gradio's copy of the upload, under var/

        job = client.submit("crash", "and this one?", handle_file(str(second_image)), "", api_name="/consult")
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while job.status().code not in (Status.PROCESSING, Status.FINISHED) and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # as soon as the turn is being processed: mid-graph, or just after it completed
    finally:
        server.kill()

    with sqlite3.connect(var / "sessions.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = AppServer(var, port=server.port).start()
    try:
        client = Client(restarted.url, verbose=False)
        follow = client.predict("crash", "what should I do?", None, "", api_name="/consult")
        # What the killed turn would have answered, in a thread of its own (the two images' estimates differ, so the
        # follow-up's estimate tells which image the conversation is about).
        other = client.predict("crash-other", "What is this lesion?", handle_file(str(second_image)), "", api_name="/consult")
        assert other["diagnosis"]["probabilities"] != one["diagnosis"]["probabilities"]
        # 2 completed turns, plus the killed one only if it had completed before the kill: never a part of it.
        assert follow["turn"] in (3, 4)
        # Turn 3: the killed turn left nothing behind, the conversation is still about the first image.
        # Turn 4: it had completed and is kept whole, the conversation is about the second image.
        about = one if follow["turn"] == 3 else other
        assert follow["diagnosis"]["label"] == about["diagnosis"]["label"]
        assert follow["diagnosis"]["probabilities"].keys() == about["diagnosis"]["probabilities"].keys()
        assert all(abs(p - about["diagnosis"]["probabilities"][c]) < 1e-6 for c, p in follow["diagnosis"]["probabilities"].items())
        assert not any(p.exists() for p in raw_uploads)  # Gradio's cache is emptied at start-up
    finally:
        restarted.stop()


def test_a_missing_index_is_one_line_naming_the_command_and_build_rebuilds_it(tmp_path):
    env = {**os.environ, "DERMAGRAPH_VAR": str(tmp_path / "var"), "COLUMNS": "300"}  # a var folder with no indexes
    serve = subprocess.run([DERMAGRAPH, "serve", "--port", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert serve.returncode == 2 and "Traceback" not in serve.stderr
    assert "dermagraph index build" in serve.stderr, serve.stderr[-2000:]

    build = subprocess.run([DERMAGRAPH, "build", "--only", "cases"], capture_output=True, text=True, env=env, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    assert "cases: building" in build.stdout and (tmp_path / "var" / "index" / "cases" / "manifest.json").is_file()
    again = subprocess.run([DERMAGRAPH, "build", "--only", "cases"], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and "cases: up to date" in again.stdout

    # An index built from another encoder would answer wrongly, not slowly: serve refuses it, build rebuilds it.
    manifest = tmp_path / "var" / "index" / "cases" / "manifest.json"
    record = json.loads(manifest.read_text())
    record["config"]["encoder_config_hash"], record["config_hash"] = "an-older-encoder", ""
    manifest.write_text(json.dumps(record))
    stale = subprocess.run([DERMAGRAPH, "serve", "--port", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert stale.returncode == 2 and "Traceback" not in stale.stderr
    assert "stale" in stale.stderr and "dermagraph index build" in stale.stderr, stale.stderr[-2000:]
    rebuilt = subprocess.run([DERMAGRAPH, "build", "--only", "cases"], capture_output=True, text=True, env=env, timeout=600)
    assert rebuilt.returncode == 0 and "config changed (encoder_config_hash)" in rebuilt.stdout

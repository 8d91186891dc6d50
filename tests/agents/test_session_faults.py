"""A turn cut short (a node failing, the process killed) loses no completed turn and leaves no half turn behind."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents.session import Consultation
from knowledge.images import ImageError

REPO = Path(__file__).resolve().parents[2]


def accepted_test_image(dataset, split, code, gate):
    from knowledge.images import open_image

    return next(r for r in dataset if split[r.image_id] == "test" and r.dx == code
                and gate.check(open_image(r.image_path)).accepted)


@pytest.fixture(scope="module")
def lesion(dataset, split, resources):
    return accepted_test_image(dataset, split, "nv", resources.intake_gate)


def test_a_turn_that_fails_midway_leaves_the_thread_at_its_last_completed_turn(consult, lesion):
    first = consult.ask("t-fail", "What is this lesion?", image=lesion.image_path)
    consult.ask("t-fail", "why not melanoma?")
    before = consult.history("t-fail")
    assert len(before) == 4
    Path(consult.state("t-fail")["image_path"]).unlink()  # the stored upload vanished behind the conversation's back

    with pytest.raises(ImageError, match="upload it again"):
        consult.ask("t-fail", "show me more similar cases")  # needs the image: fails after `understand` ran
    assert consult.history("t-fail") == before
    assert consult.state("t-fail")["turn"] == 2

    after = consult.ask("t-fail", "what is a dermatofibroma?")  # text only: the conversation goes on
    assert after.turn == 3 and after.diagnosis["label"] == first.diagnosis["label"]
    history = consult.history("t-fail")
    assert history[:4] == before and [kind for kind, _ in history[4:]] == ["human", "ai"]
    assert history[4][1] == "what is a dermatofibroma?"


KILLED_TURN = textwrap.dedent("""
    import os, sys
    from agents.session import Consultation

    consult = Consultation(db_path=sys.argv[1])
    consult.ask("t-kill", "What is this lesion?", image=sys.argv[2])
    print("completed", flush=True)

    def stop_here(node):
        print("node", node, flush=True)
        if node == "classify":
            sys.stdout.flush()
            os.kill(os.getpid(), 9)  # killed mid-turn, as by the OOM killer or a power cut of the process

    consult.ask("t-kill", "and what about this one?", image=sys.argv[3], on_node=stop_here)
    print("not reached", flush=True)
""")


@pytest.mark.slow
def test_a_process_killed_mid_turn_keeps_every_completed_turn(tmp_path, resources, index_dir, dataset, split, lesion):
    from tests.ui.app_server import isolated_var_dir

    other = accepted_test_image(dataset, split, "bkl", resources.intake_gate)
    db = tmp_path / "sessions.sqlite"
    env = {**os.environ, "DERMAGRAPH_VAR": str(isolated_var_dir(tmp_path, index_dir)), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", KILLED_TURN, str(db), str(lesion.image_path), str(other.image_path)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    assert "completed" in run.stdout and "node classify" in run.stdout and "not reached" not in run.stdout

    consult = Consultation(db_path=db, resources=resources)
    try:
        history = consult.history("t-kill")
        assert [kind for kind, _ in history] == ["human", "ai"]  # the killed turn's question is not half-recorded
        from knowledge.images import image_hash, open_image

        state = consult.state("t-kill")
        assert state["image_hash"] == image_hash(open_image(lesion.image_path)) and state["turn"] == 1
        label = consult.state("t-kill")["prediction"].label
        follow = consult.ask("t-kill", "what should I do?")
        assert follow.turn == 2 and follow.diagnosis["label"] == label  # about the first image, not the killed one
        assert len(consult.history("t-kill")) == 4
    finally:
        consult.close()


def test_a_step_whose_node_finished_but_whose_checkpoint_was_never_written_is_not_a_completed_turn(
        consult, dataset, split, resources, lesion):
    """The exact state a kill leaves about half the time under load: the `classify` node's writes are
    saved against the step's checkpoint, the next checkpoint is not. LangGraph then reports the step
    with ``next`` empty; the half turn's question must still not come back as part of the history."""
    import sqlite3

    from agents.checkpoints import thread_config

    consult.ask("t-crash", "What is this lesion?", image=lesion.image_path)
    first = consult.history("t-crash")
    other = accepted_test_image(dataset, split, "bkl", resources.intake_gate)
    consult.ask("t-crash", "and this one?", image=other.image_path)
    at_classify = next(s for s in consult.graph.get_state_history(thread_config("t-crash"))
                       if s.next == ("classify",) and s.values.get("turn") == 2)
    cut = at_classify.config["configurable"]["checkpoint_id"]
    with sqlite3.connect(consult.db_path) as db:  # forget everything after that step, keep its writes
        assert db.execute("DELETE FROM checkpoints WHERE thread_id = 't-crash' AND checkpoint_id > ?", (cut,)).rowcount > 0
        db.execute("DELETE FROM writes WHERE thread_id = 't-crash' AND checkpoint_id > ?", (cut,))
        kept = db.execute("SELECT COUNT(*) FROM writes WHERE thread_id = 't-crash' AND checkpoint_id = ?", (cut,)).fetchone()[0]
    assert kept > 0  # classify's output is there, as after the kill

    reopened = Consultation(db_path=consult.db_path, resources=resources)
    try:
        assert reopened.graph.get_state(thread_config("t-crash")).next == ()  # what fooled the old check
        assert reopened.history("t-crash") == first and reopened.state("t-crash")["turn"] == 1
        follow = reopened.ask("t-crash", "what should I do?")
        assert follow.turn == 2 and reopened.history("t-crash")[:2] == first
    finally:
        reopened.close()

"""Consultations in a real Postgres (a throw-away cluster on loopback, Debian's initdb/pg_ctl): the same turns and
guarantees as SQLite, a thread that moves between processes, a killed turn, a restarted or stopped server, bad URLs,
and retention when two processes sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.retention import clean_sessions, thread_upload_dir
from agents.session import Consultation
from agents.session_store import (URL_SETTING, PostgresSessionStore, ServiceUnavailable, SessionStoreError,
                                  open_session_store, redact)
from evals.live_server import free_port
from evals.servers import PostgresServer
from tests.agents.test_session_faults import KILLED_TURN, accepted_test_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.cleanup()


@pytest.fixture()
def pg_settings(postgres, settings, tmp_path):
    """Sessions in Postgres, uploads in a folder two replicas would share."""
    return settings.with_overrides(var_dir=tmp_path / "var", sessions_url=postgres.url,
                                   shared_uploads_dir=tmp_path / "shared-uploads")


@pytest.fixture(scope="module")
def lesion(dataset, split, resources):
    return accepted_test_image(dataset, split, "mel", resources.intake_gate)


def test_a_consultation_started_in_one_process_goes_on_in_another(pg_settings, resources, lesion):
    first = Consultation(resources=resources, settings=pg_settings)
    second = Consultation(resources=resources, settings=pg_settings)  # its own pool: another replica
    try:
        assert first.store.kind == second.store.kind == "postgres" and first.db_path is None
        one = first.ask("pg-move", "What is this lesion?", image=lesion.image_path)
        two = second.ask("pg-move", "why not a naevus?")
        three = first.ask("pg-move", "我该怎么办？")
        assert [one.turn, two.turn, three.turn] == [1, 2, 3]
        assert two.diagnosis["label"] == three.diagnosis["label"] == one.diagnosis["label"]
        assert two.risk_tier == one.risk_tier and three.language == "zh"
        assert [kind for kind, _ in second.history("pg-move")] == ["human", "ai"] * 3
        stored = Path(second.state("pg-move")["image_path"])
        assert stored.parent == thread_upload_dir(pg_settings.uploads_dir, "pg-move") and stored.is_file()
        assert "pg-move" in first.store.thread_ids()
    finally:
        first.close()
        second.close()


def test_one_turn_of_a_thread_at_a_time_across_processes(postgres):
    a, b = PostgresSessionStore(postgres.url), PostgresSessionStore(postgres.url)
    try:
        with a.turn_lock("busy") as got:
            assert got
            with b.turn_lock("busy", wait=False) as other:
                assert other is False  # the other replica would wait for it
            with b.turn_lock("another-thread", wait=False) as free:
                assert free is True
        with b.turn_lock("busy", wait=False) as after:
            assert after is True  # released with the turn
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_a_process_killed_mid_turn_keeps_every_completed_turn_in_postgres(postgres, tmp_path, resources, index_dir,
                                                                          dataset, split, lesion, pg_settings):
    from tests.ui.app_server import isolated_var_dir

    other = accepted_test_image(dataset, split, "bkl", resources.intake_gate)
    env = {**os.environ, "DERMAGRAPH_VAR": str(isolated_var_dir(tmp_path, index_dir)), "PYTHONPATH": str(REPO),
           URL_SETTING: postgres.url, "DERMAGRAPH_UPLOADS": str(pg_settings.uploads_dir)}
    script = KILLED_TURN.replace("Consultation(db_path=sys.argv[1])", "Consultation()")
    script = script.replace('"t-kill"', '"pg-kill"')
    run = subprocess.run([sys.executable, "-c", script, "unused", str(lesion.image_path), str(other.image_path)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    assert "completed" in run.stdout and "node classify" in run.stdout

    consult = Consultation(resources=resources, settings=pg_settings)
    try:
        assert [kind for kind, _ in consult.history("pg-kill")] == ["human", "ai"]  # no half turn
        label = consult.state("pg-kill")["prediction"].label
        with consult.store.turn_lock("pg-kill", wait=False) as free:
            assert free  # the dead process's lock went with its connection
        follow = consult.ask("pg-kill", "what should I do?")
        assert follow.turn == 2 and follow.diagnosis["label"] == label
    finally:
        consult.close()


def test_postgres_restarted_between_turns_and_stopped_during_one(postgres, pg_settings, resources, lesion):
    consult = Consultation(resources=resources, settings=pg_settings)
    try:
        consult.ask("pg-restart", "What is this lesion?", image=lesion.image_path)
        postgres.restart()  # every pooled connection is now dead
        assert consult.ask("pg-restart", "why not melanoma?").turn == 2
        before = consult.history("pg-restart")

        postgres.stop()
        try:
            t0 = time.monotonic()
            with pytest.raises(ServiceUnavailable, match="sessions database \\(Postgres\\).*not recorded"):
                consult.ask("pg-restart", "what should I do?")
            assert time.monotonic() - t0 < 60  # said within the pool's wait, not hung
        finally:
            postgres.start()
        assert consult.history("pg-restart") == before  # nothing half-written
        assert consult.ask("pg-restart", "what should I do?").turn == 3
    finally:
        consult.close()


@pytest.mark.parametrize("url, words", [("mysql://root@127.0.0.1/x", "is not a postgresql:// URL"),
                                        ("postgresql://nobody:secret@127.0.0.1:{port}/x", "cannot be used")])
def test_a_bad_sessions_url_is_a_clear_error_naming_the_setting(settings, tmp_path, url, words):
    url = url.format(port=free_port())
    bad = settings.with_overrides(var_dir=tmp_path / "var", sessions_url=url)
    with pytest.raises(SessionStoreError, match=words) as info:
        open_session_store(bad)
    assert URL_SETTING in str(info.value) and "secret" not in str(info.value)  # the password is never echoed
    assert not (tmp_path / "var").exists()  # nothing half-made


def test_passwords_are_redacted():
    assert redact("postgresql://u:pw@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"


def test_retention_with_two_sweepers_and_a_turn_in_flight(pg_settings, resources, lesion, postgres):
    consult = Consultation(resources=resources, settings=pg_settings)
    try:
        consult.ask("pg-old", "What is this lesion?", image=lesion.image_path)
        consult.ask("pg-busy", "What is this lesion?", image=lesion.image_path)
        later = time.time() + 40 * 86400  # both idle past the 30-day retention
        other = PostgresSessionStore(postgres.url)
        try:
            with other.sweep_lock() as sweeping:  # another replica is sweeping now
                assert sweeping
                report = clean_sessions(pg_settings, now=later)
                assert report.skipped and report.threads_removed == 0 and "another process" in report.summary()
            with other.turn_lock("pg-busy"):  # a turn of pg-busy runs in another replica
                report = clean_sessions(pg_settings, now=later)
        finally:
            other.close()
        assert "pg-old" not in consult.store.thread_ids() and consult.history("pg-old") == []
        assert not thread_upload_dir(pg_settings.uploads_dir, "pg-old").exists()
        assert "pg-busy" in consult.store.thread_ids() and len(consult.history("pg-busy")) == 2
        assert report.threads_removed >= 1 and report.threads_kept >= 1
    finally:
        consult.close()


def test_sqlite_stays_the_default(settings, tmp_path):
    store = open_session_store(settings.with_overrides(var_dir=tmp_path / "var"))
    try:
        assert store.kind == "sqlite" and store.describe().endswith("sessions.sqlite")
    finally:
        store.close()

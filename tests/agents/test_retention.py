"""The retention policy: idle consultations go with their images, a live one keeps its newest few and always
the image it is about, orphans and cut-short writes are swept, a dry run touches nothing."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.retention import ORPHAN_GRACE_S, clean_sessions, thread_upload_dir
from agents.session import Consultation

DERMAGRAPH = str(Path(sys.executable).with_name("dermagraph"))


@pytest.fixture(scope="module")
def images(dataset, split):
    return [r.image_path for r in dataset if split[r.image_id] == "test"][:4]


@pytest.fixture()
def var(tmp_path, settings):
    return settings.with_overrides(var_dir=tmp_path / "var")


@pytest.fixture()
def consult(var, resources):
    c = Consultation(resources=resources, settings=var)
    yield c
    c.close()


def _uploads(settings, thread_id: str) -> list[str]:
    folder = thread_upload_dir(settings.uploads_dir, thread_id)
    return sorted(p.name for p in folder.glob("*.png") if ".overlay" not in p.name) if folder.is_dir() else []


def test_a_day_later_the_consultation_idle_over_a_day_goes_with_its_uploads_and_the_other_is_kept(consult, var, images):
    consult.ask("idle", "What is this lesion?", image=images[0])
    between = time.time()  # "idle" was last written before this instant, "recent" only after it
    consult.ask("recent", "What is this lesion?", image=images[1])
    assert _uploads(var, "idle") and _uploads(var, "recent")

    # The clock moved on by exactly the retention (1 day) from that instant: "idle" is older than it, "recent" is not.
    report = clean_sessions(var, retention_days=1, now=between + 86400)
    assert report.threads_removed == 1 and report.threads_kept == 1
    assert consult.history("idle") == [] and not thread_upload_dir(var.uploads_dir, "idle").exists()
    assert len(consult.history("recent")) == 2 and _uploads(var, "recent")
    follow = consult.ask("recent", "what should I do?")  # the kept consultation goes on with its image
    assert follow.turn == 2 and follow.diagnosis is not None


def test_a_consultation_keeps_its_newest_images_and_always_the_current_one(resources, var, images):
    small = var.with_overrides(max_uploads_per_thread=2)
    consult = Consultation(resources=resources, settings=small)
    try:
        paths = [consult.store_image("many", image)[0] for image in images[:2]]  # at the quota
        for path, age_s in zip(paths, (200, 100)):  # made in this order, oldest first
            os.utime(path, (time.time() - age_s, time.time() - age_s))
        consult.ask("many", "What is this lesion?", image=images[2])  # a third: the quota applies on upload
        names = _uploads(small, "many")
        assert len(names) == 2 and Path(paths[0]).name not in names and Path(paths[1]).name in names
        current = Path(consult.state("many")["image_path"])
        assert current.name in names

        os.utime(current, (time.time() - 999, time.time() - 999))  # the image talked about is the oldest now
        report = clean_sessions(small, keep_per_thread=1)
        assert _uploads(small, "many") == [current.name] and report.files_kept == 1
        assert consult.ask("many", "show me more similar cases").similar_cases  # it still needs that image
    finally:
        consult.close()


def test_orphan_folders_and_cut_short_writes_go_after_a_grace_period(var):
    old, fresh = var.uploads_dir / "0123456789abcdef", var.uploads_dir / "fedcba9876543210"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "a1b2c3.png").write_bytes(b"\x89PNG pixels")
    stale = time.time() - ORPHAN_GRACE_S - 60
    os.utime(old / "a1b2c3.png", (stale, stale))
    dry = clean_sessions(var, dry_run=True)
    assert dry.folders_removed == 1 and (old / "a1b2c3.png").exists()
    report = clean_sessions(var)
    assert not old.exists() and (fresh / "a1b2c3.png").exists()
    assert report.files_removed == 1 and report.bytes_removed == len(b"\x89PNG pixels")


def test_the_sessions_clean_command_reports_in_json_and_refuses_nonsense(tmp_path):
    env = {**os.environ, "DERMAGRAPH_VAR": str(tmp_path / "var")}
    done = subprocess.run([DERMAGRAPH, "sessions", "clean", "--json", "--older-than", "7"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["threads_removed"] == 0 and payload["summary"].startswith("removed 0 expired")
    bad = subprocess.run([DERMAGRAPH, "sessions", "clean", "--keep", "0"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_gradios_raw_upload_copies_go_after_their_age_and_all_at_start_up(var):
    cache = var.upload_cache_dir
    old, young = cache / "a" / "old.jpg", cache / "b" / "young.jpg"
    for path in (old, young):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"raw upload")
    stale = time.time() - var.raw_upload_max_age_s - 60
    os.utime(old, (stale, stale))
    clean_sessions(var)
    assert not old.exists() and not old.parent.exists() and young.exists()
    clean_sessions(var, raw_cache_age_s=0)  # what `dermagraph serve` does before it listens
    assert not young.exists() and cache.is_dir()

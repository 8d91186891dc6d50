"""Artifact writes are atomic: a file is written then renamed, a folder is built aside then swapped in."""

import json
import os
import threading

import pytest

from knowledge.artifacts import (
    ArtifactError,
    Manifest,
    atomic_replace_dir,
    atomic_write_text,
    read_manifest,
    staging_dir,
    staleness,
    write_manifest,
)


def _build(folder, version: int) -> None:
    (folder / "weights.bin").write_bytes(bytes([version]) * 4096)
    write_manifest(folder, Manifest(name="toy", kind="test", data_fingerprint="d", config={"version": version}))


def test_a_file_write_leaves_no_temporary_file_and_an_ordinary_mode(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "notes.json", json.dumps({"x": 1}))
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["notes.json"]
    assert path.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


def test_a_folder_is_replaced_whole_and_the_staging_folder_is_gone(tmp_path):
    target = tmp_path / "toy"
    first = staging_dir(target)
    _build(first, 1)
    atomic_replace_dir(first, target)
    second = staging_dir(target)
    _build(second, 2)
    atomic_replace_dir(second, target)
    assert read_manifest(target).config == {"version": 2}
    assert staleness(target, {"version": 2}, verify_files=True) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]


def test_readers_never_see_the_folder_missing_or_half_replaced(tmp_path):
    target = tmp_path / "toy"
    staging = staging_dir(target)
    _build(staging, 0)
    atomic_replace_dir(staging, target)
    seen: list[str] = []
    stop = threading.Event()

    def read_forever() -> None:
        while not stop.is_set():
            try:
                read_manifest(target)
                seen.append("ok")
            except ArtifactError:
                seen.append("missing")

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for version in range(1, 40):
            staging = staging_dir(target)
            _build(staging, version)
            atomic_replace_dir(staging, target)
    finally:
        stop.set()
        reader.join()
    assert seen and "missing" not in seen
    assert read_manifest(target).config == {"version": 39}


def test_a_killed_build_leaves_the_old_folder_and_its_leftover_is_cleared_next_time(tmp_path):
    target = tmp_path / "toy"
    staging = staging_dir(target)
    _build(staging, 1)
    atomic_replace_dir(staging, target)
    half = staging_dir(target)
    (half / "weights.bin").write_bytes(b"\x02" * 100)  # a build killed before its manifest
    assert read_manifest(target).config == {"version": 1}
    again = staging_dir(target)
    assert again == half and list(again.iterdir()) == []


def test_a_replacement_cut_short_between_two_renames_is_undone(tmp_path):
    # The state a crash leaves on a system without an atomic exchange: target renamed aside, staging not yet in.
    target = tmp_path / "toy"
    retired = tmp_path / ".toy.old"
    retired.mkdir()
    _build(retired, 1)
    staging = staging_dir(target)
    _build(staging, 2)
    atomic_replace_dir(staging, target)
    assert read_manifest(target).config == {"version": 2}
    assert not retired.exists() and not staging.exists()


def test_replacing_with_a_missing_staging_folder_is_an_artifact_error(tmp_path):
    target = tmp_path / "toy"
    target.mkdir()
    with pytest.raises(ArtifactError, match="no staging folder"):
        atomic_replace_dir(tmp_path / "nowhere", target)
    assert target.is_dir()


def test_a_first_build_needs_no_previous_folder(tmp_path):
    target = tmp_path / "deep" / "toy"
    staging = staging_dir(target)
    _build(staging, 1)
    atomic_replace_dir(staging, target)
    assert read_manifest(target).name == "toy" and os.listdir(target.parent) == ["toy"]

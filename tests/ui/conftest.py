"""Fixtures for the app tests: the indexes the graph reads, the loaded models, a real test image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ui.app_server import isolated_var_dir

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "reports" / "screenshots"


@pytest.fixture(scope="session")
def app_resources(index_dir):
    from agents.resources import load_resources

    return load_resources("encoder")


@pytest.fixture()
def consult(tmp_path, app_resources):
    from agents.session import Consultation

    c = Consultation(db_path=tmp_path / "sessions.sqlite", resources=app_resources)
    yield c
    c.close()


@pytest.fixture(scope="session")
def mel_record(dataset, split):
    """The example melanoma of the app (first histopathology-confirmed test-split melanoma)."""
    from ui.examples import example_records

    return next(r for r in example_records(dataset, split) if r.dx == "mel")


@pytest.fixture()
def server_var(tmp_path, index_dir) -> Path:
    return isolated_var_dir(tmp_path, index_dir)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is not installed (CI installs Debian chromium in .ci/run; locally: apt-get install chromium)")
    return CHROMIUM

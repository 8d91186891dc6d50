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


USER, PASSWORD = "tester", "not-a-real-secret"
EXPIRED_UPLOAD = "0123456789abcdef"  # an upload folder of no consultation, days old: start-up must sweep it


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, index_dir):
    """One `dermagraph serve --auth` shared by the API, bad-input and exposure tests (a start costs minutes on CI).

    Its var folder is seeded with an expired upload and a cut-short write, for the start-up clean-up check."""
    import os
    import time

    from tests.ui.app_server import AppServer

    var = isolated_var_dir(tmp_path_factory.mktemp("serve"), index_dir)
    stale = var / "uploads" / EXPIRED_UPLOAD
    stale.mkdir(parents=True)
    for name in ("a1b2c3d4.png", "a1b2c3d4.tmp.png"):
        (stale / name).write_bytes(b"\x89PNG old pixels")
        os.utime(stale / name, (time.time() - 40 * 86400, time.time() - 40 * 86400))
    app = AppServer(var, args=("--auth", f"{USER}:{PASSWORD}")).start()
    yield app
    app.stop()


@pytest.fixture(scope="session")
def api_client(auth_server):
    from gradio_client import Client

    return Client(auth_server.url, auth=(USER, PASSWORD), verbose=False)

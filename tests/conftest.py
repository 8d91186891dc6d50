"""Shared fixtures: the real vendored HAM10000 data, the shipped split, the real models and indexes."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from knowledge.ham10000 import HamDataset, load_dataset
from knowledge.settings import get_settings
from knowledge.splits import load_split

pytest_plugins = ["tests.qwen2vl_fixtures",  # tiny Qwen2-VL checkpoint and val images
                  "tests.strict_skips"]  # DERMAGRAPH_CI=1 (.ci/run): a skip not by design fails the run


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture(scope="session")
def dataset() -> HamDataset:
    return load_dataset()


@pytest.fixture(scope="session")
def split(dataset) -> dict[str, str]:
    return load_split(dataset=dataset)


@pytest.fixture(scope="session")
def index_dir(settings):
    """The similar-case and knowledge indexes, built when missing or stale (the `index=True` build steps):
    a fresh clone has the shipped artifacts but no indexes."""
    from rich.console import Console

    from ui.build import STEPS, build_all

    build_all(only=[s.name for s in STEPS if s.index], console=Console(quiet=True))
    return settings.index_dir


@pytest.fixture(scope="session")
def resources(index_dir):
    """The default backend's models and indexes, loaded once for every test that only reads them."""
    from agents.resources import load_resources

    return load_resources()  # the default backend (the ensemble)


@pytest.fixture()
def consult(tmp_path, resources, settings):
    """A real consultation whose database and uploads live in the test's own folder."""
    from agents.session import Consultation

    c = Consultation(db_path=tmp_path / "sessions.sqlite", resources=resources,
                     settings=settings.with_overrides(var_dir=tmp_path / "var"))
    yield c
    c.close()


@pytest.fixture(scope="session")
def encoder():
    """The shipped whole-image encoder (loaded once per session)."""
    from models.encoder import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def test_records(dataset, split):
    from knowledge.splits import records_in

    return records_in(dataset, split, "test")

"""Fixtures for the Qwen2-VL tests: the tiny local checkpoint and a few real HAM10000 images.

Registered for every test by ``pytest_plugins`` in tests/conftest.py. The tiny model is built once into ``var/models/qwen2vl-tiny`` (about 12 s) and reused.
"""

from __future__ import annotations

import pytest

from knowledge.images import open_image
from knowledge.splits import records_in


@pytest.fixture(scope="session")
def tiny_qwen2vl():
    from training.qwen2vl.tiny import tiny_model_dir

    return tiny_model_dir()


@pytest.fixture(scope="session")
def val_images(dataset, split):
    """One real val image of each of the first four classes, with their labels."""
    from models.qwen2vl.records import class_interleaved

    records = class_interleaved(records_in(dataset, split, "val"), 4)
    return [open_image(r.image_path) for r in records], [r.dx for r in records]

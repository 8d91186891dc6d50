"""Fixtures for retrieval tests: the shipped encoder, and a case index built from it in a temp folder."""

from __future__ import annotations

import pytest

from knowledge.splits import records_in


@pytest.fixture(scope="session")
def encoder():
    from retrieval.encoder import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def case_index_folder(tmp_path_factory, dataset):
    from retrieval.cases import build_case_index

    folder = tmp_path_factory.mktemp("index") / "cases"
    build_case_index(index_dir=folder, dataset=dataset, progress=False)
    return folder


@pytest.fixture(scope="session")
def case_index(case_index_folder, encoder):
    from retrieval.cases import CaseIndex

    return CaseIndex.open(index_dir=case_index_folder, encoder=encoder)


@pytest.fixture(scope="session")
def test_records(dataset, split):
    return records_in(dataset, split, "test")

"""Fixtures for retrieval tests: a case index built from the shipped encoder in a temp folder."""

from __future__ import annotations

import pytest


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

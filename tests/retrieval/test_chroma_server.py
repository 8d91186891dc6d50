"""The case and knowledge indexes on a real Chroma server (`chroma run` on loopback): same results as embedded,
manifest in the collection's metadata, a build cut short never served, clear errors for a bad or dead URL."""

from __future__ import annotations

import numpy as np
import pytest

from evals.live_server import free_port
from evals.servers import ChromaServer
from knowledge.artifacts import ArtifactError
from knowledge.settings import get_settings
from retrieval.cases import COLLECTION, CaseIndex, build_case_index, case_index_staleness
from retrieval.chroma_store import URL_SETTING, ChromaUnavailable, connect, create_generation, current_generation, new_stamp
from retrieval.knowledge_index import COLLECTION as KNOWLEDGE, KnowledgeIndex, build_knowledge_index, stale_reasons

QUESTIONS = [("what does a blue-white veil mean?", "en"), ("how is basal cell carcinoma treated?", "en"),
             ("蓝白幕是什么意思？", "zh"), ("皮肤纤维瘤需要切除吗？", "zh")]


def use_url(monkeypatch, url: str | None) -> None:
    if url is None:
        monkeypatch.delenv(URL_SETTING, raising=False)
    else:
        monkeypatch.setenv(URL_SETTING, url)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("chroma") / "store") as server:
        yield server


@pytest.fixture()
def on_server(chroma, monkeypatch):
    use_url(monkeypatch, chroma.url)
    yield chroma
    monkeypatch.delenv(URL_SETTING, raising=False)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def embedded(index_dir, resources):
    return resources.case_index, KnowledgeIndex.open(build_if_needed=False)


def test_case_index_on_the_server_finds_what_the_embedded_one_finds(on_server, embedded, dataset, split):
    assert case_index_staleness() == [f"no complete {COLLECTION!r} collection on the Chroma server at {on_server.url}"]
    stats = build_case_index(progress=False)
    assert case_index_staleness() == []  # the manifest came back from the collection's metadata
    served = CaseIndex.open(encoder=embedded[0].encoder)
    local = embedded[0]
    assert len(served) == len(local) == stats["cases"]
    queries = [r for r in dataset if split[r.image_id] == "test"][:40:8]
    for record in queries:
        a = served.search(record.image_path, k=10)
        b = local.search(record.image_path, k=10)
        assert [c.image_id for c in a] == [c.image_id for c in b]
        assert np.allclose([c.similarity for c in a], [c.similarity for c in b], atol=1e-4)
        assert record.lesion_id not in {c.lesion_id for c in a}
    filters = {"dx": ["mel", "bcc"], "sex": "male", "age": (40.0, 80.0)}
    a = served.search(queries[0].image_path, k=8, filters=filters)
    assert [c.image_id for c in a] == [c.image_id for c in local.search(queries[0].image_path, k=8, filters=filters)]
    assert a and all(c.dx in ("mel", "bcc") and c.sex == "male" and 40 <= c.age <= 80 for c in a)
    text = "blue-white veil on the back"
    assert [c.image_id for c in served.search(text, k=10)] == [c.image_id for c in local.search(text, k=10)]


def test_knowledge_index_on_the_server_ranks_as_the_embedded_one(on_server, embedded):
    assert stale_reasons()[0].startswith(f"no complete {KNOWLEDGE!r} collection")
    manifest = build_knowledge_index(progress=False)
    assert stale_reasons() == [] and manifest.metrics["passages"] == manifest.metrics["passages_zh"] > 200
    served = KnowledgeIndex.open(build_if_needed=False)
    local = embedded[1]
    assert len(served) == len(local) and set(served.twins) == set(local.twins)
    for question, lang in QUESTIONS:
        a = [(p.passage_id, p.lang) for p in served.search(question, k=5, lang=lang)]
        b = [(p.passage_id, p.lang) for p in local.search(question, k=5, lang=lang)]
        assert a == b, question


def test_a_build_cut_short_is_never_served_and_the_next_build_clears_it(on_server):
    if current_generation(connect(on_server.url), COLLECTION) is None:
        build_case_index(progress=False)
    client = connect(on_server.url)
    stamp, manifest = current_generation(client, COLLECTION)
    abandoned = create_generation(client, COLLECTION, new_stamp(), {"hnsw:space": "cosine"})  # newer, never committed
    abandoned.add(ids=["ISIC_half"], embeddings=[[0.0] * 8], metadatas=[{"image_id": "ISIC_half"}])
    assert current_generation(client, COLLECTION)[0] == stamp  # readers still open the complete one
    assert len(CaseIndex.open()) == manifest.metrics["cases"]
    build_case_index(progress=False)
    names = [c.name for c in client.list_collections() if c.name.startswith(COLLECTION)]
    assert len(names) == 1 and names[0] != abandoned.name  # the old and the abandoned generations are gone
    assert current_generation(client, COLLECTION)[1].metrics["cases"] == manifest.metrics["cases"]


@pytest.mark.parametrize("url, words", [("localhost:8000", "is not a Chroma server URL"),
                                        ("ftp://127.0.0.1:8000", "is not a Chroma server URL"),
                                        ("http://127.0.0.1:8000/some/path", "is not a Chroma server URL")])
def test_a_malformed_url_is_refused_naming_the_setting(monkeypatch, url, words):
    use_url(monkeypatch, url)
    try:
        with pytest.raises(ChromaUnavailable, match=words) as info:
            CaseIndex.open()
        assert URL_SETTING in str(info.value)
    finally:
        get_settings.cache_clear()


def test_a_server_that_is_not_there_is_named_and_nothing_is_written(monkeypatch, settings):
    before = sorted(p.name for p in settings.index_dir.iterdir())
    use_url(monkeypatch, f"http://127.0.0.1:{free_port()}")
    try:
        for call in (CaseIndex.open, lambda: build_case_index(progress=False), lambda: KnowledgeIndex.open()):
            with pytest.raises(ChromaUnavailable, match=f"{URL_SETTING}.*cannot be reached"):
                call()
    finally:
        get_settings.cache_clear()
    assert sorted(p.name for p in settings.index_dir.iterdir()) == before


def test_a_server_outage_fails_searches_clearly_and_they_come_back_with_it(on_server, embedded, dataset):
    from agents.session_store import as_outage

    if current_generation(connect(on_server.url), COLLECTION) is None:
        build_case_index(progress=False)
    served = CaseIndex.open(encoder=embedded[0].encoder)
    record = next(iter(dataset))
    expected = [c.image_id for c in served.search(record.image_path, k=5)]
    on_server.kill()
    try:
        with pytest.raises(Exception) as info:
            served.search(record.image_path, k=5)
        outage = as_outage(info.value)
        assert outage is not None and "Chroma" in str(outage) and "not recorded" in str(outage)
    finally:
        on_server.start()
    assert [c.image_id for c in served.search(record.image_path, k=5)] == expected  # same client, server back


def test_embedded_stays_the_default(monkeypatch, settings):
    use_url(monkeypatch, None)
    assert get_settings().chroma_url is None
    assert CaseIndex.open().collection.name == COLLECTION  # no generation suffix: the embedded store
    with pytest.raises(ArtifactError):
        CaseIndex.open(index_dir=settings.var_dir / "no-such-index")

"""`dermagraph serve` for real, called through gradio_client: a login when asked for, named endpoints, a turn
as JSON in English then Chinese, text search with filters, clear errors, the upload size limit."""

import re
from pathlib import Path

import pytest
from gradio_client import handle_file

from knowledge.taxonomy import CODES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(auth_server):
    return auth_server  # one server for every API test module (tests/ui/conftest.py)


@pytest.fixture(scope="module")
def client(api_client):
    return api_client


def test_models_load_before_it_listens_on_loopback_and_it_asks_for_the_login(server):
    log = server.log_text()
    assert log.index("loading models") < log.index(f"dermagraph is serving on http://127.0.0.1:{server.port}")
    assert server.status("/config") == 401


def test_named_endpoints_are_exactly_the_public_api(client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/chat", "/search_cases", "/consult"} <= endpoints
    assert not endpoints & {"/restore", "/start_new", "/switch_language", "/refilter", "/show_case", "/show_source"}


def test_a_consultation_over_the_api_in_english_then_chinese(client, mel_record):
    first = client.predict("api-thread", "What is this lesion?", handle_file(str(mel_record.image_path)), "en",
                           api_name="/consult")
    assert first["thread_id"] == "api-thread" and first["turn"] == 1 and first["language"] == "en"
    probs = first["diagnosis"]["probabilities"]
    assert set(probs) == set(CODES) and abs(sum(probs.values()) - 1) < 1e-6
    assert len(first["similar_cases"]) == 10 and "[P]" in first["answer"] and "not a diagnosis" in first["answer"]

    second = client.predict("api-thread", "为什么不是黑色素瘤？", None, "", api_name="/consult")
    assert second["turn"] == 2 and second["language"] == "zh" and re.search(r"[\u4e00-\u9fff]", second["answer"])
    assert second["diagnosis"]["label"] == first["diagnosis"]["label"]


def test_text_search_over_the_api_returns_only_cases_that_satisfy_every_filter_dx_type_included(client, dataset):
    # Benign keratoses confirmed by consensus: most keratoses in the index (and most of those of men's faces) are
    # confirmed by histopathology, so a dropped confirmation filter fills the gallery with them.
    status, gallery, *_ = client.predict("a scaly brown patch", "en", "bkl", "consensus", "male", "face", 55, 75,
                                           api_name="/search_cases")
    assert "a scaly brown patch" in status and len(gallery) == 10  # 23 indexed cases satisfy every filter
    lesions = set()
    for rank, item in enumerate(gallery, start=1):
        record = dataset.get(Path(item["image"]).stem)  # the gallery shows the case's own ISIC_ image
        assert (record.dx, record.dx_type, record.sex, record.localization) == ("bkl", "consensus", "male", "face"), record
        assert 55 <= record.age <= 75, record
        assert item["caption"] == f"bkl · #{rank}", item["caption"]  # ranked, one image per lesion
        lesions.add(record.lesion_id)
    assert len(lesions) == 10


def test_bad_requests_get_their_reason_not_a_traceback(client, tmp_path):
    with pytest.raises(Exception, match="thread id"):
        client.predict("../../etc", "hello", None, "", api_name="/consult")
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("these are notes, not pixels")
    with pytest.raises(Exception, match="not an image format"):
        client.predict("api-bad", "what is this?", handle_file(str(not_an_image)), "", api_name="/consult")


def test_uploads_over_the_size_limit_are_refused(client, tmp_path, settings):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (settings.max_upload_bytes + 1024))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict("api-big", "what is this?", handle_file(str(big)), "", api_name="/consult")


@pytest.mark.slow
def test_serve_with_the_qwen2vl_backend_and_its_llm_composer_answers_over_the_api(tmp_path_factory, index_dir,
                                                                                 tiny_qwen2vl, mel_record):
    """`dermagraph serve --classifier qwen2vl --base DIR` (the tiny local model): the backend classifies, its garbage
    text is rejected by the reviewer and the template answer, fully cited, is what the user gets."""
    from gradio_client import Client

    from tests.ui.app_server import AppServer, isolated_var_dir

    var = isolated_var_dir(tmp_path_factory.mktemp("serve-qwen"), index_dir)
    server = AppServer(var, args=("--classifier", "qwen2vl", "--base", str(tiny_qwen2vl))).start()
    try:
        client = Client(server.url, verbose=False)
        first = client.predict("qwen-thread", "What is this lesion?", handle_file(str(mel_record.image_path)), "en",
                               api_name="/consult")
        assert first["diagnosis"]["backend"] == "qwen2vl"
        assert abs(sum(first["diagnosis"]["probabilities"].values()) - 1) < 1e-6
        assert first["review"].get("llm_fallback") is True and first["review"]["removed"] == []
        assert "[P]" in first["answer"] and "not a diagnosis" in first["answer"] and first["risk_tier"]
        assert all(f"[{c['id']}]" in first["answer"] for c in first["citations"])
    finally:
        server.stop()

"""No user text becomes a path in the app: a stored thread id, a source key from a clicked citation, a case
position from the gallery, a search text; each hostile value is refused or shown as 'not found', never opened."""

from pathlib import Path

import pytest

from ui import handlers as h
from ui.i18n import t

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
HOSTILE = ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "1:../../../var/sessions.sqlite",
           "file:///etc/passwd", "%2e%2e%2fetc%2fpasswd", "1:K1\x00.png"]


@pytest.fixture()
def answered(consult):
    """A tab after one real turn: its view cites sources and holds similar cases."""
    handlers = h.AppHandlers(consult, stream_pause_s=0)
    *_, (chat, thread_id, view, final, _) = handlers.respond(
        {"text": "What is this lesion?", "files": [str(CORPUS / "valid_lesion.jpg")]}, [], "tab-1", "en", h.new_view())
    assert final and view["sources"] and view["cases"]
    return handlers, thread_id, view


@pytest.mark.parametrize("key", HOSTILE)
def test_a_hostile_source_key_shows_source_gone_and_no_file(answered, key):
    handlers, _, view = answered
    choices, chosen, text, image = h.sources_panel(handlers.show_source(key, view), "en")
    assert chosen is None and text == t("source_gone", "en") and image is None


@pytest.mark.parametrize("index", [-1, 10**6, [999], None])
def test_a_case_position_outside_the_gallery_shows_no_case(answered, index):
    handlers, _, view = answered
    status, gallery, image, details = h.cases_panel(handlers.show_case(index, view), "en")
    assert image is None and details == t("pick_case", "en")
    assert {item[0] for item in gallery} == {str(c["image_path"]) for c in view["cases"]}  # only indexed cases


@pytest.mark.parametrize("stored", HOSTILE)
def test_a_hostile_stored_thread_id_starts_a_fresh_consultation(consult, stored):
    thread_id, _, chat, view = h.AppHandlers(consult).restore(stored, "en")
    assert thread_id != stored and len(thread_id) == 16 and chat == [] and view == h.new_view()


def test_a_hostile_thread_id_from_the_page_is_replaced_before_anything_is_stored(consult):
    handlers = h.AppHandlers(consult, stream_pause_s=0)
    *_, (chat, thread_id, view, final, _) = handlers.respond(
        {"text": "What is this lesion?", "files": [str(CORPUS / "valid_lesion.jpg")]}, [], "../../etc/passwd", "en",
        h.new_view())
    assert final and thread_id != "../../etc/passwd" and len(consult.history(thread_id)) == 2
    assert all(p.parent == consult.settings.uploads_dir for p in consult.settings.uploads_dir.iterdir())


def test_a_search_text_that_looks_like_a_path_is_searched_as_text(answered):
    handlers, _, view = answered
    result = handlers.search_cases(view, "../../etc/passwd", {})
    assert result["query"] == {"kind": "text", "text": "../../etc/passwd"}
    assert all(Path(c["image_path"]).name.startswith("ISIC_") for c in result["cases"])

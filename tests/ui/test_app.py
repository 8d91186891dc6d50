"""The app's handlers on the real graph: a turn streams then fills every panel, bad uploads say why and lose
nothing, a tab's consultation comes back after a restart, filters and text search re-query real cases."""

import re
from pathlib import Path

import pytest

from agents.session import Consultation
from knowledge.cases import CaseFilters
from knowledge.taxonomy import CODES
from ui import handlers as h
from ui import panels
from ui.i18n import t

BAD_INPUTS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CJK = re.compile(r"[\u4e00-\u9fff]")


def run_turn(handlers, message, chat=None, thread="", lang="en", view=None):
    steps = list(handlers.respond(message, chat or [], thread, lang, view or h.new_view()))
    chat, thread, view, final, _ = steps[-1]
    return steps, chat, thread, view, final


def notice_of(handlers, message, chat=None, thread="", lang="en", view=None):
    steps = list(handlers.respond(message, chat or [], thread, lang, view or h.new_view()))
    assert len(steps) == 1  # refused before anything is drawn
    return steps[0]


@pytest.fixture()
def handlers(consult):
    return h.AppHandlers(consult, stream_pause_s=0)


@pytest.fixture()
def first_turn(handlers, mel_record):
    return run_turn(handlers, {"text": "What is this lesion?", "files": [str(mel_record.image_path)]})


def test_the_heat_map_layer_replaces_the_outline_and_says_what_it_is(first_turn, handlers):
    from agents.explain import NOTE
    from knowledge.images import open_image

    _, _, _, view, _ = first_turn
    top3 = [item["code"] for item in view["turn"]["diagnosis"]["top3"]]
    layer = h.assessment_panel(view, "zh")[5]
    codes = [value for _, value in layer["choices"]]
    assert codes[:2] == ["outline", top3[0]] and (("mel" in codes) == ("mel" in top3[1:]) or top3[0] == "mel")
    outline = h.assessment_panel(view, "en")[2]
    shown = handlers.show_layer(view, top3[0])
    image, note, picked = h.assessment_panel(shown, "en")[2], h.assessment_panel(shown, "en")[6], h.assessment_panel(shown, "en")[5]
    assert image != outline and Path(image).name.endswith(f".heat-{top3[0]}.overlay.png") and Path(image).is_file()
    assert open_image(image).size == open_image(view["image_path"]).size
    assert picked["value"] == top3[0] and note == NOTE["en"] and h.assessment_panel(shown, "zh")[6] == NOTE["zh"]
    made = Path(image).stat().st_mtime_ns
    again = handlers.show_layer(shown, "outline")
    assert h.assessment_panel(again, "en")[2] == outline and h.assessment_panel(again, "en")[6] == ""
    assert Path(handlers.show_layer(again, top3[0])["heat_paths"][top3[0]]).stat().st_mtime_ns == made  # kept, not redrawn


def test_a_turn_shows_progress_streams_the_answer_then_fills_every_panel(first_turn, dataset):
    steps, chat, thread, view, final = first_turn
    assert final and h.check_thread_id(thread) == thread
    assert chat[0]["content"] == {"path": chat[0]["content"]["path"]} and chat[1]["content"] == "What is this lesion?"
    assert steps[0][0][-1]["metadata"]["status"] == "pending"
    streamed = [s[0][-1]["content"] for s in steps[1:]]
    assert len(streamed) >= 3 and all(b.startswith(a) for a, b in zip(streamed, streamed[1:]))
    answer = view["turn"]["answer"]
    assert streamed[-1] == panels.link_markers(answer, view["turn"]["turn"]) and "not a diagnosis" in answer

    probs_html, risk_html, image, features_md, _, layer, note = h.assessment_panel(view, "en")
    assert layer["visible"] and layer["value"] == "outline" and note == ""
    assert len(re.findall(r'class="dg-bar-row', probs_html)) == len(CODES) and probs_html.count("dg-top") == 3
    assert view["turn"]["risk_tier"] and "dg-risk" in risk_html
    assert image and Path(image).is_file() and features_md

    status, gallery, _, _ = h.cases_panel(view, "en")
    assert len(gallery) == 10 and all(Path(p).is_file() for p, _ in gallery)
    assert status == t("cases_for_image", "en", n=10, filters="", mix=panels.diagnosis_mix(view["cases"], "en"))
    assert len({c["lesion_id"] for c in view["cases"]}) == 10  # one image per lesion
    assert [c["rank"] for c in view["cases"]] == list(range(1, 11))
    for case in view["cases"]:
        assert dataset.get(case["image_id"]).dx == case["dx"]

    choices, _, _, _ = h.sources_panel(view, "en")
    assert choices and all(view["sources"][key] for _, key in choices)
    for _, key in choices:  # every cited source opens: a passage shows its text, a case its image
        text, image = panels.source_view(view["sources"][key], "en")
        source = view["sources"][key]
        if "passage" in source:
            assert source["passage"]["text"] in text
        if "case" in source:
            assert image == source["case"]["image_path"]


def test_a_chinese_follow_up_is_answered_in_chinese_and_keeps_the_chat(handlers, first_turn):
    _, chat, thread, view, _ = first_turn
    _, chat2, thread2, view2, final = run_turn(handlers, {"text": "为什么不是黑色素瘤？", "files": []}, chat, thread, "en", view)
    assert final and thread2 == thread and chat2[: len(chat)] == chat
    assert view2["turn"]["language"] == "zh" and CJK.search(chat2[-1]["content"])
    assert view2["turn"]["diagnosis"]["label"] == view["turn"]["diagnosis"]["label"]
    assert {k for k in view["sources"]} <= {k for k in view2["sources"]}  # the first answer's sources stay readable


@pytest.mark.parametrize("name", ["text_renamed.jpg", "zero_bytes.jpg", "truncated.jpg", "document.pdf"])
def test_a_bad_upload_gets_a_clear_message_and_loses_nothing(handlers, first_turn, name):
    _, chat, thread, view, _ = first_turn
    chat2, thread2, view2, final, notice = notice_of(handlers, {"text": "and this one?", "files": [str(BAD_INPUTS / name)]},
                                                     chat, thread, "en", view)
    assert not final and "cannot be used as an image" in notice and "Traceback" not in notice
    assert thread2 == thread and view2 == view and chat2 == chat  # no broken picture in the chat, nothing lost
    _, _, _, view3, final = run_turn(handlers, {"text": "why not melanoma?", "files": []}, chat2, thread, "en", view2)
    assert final and view3["turn"]["diagnosis"]["label"] == view["turn"]["diagnosis"]["label"]


def test_an_image_that_is_not_dermoscopy_is_refused_with_its_reason_and_no_cases(handlers):
    ood = Path(__file__).resolve().parents[2] / "evals" / "data" / "ood" / "brick_wall.png"
    _, chat, _, view, final = run_turn(handlers, {"text": "", "files": [str(ood)]})
    diagnosis = view["turn"]["diagnosis"]
    assert final and diagnosis["probabilities"] is None and diagnosis["abstain_reason"]
    assert diagnosis["abstain_reason"] in h.assessment_panel(view, "en")[0]
    assert h.assessment_panel(view, "en")[2] is None  # a refused picture is not shown as a lesion outline
    assert not view["image_ok"] and view["cases"] == [] and h.cases_panel(view, "en")[1] == []
    assert handlers.search_cases(view, "", {})["notice"] == "need_query"


def test_an_empty_message_or_a_too_long_question_is_refused_politely(handlers, first_turn):
    _, chat, thread, view, _ = first_turn
    for _ in range(3):  # pressing Enter on an empty box again and again adds nothing to the chat
        chat2, _, view2, final, notice = notice_of(handlers, {"text": "  ", "files": []}, chat, thread, "en", view)
        assert not final and notice == t("empty_input", "en") and chat2 == chat and view2 == view
    chat2, _, _, final, notice = notice_of(handlers, {"text": "x" * 5000, "files": []}, chat, thread, "zh", view)
    assert not final and "5,000" in notice and "2,000" in notice and "输入框" in notice and chat2 == chat


def test_a_tab_gets_its_consultation_back_after_a_server_restart(first_turn, consult, resources):
    _, chat, thread, view, _ = first_turn
    restarted = Consultation(db_path=consult.db_path, resources=resources)  # a new process would open the same file
    try:
        thread2, lang, chat2, view2 = h.AppHandlers(restarted).restore(thread, "zh")
    finally:
        restarted.close()
    assert thread2 == thread and lang == "zh"
    assert [m["role"] for m in chat2] == ["user", "user", "assistant"] and chat2[-1]["content"] == chat[-1]["content"]
    assert chat2[0]["content"] == {"path": view["image_path"]} and Path(view["image_path"]).is_file()  # the picture too
    assert chat2[1]["content"] == "What is this lesion?"
    assert view2["turn"]["diagnosis"]["probabilities"] == view["turn"]["diagnosis"]["probabilities"]
    assert view2["cases"] == view["cases"] and view2["image_path"] == view["image_path"]
    assert set(view2["sources"]) == set(view["sources"])


@pytest.mark.parametrize("stored", ["", None, "../../etc/passwd", "x" * 200])
def test_a_missing_or_malformed_thread_id_starts_a_fresh_consultation(handlers, stored):
    thread, lang, chat, view = handlers.restore(stored, "en")
    assert h.check_thread_id(thread) == thread and thread != stored and chat == [] and view == h.new_view()


def test_filters_re_query_the_cases_of_the_image(handlers, first_turn):
    view = first_turn[3]
    histo = handlers.refilter_cases(view, CaseFilters.from_widgets("", "histo", "", "", None, None))
    assert histo["cases"] and all(c["dx_type"] == "histo" for c in histo["cases"])
    older_women = handlers.refilter_cases(view, CaseFilters.from_widgets("", "", "female", "", 60, None))
    assert older_women["cases"] and all(c["sex"] == "female" and c["age"] >= 60 for c in older_women["cases"])
    back_bcc = handlers.refilter_cases(view, CaseFilters.from_widgets("bcc", "", "", "back", None, None))
    assert all(c["dx"] == "bcc" and c["localization"] == "back" for c in back_bcc["cases"])
    empty = handlers.refilter_cases(view, CaseFilters.from_widgets("", "", "", "", 80, 20))
    assert empty["cases"] == [] and "empty" in h.cases_panel(empty, "en")[0]
    assert CaseFilters.coerce(histo["filters"]).widgets(h.ANY) == ["", "histo", "", "", None, None]
    shown = handlers.show_case(2, histo)
    assert handlers.refilter_cases(shown, dict(histo["filters"]))["selected_case"] == 2  # same filters: no new query


def test_text_search_finds_cases_and_filters_then_apply_to_the_text(handlers, first_turn):
    view = handlers.search_cases(first_turn[3], "  blue-white veil and atypical network ", {})
    assert view["query"] == {"kind": "text", "text": "blue-white veil and atypical network"} and len(view["cases"]) == 10
    assert "blue-white veil" in h.cases_panel(view, "en")[0]
    filtered = handlers.refilter_cases(view, {"dx": "mel"})
    assert filtered["query"]["kind"] == "text" and all(c["dx"] == "mel" for c in filtered["cases"])
    back_to_image = handlers.search_cases(filtered, "", {})
    assert back_to_image["query"]["kind"] == "image" and back_to_image["cases"][0]["image_id"] == first_turn[3]["cases"][0]["image_id"]


def test_the_consultations_images_are_listed_and_one_can_be_asked_about_again(handlers, first_turn, dataset, split):
    _, chat, thread, view, _ = first_turn
    first = view["image_path"]
    assert view["images"] == [first]
    other = next(r for r in dataset if split[r.image_id] == "test" and r.dx == "bkl")
    _, chat, _, view, _ = run_turn(handlers, {"text": "and this one?", "files": [str(other.image_path)]}, chat, thread, "en", view)
    assert view["images"][0] == first and len(view["images"]) == 2 and view["image_path"] == view["images"][1]
    # asking about the first image again (the app puts it back in the input box): the turn is about it
    _, chat, _, again, _ = run_turn(handlers, {"text": "What about this image?", "files": [first]}, chat, thread, "en", view)
    assert again["image_path"] == first and again["images"] == view["images"]  # the same stored image, not a third
    assert again["turn"]["diagnosis"]["label"] == first_turn[3]["turn"]["diagnosis"]["label"]


def test_sites_sexes_and_ages_in_the_search_words_become_filters(handlers, first_turn):
    view = handlers.search_cases(first_turn[3], "blue-white veil on the back of men over 60", {})
    assert view["filters"] == {"sex": "male", "localization": "back", "age_min": 60.0}
    assert view["cases"] and all(c["sex"] == "male" and c["localization"] == "back" and c["age"] >= 60 for c in view["cases"])
    assert "back" in h.cases_panel(view, "en")[0]  # the status line names the filters
    assert CaseFilters.coerce(view["filters"]).widgets(h.ANY)[2:5] == ["male", "back", 60]  # and the dropdowns show them
    zh = handlers.search_cases(first_turn[3], "女性 脸上 的色素性病变", {})
    assert zh["filters"] == {"sex": "female", "localization": "face"}
    mine = handlers.search_cases(first_turn[3], "men with lesions on the back", {"sex": "female"})
    assert mine["filters"]["sex"] == "female" and mine["filters"]["localization"] == "back"  # a chosen dropdown wins


def test_without_an_image_an_empty_search_asks_for_one(handlers):
    view = handlers.search_cases(h.new_view(), "", {})
    assert view["cases"] == [] and h.cases_panel(view, "zh")[0] == t("need_query", "zh")


def test_choosing_a_case_or_a_source_shows_it_in_the_chosen_language(handlers, first_turn):
    view = handlers.show_case(3, first_turn[3])
    _, _, image, details = h.cases_panel(view, "zh")
    assert image == view["cases"][3]["image_path"] and "确诊方式" in details
    key = next(k for k, s in view["sources"].items() if "passage" in s)
    view = handlers.show_source(key, view)
    choices, chosen, text, _ = h.sources_panel(view, "en")
    assert chosen == key and view["sources"][key]["passage"]["text"] in text
    gone = handlers.show_source("99:K1", view)
    assert h.sources_panel(gone, "en")[2] == t("source_gone", "en")


def test_patient_fields_reach_the_triage_and_a_bad_age_is_refused_without_losing_the_chat(handlers, mel_record):
    fields = {"age": 70, "sex": "female", "site": "back", "history": "it grew and bled"}
    steps = list(handlers.respond({"text": "What is this lesion?", "files": [str(mel_record.image_path)]}, [], "", "en",
                                  h.new_view(), fields))
    chat, thread, view, final, _ = steps[-1]
    turn = view["turn"]
    assert final and turn["patient"]["age"] == 70 and turn["patient"]["history"] == ["grew", "bleeding"]
    assert turn["risk_tier"] == "urgent" and "**What you told me:** age 70; female; on the back" in turn["answer"]
    risk_panel = h.assessment_panel(view, "en")[1]
    assert "Why: " in risk_panel and "you reported that it has grown" in risk_panel
    bad = list(handlers.respond({"text": "and now?", "files": []}, chat, thread, "en", view, {**fields, "age": 300}))
    chat2, thread2, view2, final2, _ = bad[-1]
    assert not final2 and "between 0 and 120" in chat2[-1]["content"] and chat2[: len(chat)] == chat and view2 == view

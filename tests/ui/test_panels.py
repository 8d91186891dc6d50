"""The app's panels render a turn faithfully: every class, the top three marked, names in the chosen language,
citations that resolve to the passage or case they cite. No models needed: turns are built from real records."""

import re

import pytest

from agents.risk import RiskTier, tier_advice, tier_name
from knowledge.taxonomy import BODY_SITES, CODES, confirmation_name, display_name, site_name
from ui import panels
from ui.examples import example_records
from ui.i18n import UI, disclaimer_banner, t

CJK = re.compile(r"[\u4e00-\u9fff]")


def _case(record, ref="C1", similarity=0.87, rank=1):
    return {"ref": ref, "image_id": record.image_id, "lesion_id": record.lesion_id, "dx": record.dx,
            "dx_type": record.dx_type, "age": record.age, "sex": record.sex, "localization": record.localization,
            "image_path": str(record.image_path), "similarity": similarity, "rank": rank}


@pytest.fixture(scope="module")
def records(dataset, split):
    return example_records(dataset, split)


def _diagnosis(probs):
    return {"label": max(probs, key=probs.get), "probabilities": probs, "malignancy": probs["akiec"] + probs["bcc"] + probs["mel"],
            "backend": "encoder", "abstained": False, "abstain_reason": None}


def test_every_ui_string_exists_in_english_and_chinese():
    for key, texts in UI.items():
        assert set(texts) == {"en", "zh"}, key
        assert texts["en"].strip() and texts["zh"].strip(), key
        assert set(re.findall(r"\{(\w+)", texts["en"])) == set(re.findall(r"\{(\w+)", texts["zh"])), f"{key}: placeholders differ"
    assert CJK.search(disclaimer_banner("zh")) and not CJK.search(disclaimer_banner("en"))
    assert "not a diagnosis" in disclaimer_banner("en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_probabilities_show_all_seven_classes_highest_first_with_the_top_three_marked(lang):
    probs = dict(zip(CODES, [0.04, 0.21, 0.09, 0.01, 0.33, 0.30, 0.02]))
    html = panels.probabilities_html(_diagnosis(probs), lang)
    rows = re.findall(r'<div class="dg-bar-row( dg-top)?" data-code="(\w+)">', html)
    assert [code for _, code in rows] == sorted(CODES, key=lambda c: -probs[c])
    assert [code for top, code in rows if top] == ["mel", "nv", "bcc"]
    for code in CODES:
        assert display_name(code, lang) in html
    assert "33.0%" in html and "1.0%" in html


def test_a_refused_image_shows_the_reason_instead_of_probabilities():
    html = panels.probabilities_html({"probabilities": None, "abstain_reason": "the image looks like a document"}, "en")
    assert "the image looks like a document" in html and "dg-bar-row" not in html


@pytest.mark.parametrize("tier", list(RiskTier))
def test_risk_panel_uses_the_risk_module_names_and_advice(tier):
    for lang in ("en", "zh"):
        html = panels.risk_html(tier.value, {"malignancy": 0.42}, lang)
        assert tier_name(tier, lang) in html and tier_advice(tier, lang).split("，")[0] in html.replace("&#x27;", "'")
        assert "42.0%" in html


def test_markers_become_links_keyed_by_turn_and_the_stream_rebuilds_the_answer():
    answer = "**Estimate:** nevus at 61% [P].\n\nSix of ten similar cases were nevi [C1][C2].\n\nNaevi are benign [K3]."
    linked = panels.link_markers(answer, turn=4)
    assert re.findall(r"\(#cite-(\d+:\w+)\)", linked) == ["4:P", "4:C1", "4:C2", "4:K3"]
    assert "\n\n".join(panels.answer_chunks(linked)) == linked
    assert len(panels.answer_chunks(linked)) == 3


def test_chinese_bold_headings_render_closed():
    linked = panels.link_markers("**估计（并非诊断）：**最可能的类别是黑色素细胞痣（47%）[P]。", turn=1)
    assert linked.startswith("**估计（并非诊断）**：最可能") and "(#cite-1:P)" in linked
    english = "**Estimate (not a diagnosis):** nevus at 61% [P]."
    assert panels.link_markers(english, 1) == english.replace("[P]", "[\\[P\\]](#cite-1:P)")


def test_case_details_name_diagnosis_confirmation_age_sex_site_and_similarity(records):
    mel = next(r for r in records if r.dx == "mel")
    for lang in ("en", "zh"):
        md = panels.case_markdown(_case(mel, rank=3), lang)
        assert mel.image_id in md and display_name("mel", lang) in md
        assert confirmation_name(mel.dx_type, lang) in md and site_name(mel.localization, lang) in md
        assert f"{mel.age:.0f}" in md and "0.87" in md and ("#3" in md if lang == "en" else "第 3 位" in md)
    assert panels.gallery_items([_case(mel, rank=3)], "en") == [(str(mel.image_path), "[C1] mel · #3")]


def test_the_diagnosis_mix_counts_the_shown_lesions_commonest_first(records):
    nv = next(r for r in records if r.dx == "nv")
    mel = next(r for r in records if r.dx == "mel")
    cases = [_case(nv), _case(mel), _case(nv)]
    assert panels.diagnosis_mix(cases, "en") == f"2 {display_name('nv', 'en')}, 1 {display_name('mel', 'en')}"
    assert panels.diagnosis_mix(cases, "zh") == f"2 {display_name('nv', 'zh')}，1 {display_name('mel', 'zh')}"


def test_each_citation_of_a_turn_opens_what_it_cites(records):
    cases = [_case(r, f"C{i + 1}") for i, r in enumerate(records[:3])]
    passage = {"ref": "K1", "passage_id": "mel-dermoscopy#2", "doc_id": "mel-dermoscopy", "title": "Melanoma",
               "section": "Dermoscopy", "text": "Atypical pigment network and blue-white structures are melanoma clues.",
               "references": ["Argenziano G et al. J Am Acad Dermatol. 2003;48:679-693."]}
    turn = {"turn": 2, "diagnosis": _diagnosis(dict(zip(CODES, [0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1]))),
            "similar_cases": cases, "passages": [passage],
            "citations": [{"id": "P", "kind": "prediction", "title": "Classifier output", "target": ""},
                          {"id": "C2", "kind": "case", "title": cases[1]["image_id"], "target": cases[1]["image_id"]},
                          {"id": "K1", "kind": "knowledge", "title": "Melanoma — Dermoscopy", "target": passage["passage_id"]}]}
    sources = panels.turn_sources(turn)
    assert list(sources) == ["2:P", "2:C2", "2:K1"]
    assert [v for _, v in panels.source_choices(sources, 2, "en")] == ["2:P", "2:C2", "2:K1"]
    assert panels.source_choices(sources, 3, "en") == []
    labels_zh = [label for label, _ in panels.source_choices(sources, 2, "zh")]
    assert labels_zh[1] == f"[C2] {cases[1]['image_id']}: {display_name(cases[1]['dx'], 'zh')} ({confirmation_name(cases[1]['dx_type'], 'zh')})"
    assert labels_zh[0] == f"[P] {t('prediction_title', 'zh')}" and labels_zh[2] == "[K1] Melanoma — Dermoscopy"

    text, image = panels.source_view(sources["2:K1"], "en")
    assert passage["text"] in text and passage["references"][0] in text and image is None
    text, image = panels.source_view(sources["2:C2"], "zh")
    assert image == cases[1]["image_path"] and display_name(cases[1]["dx"], "zh") in text
    text, _ = panels.source_view(sources["2:P"], "en")
    assert display_name("mel") in text and "40.0%" in text
    assert panels.source_view(None, "en")[0] == t("source_gone", "en")


def test_filter_summary_uses_taxonomy_names():
    text = panels.filters_text({"dx": "bcc", "dx_type": "histo", "localization": "back", "age": (50.0, None)}, "zh")
    assert display_name("bcc", "zh") in text and confirmation_name("histo", "zh") in text
    assert BODY_SITES["back"]["zh"] in text and "50" in text
    assert panels.filters_text({}, "en") == ""


def test_examples_are_one_test_image_per_class(records, split):
    assert [r.dx for r in records] == list(CODES)
    assert all(split[r.image_id] == "test" and r.image_path.is_file() for r in records)

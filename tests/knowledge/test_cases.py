"""The one lesion record and the one set of case filters, on real HAM10000 rows."""

from __future__ import annotations

import pytest

from knowledge.cases import Case, CaseFilters
from knowledge.taxonomy import BODY_SITES, confirmation_name, display_name


def test_a_record_survives_chroma_metadata_and_json(dataset):
    no_age = next(r for r in dataset if r.age is None)
    for record in (dataset.records[0], no_age):
        meta = record.to_metadata()
        assert None not in meta.values() and "mask_path" not in meta  # Chroma stores no nulls
        assert ("age" in meta) == (record.age is not None)
        back = Case(**Case.metadata_fields(meta))
        assert back == record.model_copy(update={"mask_path": None})
        dumped = record.model_dump(mode="json")
        assert isinstance(dumped["image_path"], str) and Case.model_validate(dumped) == record


def test_external_rows_need_only_an_id_a_diagnosis_and_an_image(tmp_path):
    case = Case(image_id="x1", dx="mel", image_path=tmp_path / "x1.jpg")
    assert case.lesion_id is None and case.sex is None and case.to_metadata()["sex"] == "unknown"


def test_filters_from_cli_pairs_widgets_and_the_older_dict_agree():
    pairs = CaseFilters.from_pairs(["dx=mel,bcc", "sex=male", "age=50-80", "localization=back"])
    assert pairs.exact() == {"dx": ["mel", "bcc"], "sex": ["male"], "localization": ["back"]}
    assert pairs.age_range() == (50.0, 80.0)
    widgets = CaseFilters.from_widgets("bcc", "", "male", "back", 50.0, None)
    assert widgets.widgets("") == ["bcc", "", "male", "back", 50.0, None]
    older = CaseFilters.coerce({"dx": "bcc", "sex": "male", "localization": "back", "age": (50.0, None)})
    assert older == widgets
    assert CaseFilters.coerce(widgets.model_dump(exclude_none=True)) == widgets  # what the app's view keeps
    assert CaseFilters.coerce(None).is_empty() and CaseFilters.from_pairs(["age=60"]).age_range() == (60.0, 60.0)


@pytest.mark.parametrize("bad, message", [
    (["dx=melanoma"], "dx='melanoma' is not one of"),
    (["colour=red"], "unknown filter 'colour'"),
    (["age=old"], "age filter 'old' is not LO-HI"),
    (["age=80-20"], "age range 80-20 is empty"),
    (["sex"], "is not key=value"),
])
def test_bad_filters_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        CaseFilters.from_pairs(bad)


def test_a_newer_filter_replaces_only_what_it_sets():
    older = CaseFilters(sex="female", age_min=60.0)
    newer = older.merged(CaseFilters(localization="face", sex="male"))
    assert (newer.sex, newer.age_min, newer.localization) == ("male", 60.0, "face")


def test_filters_are_described_in_either_language():
    f = CaseFilters(dx="bcc", dx_type="histo", sex="female", localization="back", age_min=50.0)
    zh, en = " ".join(f.describe("zh")), " ".join(f.describe("en"))
    for name in (display_name("bcc", "zh"), confirmation_name("histo", "zh"), BODY_SITES["back"]["zh"], "女性", "50岁及以上"):
        assert name in zh
    for name in (display_name("bcc"), confirmation_name("histo"), "female", "aged 50 or over", "on the back"):
        assert name in en
    assert not any(c.isascii() and c.isalpha() for c in zh)  # no English words in the Chinese description
    assert CaseFilters().describe("en") == []

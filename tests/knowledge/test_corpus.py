"""The knowledge corpus: every document loads, is cited, and follows the format; bad documents fail clearly."""

import re
import shutil

import pytest

from knowledge.corpus import (
    CLASS_TOPICS,
    TOPICS,
    CorpusError,
    class_document_id,
    corpus_fingerprint,
    load_corpus,
)
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES, display_name

GOOD = """---
id: {id}
title: "{title}"
topics: [dermoscopy]
classes: [mel]
references:
  - "Argenziano G, et al. Dermoscopy of pigmented skin lesions. J Am Acad Dermatol. 2003;48(5):679-693."
---
# {title}

## First section
Some text about the first thing.

## Second section
More text.
"""


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_document_loads_with_references_and_sections(corpus):
    assert len(corpus) >= 63
    for doc in corpus:
        assert doc.references and all(len(r) > 30 for r in doc.references), doc.id
        assert doc.sections and all(heading and text for heading, text in doc.sections), doc.id
        assert set(doc.topics) <= set(TOPICS) and set(doc.classes) <= set(CODES), doc.id


def test_ids_are_unique_and_match_file_names(corpus):
    ids = [d.id for d in corpus]
    assert len(ids) == len(set(ids))
    assert all(d.path.stem == d.id for d in corpus)


def test_general_documents_cover_the_required_subjects(corpus):
    general = {d.id for d in corpus if d.path.parent.name == "general"}
    assert len(general) >= 28
    for required in ("abcde-rule", "seven-point-checklist", "three-point-checklist", "pattern-analysis",
                     "photographing-a-lesion", "when-to-see-a-doctor", "sun-protection", "skin-self-examination",
                     "ham10000-dataset", "assistant-risk-tiers", "assistant-abstention", "structure-blue-white-veil",
                     "structure-arborizing-vessels", "structure-lacunae", "structure-central-white-patch"):
        assert required in general


def test_every_class_has_its_five_documents(corpus):
    by_id = {d.id: d for d in corpus}
    missing = [class_document_id(c, t) for c in CODES for t in CLASS_TOPICS if class_document_id(c, t) not in by_id]
    assert not missing, f"class documents not written yet: {missing}"
    for code in CODES:
        for topic in CLASS_TOPICS:
            doc = by_id[class_document_id(code, topic)]
            assert code in doc.classes and topic in doc.topics, doc.id


def test_documents_are_english_and_take_class_names_from_the_taxonomy(corpus):
    cjk = re.compile(r"[\u3400-\u9fff]")
    assert not [d.id for d in corpus if cjk.search(d.title + d.text)]
    mel = next(d for d in corpus if d.id == "mel-overview")
    assert mel.class_names("zh") == [display_name("mel", "zh")] == ["黑色素瘤"]


def test_risk_tier_and_abstention_documents_state_the_configured_rule(corpus):
    """The documents quote the settings' policy and every tier; this fails when the rule changes without them."""
    from knowledge.advice import TIER_ORDER, tier_name

    policy, abstain = get_settings().triage, get_settings().abstain_below
    tiers = next(d for d in corpus if d.id == "assistant-risk-tiers").text
    assert f"at least {policy.target_sensitivity:.0%} of the melanomas" in tiers
    assert f"no more than {policy.nv_referral_budget:.0%} of the validation naevi" in tiers
    zh = next(d for d in load_corpus(lang="zh") if d.id == "assistant-risk-tiers").text
    assert f"至少{policy.target_sensitivity:.0%}的黑色素瘤" in zh and f"不超过{policy.nv_referral_budget:.0%}" in zh
    assert f"new in an adult over {policy.new_lesion_age:g}" in tiers
    for tier in TIER_ORDER:
        assert tier_name(tier, "en") in tiers
    assert "monitor" not in next(d for d in corpus if d.id == "when-to-see-a-doctor").text.split("risk tiers")[-1][:80]
    assert f"below {abstain:.0%}" in next(d for d in corpus if d.id == "assistant-abstention").text


def test_readme_is_not_a_document_and_sections_split_on_level_two_headings(tmp_path):
    write(tmp_path, "README.md", "# not a document\n")
    write(tmp_path, "general/a-doc.md", GOOD.format(id="a-doc", title="A: doc"))
    (doc,) = load_corpus(tmp_path)
    assert doc.sections == (("First section", "Some text about the first thing."), ("Second section", "More text."))
    assert doc.title == "A: doc" and doc.classes == ("mel",) and doc.topics == ("dermoscopy",)


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.format(id="x-doc", title="X").replace("classes: [mel]\n", ""), r"x-doc\.md: missing field\(s\) classes"),
        (GOOD.format(id="x-doc", title="X").replace("[mel]", "[melanoma]"), r"x-doc\.md: unknown class code 'melanoma'"),
        (GOOD.format(id="x-doc", title="X").replace("[dermoscopy]", "[dermatoscopy]"), r"x-doc\.md: unknown topic 'dermatoscopy'"),
        (GOOD.format(id="x-doc", title="X").replace("More text.\n", ""), r"x-doc\.md: section 'Second section' is empty"),
        (GOOD.format(id="x-doc", title="X").replace("# X\n", "# Y\n"), r"x-doc\.md: '# Y' does not match the front-matter title 'X'"),
        (GOOD.format(id="x-doc", title="X").replace("# X\n", "# X\nintro\n"), r"x-doc\.md: body line 2: text before the first '##'"),
        (GOOD.format(id="x-doc", title="X").replace("references:\n  - \"Argenziano G, et al. Dermoscopy of pigmented skin lesions. J Am Acad Dermatol. 2003;48(5):679-693.\"", "references: []"), r"x-doc\.md: 'references' is empty"),
        (GOOD.format(id="x-doc", title="X").replace("id: x-doc", "id: X Doc"), r"x-doc\.md: id 'X Doc' must be lowercase"),
        (GOOD.format(id="x-doc", title="X").replace("topics:", "topic:"), r"unknown field\(s\) topic"),
        ("# X\n\n## A\ntext\n", r"x-doc\.md: no YAML front-matter"),
        ("---\nid: [unclosed\n---\n# X\n", r"x-doc\.md: front-matter is not valid YAML"),
    ],
)
def test_malformed_documents_fail_naming_the_file_and_the_problem(tmp_path, text, message):
    write(tmp_path, "general/x-doc.md", text)
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path)


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    write(tmp_path, "general/one.md", GOOD.format(id="same", title="One"))
    write(tmp_path, "classes/two.md", GOOD.format(id="same", title="Two"))
    write(tmp_path, "general/three.md", GOOD.format(id="three", title="Three").replace("[mel]", "[mole]"))
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    message = str(err.value)
    assert "2 problem(s)" in message
    assert "duplicate id 'same'" in message and "three.md: unknown class code 'mole'" in message


def test_an_empty_or_missing_corpus_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no documents"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")


def test_fingerprint_changes_when_a_document_changes(tmp_path):
    src = get_settings().corpus_dir / "general"
    shutil.copytree(src, tmp_path / "general")
    before = corpus_fingerprint(tmp_path)
    assert corpus_fingerprint(tmp_path) == before
    path = tmp_path / "general" / "abcde-rule.md"
    path.write_text(path.read_text() + "\nOne more sentence.\n")
    assert corpus_fingerprint(tmp_path) != before

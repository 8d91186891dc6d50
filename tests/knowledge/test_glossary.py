"""Reading questions: class names in English, abbreviations and Chinese; Chinese turned into English."""

import pytest

from knowledge.glossary import abbreviation_mentions, class_mentions, has_chinese, lay_expansion, to_english
from knowledge.taxonomy import CLASSES


@pytest.mark.parametrize(
    "question, classes",
    [
        ("黑色素瘤的皮肤镜特征", ["mel"]),
        ("黑色素细胞痣会变成黑色素瘤吗", ["nv", "mel"]),  # the naevus name contains 黑色素 but is not melanoma
        ("基底细胞癌和脂溢性角化病的区别", ["bcc", "bkl"]),
        ("Mohs surgery for BCC", ["bcc"]),
        ("are naevi and angiomas related?", ["nv", "vasc"]),
        ("what is a dermatofibroma", ["df"]),
        ("how do I protect my skin from the sun", []),
    ],
)
def test_class_mentions_in_english_and_chinese(question, classes):
    assert class_mentions(question) == classes


def test_every_taxonomy_name_is_recognised():
    for c in CLASSES:
        for name in (c.name_en, c.name_zh, *c.synonyms, *c.synonyms_zh):
            assert c.code in class_mentions(f"tell me about {name}"), (c.code, name)


def test_chinese_questions_become_english_with_class_names_from_the_taxonomy():
    assert to_english("黑色素瘤的皮肤镜特征是什么？") == "Melanoma dermoscopy features what is ?"
    assert to_english("脂溢性角化病怎么治疗") == "Benign keratosis-like lesion treatment"
    assert "see a doctor" in to_english("我背上的痣变大了要不要看医生")
    assert not has_chinese(to_english("一些完全未知的词语"))
    assert to_english("plain English stays as it is") == "plain English stays as it is"


def test_abbreviations_and_lay_words_are_spelled_out():
    assert abbreviation_mentions("is my AK precancerous? and the BCC?") == ["akiec", "bcc"]
    assert abbreviation_mentions("a mole on my back") == []
    assert "malignant" in lay_expansion("is this mole cancer")
    assert lay_expansion("what is a dermatofibroma") == ""


def test_traditional_chinese_is_detected_and_every_chinese_template_survives_the_round_trip():
    """A Traditional writer is answered in Traditional (``to_traditional``) and the answer's checks read it back
    with ``to_simplified``: every fixed Chinese sentence must come back exactly."""
    from agents.templates import T
    from knowledge import advice
    from knowledge.tokenize import to_simplified, to_traditional, writes_simplified, writes_traditional

    texts = [v["zh"] for v in T.values() if isinstance(v.get("zh"), str)]
    texts += [v["zh"] for v in vars(advice).values() if isinstance(v, dict) and isinstance(v.get("zh"), str)]
    texts += [t["zh"] for t in advice.TIER_ADVICE.values()]
    assert len(texts) > 80
    for text in texts:
        trad = to_traditional(text)
        assert to_simplified(trad) == text and not writes_simplified(trad)
    assert to_traditional("概率为15%，人群里") == "概率為15%，人群裡"  # the printed forms, not OpenCC's 爲/羣/裏
    assert writes_traditional("這是什麼") and not writes_traditional("这是什么") and not writes_traditional("是不是癌")
    assert writes_simplified("这是什么") and not writes_simplified("是不是癌") and not writes_simplified("what is this")

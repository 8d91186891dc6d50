"""Age, sex and body site from a chat message: the writer's or a relative's, numbers that are not ages, the most
specific site, in English, Chinese and both mixed (my own phrasings; the blind sets are the intent suite's)."""

import pytest

from knowledge.details import read_age_sex, read_site
from knowledge.patient import read_patient


@pytest.mark.parametrize("text, age, sex", [
    ("29F, first time asking about a mole", 29, "female"), ("M/52 here", 52, "male"), ("(F, 33) spot on my leg", 33, "female"),
    ("female, 48, worried", 48, "female"), ("I'm a 71-year-old retired builder, a man", 71, "male"),
    ("Seventy-four year old woman", 74, "female"), ("44 yo guy", 44, "male"), ("I'm 36", 36, None),
    ("本人男，四十六岁", 46, "male"), ("女，29", 29, "female"), ("我今年五十三了，是个女的", 53, "female"),
    ("我是一名38岁的男性", 38, "male"), ("我是27F", 27, "female"), ("本人female，60歲", 60, "female"),
])
def test_the_writers_age_and_sex_in_many_forms(text, age, sex):
    assert read_age_sex(text) == (age, sex)


@pytest.mark.parametrize("text, age, sex", [
    ("My father is 80 and has a crusty patch on his temple. I'm 50.", 80, "male"),
    ("my 7-year-old daughter has a pink bump", 7, "female"), ("Writing for my wife, she's 41.", 41, "female"),
    ("我爸今年六十九了，耳朵上有个疙瘩", 69, "male"), ("孩子5岁，男孩，脖子上有个红点", 5, "male"),
    ("My brother is 30 and I'm 27; the spot I'm asking about is on my shin", 27, None),
    ("I'm 45 and my mum had melanoma", 45, None),
])
def test_a_relatives_lesion_is_theirs_and_a_relative_only_mentioned_is_not(text, age, sex):
    assert read_age_sex(text) == (age, sex)


@pytest.mark.parametrize("text", ["it's been there for 12 years", "about 6 mm, noticed in 2019", "since I was 14",
                                  "从12岁起就有了", "花了300块", "one of 3 spots", "5 months ago it was smaller", "3年了没变",
                                  "I'm 24 weeks pregnant", "I’m 3 months postpartum", "我怀孕24周了"])
def test_durations_sizes_dates_counts_and_prices_are_never_ages(text):
    assert read_age_sex(text)[0] is None


@pytest.mark.parametrize("text, site", [
    ("on the back of my right hand", "hand"), ("sole of my left foot", "acral"), ("under my big toenail", "acral"),
    ("top of my foot", "foot"), ("nape of the neck", "neck"), ("between my shoulder blades", "back"),
    ("on my eyelid", "face"), ("inner thigh", "lower extremity"), ("left forearm", "upper extremity"),
    ("near my belly button", "abdomen"), ("on my waist", "trunk"), ("in my ear", "ear"),
    ("脚底有个黑点", "acral"), ("手背上", "hand"), ("额头上有块斑", "face"), ("头皮上", "scalp"), ("左小腿上", "lower extremity"),
    ("脚踝旁边", "lower extremity"), ("後背", "back"), ("chest上有个red patch", "chest"),
    ("on the other hand it itches", None), ("I used nail clippers on it", None), ("用指甲刀剪过", None),
    ("it appeared near the end of the year", None),
    # Body words that name no place on the skin: a disease, an organ, an idiom.
    ("She had breast cancer 10 years ago, is this related?", None), ("I have a steady hand lol", None),
    ("hand on heart, it grew", None), ("她得过乳腺癌", None), ("mole on my breast", "chest"),
])
def test_the_most_specific_site_named(text, site):
    assert read_patient(text).site == site or (site is None and read_site(text) is None)

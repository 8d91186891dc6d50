"""The seven HAM10000 diagnostic classes: the only list of labels in dermagraph.

Every other module refers to classes through this module (``CODES``, ``get_class``); the order of
``CODES`` is the order of every probability vector and classifier output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "zh"]


@dataclass(frozen=True)
class LesionClass:
    code: str
    name_en: str
    name_zh: str
    malignant: bool  # malignant or pre-malignant: counts toward the risk tier
    description: str
    synonyms: tuple[str, ...] = ()
    synonyms_zh: tuple[str, ...] = ()
    # In everyday words, for a person who asks for plainer words (knowledge.advice.PLAIN_CLASS), written from the
    # corpus's overview and management documents; none is an all-clear.
    plain_en: str = ""
    plain_zh: str = ""

    def name(self, lang: Language = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en


CLASSES: tuple[LesionClass, ...] = (
    LesionClass(
        code="akiec",
        name_en="Actinic keratosis / intraepithelial carcinoma",
        name_zh="光化性角化病/上皮内癌",
        malignant=True,
        description=(
            "Sun-induced keratinocyte dysplasia, from actinic keratosis to squamous cell carcinoma "
            "in situ (Bowen's disease); can progress to invasive squamous cell carcinoma."
        ),
        synonyms=("actinic keratosis", "bowen's disease", "solar keratosis", "ak", "squamous cell carcinoma in situ"),
        synonyms_zh=("光化性角化病", "日光性角化病", "鲍温病", "原位鳞状细胞癌"),
        plain_en="a rough, scaly patch caused by years of sun (actinic keratosis), or a very early skin cancer that stays in the top layer of the skin (Bowen's disease). It is not dangerous straight away, but some turn into a skin cancer, so a doctor usually treats it",
        plain_zh='由多年日晒引起的粗糙、脱屑的斑块（光化性角化病），或只长在皮肤最表层的极早期皮肤癌（鲍温病）。它不会马上带来危险，但其中一部分会发展成皮肤癌，所以通常需要医生治疗',
    ),
    LesionClass(
        code="bcc",
        name_en="Basal cell carcinoma",
        name_zh="基底细胞癌",
        malignant=True,
        description=(
            "The commonest skin cancer; grows slowly and rarely spreads, but destroys tissue locally "
            "if left untreated."
        ),
        synonyms=("basal cell carcinoma", "basalioma", "rodent ulcer"),
        synonyms_zh=("基底细胞癌", "基底细胞上皮瘤"),
        plain_en='basal cell carcinoma, the most common skin cancer. It grows slowly and very rarely spreads to other parts of the body, but if it is left alone it keeps growing into the skin around it, so it should be removed; treatment usually cures it',
        plain_zh='基底细胞癌，最常见的一种皮肤癌。它长得慢，极少扩散到身体其他部位，但如果不处理会一直向周围皮肤里长，所以应该切除；经过治疗通常可以治好',
    ),
    LesionClass(
        code="bkl",
        name_en="Benign keratosis-like lesion",
        name_zh="良性角化病样病变",
        malignant=False,
        description=(
            "Benign keratinocyte lesions: seborrhoeic keratosis, solar lentigo and lichen-planus-like "
            "keratosis."
        ),
        synonyms=("seborrheic keratosis", "seborrhoeic keratosis", "solar lentigo", "lplk", "age spot"),
        synonyms_zh=("脂溢性角化病", "脂漏性角化症", "老年斑", "日光性黑子", "日光性雀斑样痣", "扁平苔藓样角化病"),
        plain_en="a non-cancerous skin growth, such as a seborrhoeic keratosis (a 'stuck-on', wart-like spot common with age) or a sun spot. Some of these look very like melanoma, which is why a doctor may still want to examine one",
        plain_zh='一种非癌性的皮肤增生，例如脂溢性角化病（年纪大后常见、像“贴”在皮肤上的疣状斑）或日光斑。其中有些看起来很像黑色素瘤，所以医生可能仍要检查',
    ),
    LesionClass(
        code="df",
        name_en="Dermatofibroma",
        name_zh="皮肤纤维瘤",
        malignant=False,
        description="A common benign fibrous nodule of the dermis, often on the legs.",
        synonyms=("dermatofibroma", "benign fibrous histiocytoma"),
        synonyms_zh=("皮肤纤维瘤", "纤维组织细胞瘤"),
        plain_en='a dermatofibroma: a small, firm, non-cancerous bump in the skin, often on the legs, sometimes after an insect bite or a small injury; it often dimples inward when the skin around it is pinched',
        plain_zh='皮肤纤维瘤：一种小而硬的非癌性皮肤结节，常见于腿上，有时出现在蚊虫叮咬或小外伤之后；捏起周围皮肤时它常会向内凹陷',
    ),
    LesionClass(
        code="mel",
        name_en="Melanoma",
        name_zh="黑色素瘤",
        malignant=True,
        description=(
            "Malignant tumour of melanocytes; the skin cancer most likely to spread, curable when "
            "removed early."
        ),
        synonyms=("melanoma", "malignant melanoma"),
        synonyms_zh=("黑色素瘤", "恶性黑色素瘤"),
        plain_en='melanoma, a skin cancer of the cells that make skin pigment. It can spread to other parts of the body, which is why finding it early matters: found early, it is usually cured by a small operation',
        plain_zh='黑色素瘤，一种源于产生色素的细胞的皮肤癌。它可能扩散到身体其他部位，所以早发现很重要：早期发现时，通常一个小手术就能治好',
    ),
    LesionClass(
        code="nv",
        name_en="Melanocytic nevus",
        name_zh="黑色素细胞痣",
        malignant=False,
        description="A benign proliferation of melanocytes: the common mole.",
        synonyms=("nevus", "naevus", "mole", "melanocytic nevus"),
        synonyms_zh=("黑素细胞痣", "色素痣", "黑痣", "痣"),
        plain_en='an ordinary mole (a naevus), a small cluster of pigment cells. Moles are very common and most never cause trouble, but one that is new in an adult, changes, bleeds or looks different from your other moles should be shown to a doctor',
        plain_zh='普通的痣（色素痣），是一小团色素细胞。痣非常常见，大多数一辈子都不会出问题；但成年后新长的、发生变化的、出血的，或与身上其他痣看起来不一样的痣，应请医生看看',
    ),
    LesionClass(
        code="vasc",
        name_en="Vascular lesion",
        name_zh="血管病变",
        malignant=False,
        description=(
            "Benign vascular lesions: cherry angioma, angiokeratoma, pyogenic granuloma and "
            "haemorrhage."
        ),
        synonyms=("angioma", "hemangioma", "haemangioma", "angiokeratoma", "pyogenic granuloma"),
        synonyms_zh=("血管瘤", "樱桃状血管瘤", "血管角皮瘤", "化脓性肉芽肿"),
        plain_en='a spot made of small blood vessels or of blood, such as a cherry angioma or a small bleed in the skin. These are usually not dangerous, but a red bump that grows fast or bleeds easily is usually removed to be sure what it is',
        plain_zh='由小血管或血液形成的斑点，例如樱桃状血管瘤或皮肤里的小出血。这类通常没有危险，但长得快或容易出血的红色小包一般会切除，以确定它到底是什么',
    ),
)

CODES: tuple[str, ...] = tuple(c.code for c in CLASSES)
NUM_CLASSES = len(CODES)
MALIGNANT_CODES: tuple[str, ...] = tuple(c.code for c in CLASSES if c.malignant)
_BY_CODE = {c.code: c for c in CLASSES}

# How a HAM10000 diagnosis was confirmed (metadata column dx_type).
CONFIRMATIONS: dict[str, dict[str, str]] = {
    "histo": {"en": "histopathology", "zh": "组织病理学"},
    "follow_up": {"en": "follow-up examination", "zh": "随访观察"},
    "consensus": {"en": "expert consensus", "zh": "专家共识"},
    "confocal": {"en": "in-vivo confocal microscopy", "zh": "共聚焦显微镜"},
}
SEXES: tuple[str, ...] = ("male", "female", "unknown")


def get_class(code: str) -> LesionClass:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown lesion class {code!r}; expected one of {', '.join(CODES)}") from None


def class_index(code: str) -> int:
    get_class(code)
    return CODES.index(code)


def display_name(code: str, lang: Language = "en") -> str:
    return get_class(code).name(lang)


def confirmation_name(dx_type: str, lang: Language = "en") -> str:
    try:
        return CONFIRMATIONS[dx_type][lang]
    except KeyError:
        raise KeyError(f"unknown confirmation type {dx_type!r}; expected one of {', '.join(CONFIRMATIONS)}") from None

# HAM10000 body sites (metadata column localization), with display names.
BODY_SITES: dict[str, dict[str, str]] = {
    "abdomen": {"en": "abdomen", "zh": "腹部"},
    "acral": {"en": "acral skin", "zh": "肢端"},
    "back": {"en": "back", "zh": "背部"},
    "chest": {"en": "chest", "zh": "胸部"},
    "ear": {"en": "ear", "zh": "耳部"},
    "face": {"en": "face", "zh": "面部"},
    "foot": {"en": "foot", "zh": "足部"},
    "genital": {"en": "genital area", "zh": "生殖器部位"},
    "hand": {"en": "hand", "zh": "手部"},
    "lower extremity": {"en": "lower limb", "zh": "下肢"},
    "neck": {"en": "neck", "zh": "颈部"},
    "scalp": {"en": "scalp", "zh": "头皮"},
    "trunk": {"en": "trunk", "zh": "躯干"},
    "upper extremity": {"en": "upper limb", "zh": "上肢"},
    "unknown": {"en": "unknown site", "zh": "部位未知"},
}
SEX_NAMES: dict[str, dict[str, str]] = {
    "male": {"en": "male", "zh": "男"},
    "female": {"en": "female", "zh": "女"},
    "unknown": {"en": "sex unknown", "zh": "性别未知"},
}


def site_name(localization: str, lang: Language = "en") -> str:
    return BODY_SITES.get(localization, {"en": localization, "zh": localization})[lang]

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
    ),
    LesionClass(
        code="df",
        name_en="Dermatofibroma",
        name_zh="皮肤纤维瘤",
        malignant=False,
        description="A common benign fibrous nodule of the dermis, often on the legs.",
        synonyms=("dermatofibroma", "benign fibrous histiocytoma"),
        synonyms_zh=("皮肤纤维瘤", "纤维组织细胞瘤"),
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
    ),
    LesionClass(
        code="nv",
        name_en="Melanocytic nevus",
        name_zh="黑色素细胞痣",
        malignant=False,
        description="A benign proliferation of melanocytes: the common mole.",
        synonyms=("nevus", "naevus", "mole", "melanocytic nevus"),
        synonyms_zh=("黑素细胞痣", "色素痣", "黑痣", "痣"),
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

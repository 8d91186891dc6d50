"""Dermatology terms across languages and registers, for reading questions.

The corpus is written in English and the text embedder (all-MiniLM-L6-v2) only understands
English, so a Chinese question has to become English before it can be searched. Class names come
from the taxonomy (``name_zh``, ``synonyms_zh``, ``synonyms``); this module holds the rest: the
Chinese words for dermoscopic structures, topics and question forms, and English lay phrases
("skin cancer", "is this mole cancer") that map onto the corpus's vocabulary.

``class_mentions`` says which classes a question names; ``to_english`` rewrites a question into the
English the index understands. Both are deterministic lookups, longest phrase first, so
``黑色素细胞痣`` (naevus) is never read as ``黑色素`` + ``痣`` and ``黑色素瘤`` (melanoma) never as naevus.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from knowledge.taxonomy import BODY_SITES, CLASSES
from knowledge.tokenize import to_simplified

# Chinese -> English, for everything that is not a class name (those come from the taxonomy).
ZH_TERMS: dict[str, str] = {
    # examination and structures
    "皮肤镜": "dermoscopy", "皮镜": "dermoscopy", "皮肤镜下": "under dermoscopy", "镜下": "under dermoscopy",
    "色素网": "pigment network", "色素网络": "pigment network", "负性色素网": "negative pigment network",
    "不典型色素网": "atypical pigment network", "典型色素网": "typical pigment network",
    "点和球": "dots and globules", "小点": "dots", "小球": "globules", "球状": "globules", "点状": "dots",
    "条纹": "streaks", "放射状条纹": "radial streaks", "伪足": "pseudopods", "星爆": "starburst pattern",
    "蓝白幕": "blue-white veil", "蓝白色幕": "blue-white veil", "蓝白结构": "blue-white structures",
    "退化": "regression", "消退": "regression", "退行": "regression", "瘢痕样": "scar-like", "胡椒粉样": "peppering",
    "血管模式": "vascular pattern", "血管结构": "vascular structures", "血管形态": "vessel morphology",
    "树枝状血管": "arborizing vessels", "分枝状血管": "arborizing vessels", "点状血管": "dotted vessels",
    "发夹状血管": "hairpin vessels", "逗号样血管": "comma vessels", "肾小球样血管": "glomerular vessels",
    "粟粒样囊肿": "milia-like cysts", "粟丘疹样囊肿": "milia-like cysts", "粉刺样开口": "comedo-like openings",
    "脑回状": "brain-like fissures and ridges", "叶状": "leaf-like areas", "枫叶状": "leaf-like areas",
    "轮辐状": "spoke-wheel areas", "蓝灰色卵圆巢": "blue-grey ovoid nests", "蓝灰色": "blue-grey",
    "中央白斑": "central white patch", "白色斑片": "white patch", "腔隙": "lacunae", "红蓝腔隙": "red-blue lacunae",
    "亮白结构": "shiny white structures", "白色亮线": "shiny white lines", "玫瑰花瓣": "rosettes",
    "溃疡": "ulceration", "颜色": "colours", "几种颜色": "number of colours", "结构": "structures",
    "平行嵴": "parallel ridge pattern", "平行沟": "parallel furrow pattern", "甲": "nail", "指甲": "nail",
    "甲黑线": "longitudinal melanonychia nail band", "面部": "face", "脸上": "face", "手掌": "palms", "脚底": "soles",
    "足底": "soles", "肢端": "acral palms soles",
    # rules and methods
    "ABCDE法则": "ABCDE rule", "ABCDE规则": "ABCDE rule", "ABCD法则": "ABCD rule", "ABCD规则": "ABCD rule",
    "七点检查": "7-point checklist", "七点清单": "7-point checklist", "7点": "7-point checklist",
    "三点检查": "3-point checklist", "三点清单": "3-point checklist", "3点": "3-point checklist",
    "模式分析": "pattern analysis", "评分": "score", "丑小鸭": "ugly duckling sign", "不对称": "asymmetry",
    "对称": "symmetry", "边界": "border", "边缘": "border edge", "直径": "diameter", "演变": "evolving",
    # topics
    "是什么": "what is", "什么是": "what is", "概述": "overview", "特征": "features", "表现": "appearance",
    "长什么样": "what does it look like", "看起来": "looks like", "症状": "signs and symptoms",
    "流行病学": "epidemiology", "发病率": "incidence how common", "多常见": "how common", "常见吗": "how common",
    "危险因素": "risk factors", "风险因素": "risk factors", "病因": "causes", "原因": "causes", "遗传": "genetic family history",
    "家族史": "family history", "年龄": "age", "老年人": "older people", "儿童": "children", "孩子": "children",
    "鉴别诊断": "differential diagnosis", "鉴别": "differential diagnosis tell apart", "区别": "difference between",
    "区分": "tell apart", "混淆": "confused with", "像": "looks like",
    "治疗": "treatment", "怎么治": "treatment", "处理": "management", "手术": "surgery", "切除": "excision",
    "冷冻": "cryotherapy", "激光": "laser", "外用药": "topical treatment", "光动力": "photodynamic therapy",
    "放疗": "radiotherapy", "免疫治疗": "immunotherapy", "靶向治疗": "targeted therapy", "随访": "follow-up",
    "复查": "follow-up", "预后": "prognosis", "转移": "spread metastasis", "复发": "recurrence",
    "活检": "biopsy", "病理": "histopathology", "病理报告": "histopathology report", "诊断": "diagnosis",
    "确诊": "confirm diagnosis", "厚度": "Breslow thickness",
    # referral and prevention
    "看医生": "see a doctor", "就医": "see a doctor", "医生": "doctor", "皮肤科": "dermatologist",
    "皮肤科医生": "dermatologist", "紧急": "urgent", "急": "urgent", "什么时候": "when",
    "防晒": "sun protection", "防晒霜": "sunscreen", "晒伤": "sunburn", "紫外线": "ultraviolet UV",
    "日光浴床": "sunbed", "晒太阳": "sun exposure", "自查": "self-examination", "自我检查": "self-examination",
    "检查皮肤": "skin examination", "预防": "prevention",
    "拍照": "photograph", "拍摄": "photograph", "照片": "photo", "图片质量": "image quality", "清晰": "sharp focus",
    "模糊": "blurry", "光线": "lighting", "全身摄影": "total body photography", "数字随访": "digital follow-up",
    "肤色": "skin colour", "皮肤类型": "skin type Fitzpatrick", "深色皮肤": "dark skin",
    # the assistant and its data
    "概率": "probability", "百分比": "percentages", "校准": "calibration", "可信": "reliable", "准确": "accurate",
    "相似病例": "similar cases", "相似": "similar", "风险等级": "risk tier", "风险": "risk", "低风险": "low risk",
    "不确定": "uncertain", "拒绝回答": "abstain decline to answer", "无法判断": "cannot tell abstain",
    "数据集": "dataset", "人工智能": "artificial intelligence AI", "偏差": "bias", "偏见": "bias", "局限": "limitations",
    # lay words
    "皮肤癌": "skin cancer", "癌症": "cancer", "癌": "cancer", "恶性": "malignant", "良性": "benign",
    "危险": "dangerous", "严重": "serious", "痒": "itching", "出血": "bleeding", "流血": "bleeding",
    "变大": "growing bigger", "长大": "growing", "变化": "changing", "新长": "new", "黑点": "dark spot",
    "斑": "spot", "疙瘩": "bump", "肿块": "lump", "红点": "red spot", "小红点": "small red spot",
    "要不要": "should I", "需要": "need", "怎么办": "what should I do", "会不会": "could it be",
    "是不是": "is it", "吗": "",
}

# English lay phrases -> the corpus's words (appended, never replacing what the user wrote).
LAY_EXPANSIONS: dict[str, str] = {
    "skin cancer": "melanoma basal cell carcinoma malignant",
    "cancer": "malignant",
    "cancerous": "malignant",
    "spot": "lesion",
    "freckle": "lentigo",
    "liver spot": "solar lentigo",
    "blood spot": "angioma vascular",
    "red bump": "angioma vascular",
    "doctor": "dermatologist referral",
    "scope": "dermoscopy",
    "sunscreen": "sun protection",
    "check my skin": "self-examination",
    "picture": "photograph image",
    "photo": "photograph image",
    "percent": "probability",
    "percentage": "probability",
    "confidence": "probability calibration",
    "suspicious": "warning signs ABCDE",
    "warning sign": "ABCDE",
    "tested": "biopsy histopathology",
    "testing": "biopsy histopathology",
    "lab": "biopsy histopathology",
    "cut out": "excision",
}

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def normalise(text: str) -> str:
    """NFKC (full-width letters and punctuation become ASCII), traditional Chinese characters as simplified
    (one dictionary for both scripts), collapsed whitespace."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return to_simplified(text) if has_chinese(text) else text




@dataclass(frozen=True)
class _Phrase:
    text: str
    english: str
    code: str | None  # the class it names, if any


@lru_cache(maxsize=1)
def _zh_phrases() -> tuple[_Phrase, ...]:
    phrases = {term: _Phrase(term, en, None) for term, en in ZH_TERMS.items()}
    for c in CLASSES:
        for name in (c.name_zh, *c.name_zh.split("/"), *c.synonyms_zh):
            if name.strip():
                phrases[name.strip()] = _Phrase(name.strip(), c.name_en, c.code)
                # said without its last character too ("脂溢性角化", "光化性角化"), when what is left is still specific
                if name.strip().endswith(("病", "症")) and len(name.strip()) >= 5:
                    phrases.setdefault(name.strip()[:-1], _Phrase(name.strip()[:-1], c.name_en, c.code))
    for site, names in BODY_SITES.items():
        if site != "unknown":
            phrases.setdefault(names["zh"], _Phrase(names["zh"], names["en"], None))
    return tuple(sorted(phrases.values(), key=lambda p: -len(p.text)))


@lru_cache(maxsize=1)
def _en_class_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    patterns = []
    for c in CLASSES:
        names = {c.code, c.name_en.lower(), *(s.lower() for s in c.synonyms)}
        names |= {part.strip() for part in c.name_en.lower().split("/")}
        for name in sorted(filter(None, names), key=len, reverse=True):
            plural = rf"|{re.escape(name[:-2])}i" if name.endswith("us") else ""  # naevus -> naevi
            # Between non-letters, so inside Chinese text too ("结果说mel", "这个bcc会扩散吗").
            patterns.append((re.compile(rf"(?<![A-Za-z])(?:{re.escape(name)}(?:e?s)?{plural})(?![A-Za-z])", re.IGNORECASE), c.code))
    return tuple(patterns)


def class_mentions(text: str) -> list[str]:
    """Class codes a question names, in order of first mention (English or Chinese, codes too)."""
    text = normalise(text)
    found: dict[str, int] = {}
    for pattern, code in _en_class_patterns():
        if m := pattern.search(text):
            found[code] = min(found.get(code, m.start()), m.start())
    masked = text
    for phrase in _zh_phrases():
        pos = masked.find(phrase.text)
        if pos < 0:
            continue
        if phrase.code is not None:
            found[phrase.code] = min(found.get(phrase.code, pos), pos)
        # blank the match so a shorter phrase inside it (痣 in 黑色素细胞痣) is not read again
        masked = masked.replace(phrase.text, "\0" * len(phrase.text))
    return sorted(found, key=found.__getitem__)


def abbreviation_mentions(text: str) -> list[str]:
    """Classes named by a code or a short abbreviation ("BCC", "AK", "mel"): the embedder cannot
    read those, so the question should also carry the class's full English name."""
    words = set(re.findall(r"[a-z]+", normalise(text).lower()))
    found = []
    for c in CLASSES:
        # an abbreviation: very short ("ak") or without vowels ("lplk"); "mole" is a word, not one
        short = {c.code} | {
            s.lower() for s in c.synonyms if s.isalpha() and (len(s) <= 3 or not set(s.lower()) & set("aeiou"))
        }
        if words & short:
            found.append(c.code)
    return found


def to_english(text: str) -> str:
    """The question with every known Chinese phrase replaced by English; unknown Chinese dropped."""
    text = normalise(text)
    if not has_chinese(text):
        return text
    out = text
    for phrase in _zh_phrases():
        if phrase.text in out:
            out = out.replace(phrase.text, f" {phrase.english} " if phrase.english else " ")
    out = _CJK.sub(" ", out)
    out = re.sub(r"[，。？！、；：“”‘’（）《》]", " ", out)
    return " ".join(out.split())


def lay_expansion(text: str) -> str:
    """Corpus words for the lay phrases in an English question (empty when there are none)."""
    lowered = text.lower()
    extra = [words for phrase, words in LAY_EXPANSIONS.items() if re.search(rf"\b{re.escape(phrase)}s?\b", lowered)]
    return " ".join(extra)


def chinese_terms() -> list[str]:
    """Every Chinese dermatology phrase this glossary knows (class names and synonyms, structures, sites):
    the Chinese tokenizer's extra dictionary, so these words are never cut in the wrong place."""
    return [p.text for p in _zh_phrases() if has_chinese(p.text) and len(p.text) > 1]


# Skin conditions people ask about that are none of the seven classes. The classifier always names one of the
# seven, so a question about one of these gets a plain "this tool cannot tell" rather than the nearest class.
# (English pattern, Chinese pattern, English name, Chinese name); Chinese patterns run on Simplified text.
OUTSIDE_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    (r"eczema|dermatitis", r"湿疹|皮炎", "eczema", "湿疹"),
    (r"psoriasis", r"银屑病|牛皮癣", "psoriasis", "银屑病"),
    (r"fung(?:al|us)|ringworm|tinea", r"真菌|霉菌|(?<!牛皮)癣", "a fungal infection", "真菌感染"),
    (r"acne|pimples?|zits?", r"痤疮|青春痘|痘痘|粉刺", "acne", "痤疮"),
    (r"cysts?", r"囊肿", "a cyst", "囊肿"),
    (r"skin tags?", r"皮赘", "a skin tag", "皮赘"),
    (r"hives|urticaria", r"荨麻疹", "hives", "荨麻疹"),
    (r"scabies", r"疥疮", "scabies", "疥疮"),
    (r"(?:insect|bug|mosquito|spider|tick) bites?", r"蚊虫叮咬|虫咬|被.{0,2}咬", "an insect bite", "虫咬"),
    (r"vitiligo", r"白癜风", "vitiligo", "白癜风"),
    (r"rosacea", r"玫瑰痤疮|酒渣鼻", "rosacea", "玫瑰痤疮"),
    (r"shingles|herpes|cold sores?", r"疱疹", "shingles or herpes", "疱疹"),
    (r"rash(?:es)?", r"皮疹|疹子", "a rash", "皮疹"),
    (r"bruis(?:e|ed|ing)|blood blister|ha?ematoma", r"淤青|瘀青|淤血|瘀血|血泡|血肿", "a bruise or blood blister", "淤青或血泡"),
)


@lru_cache(maxsize=1)
def _outside_patterns() -> tuple[tuple[re.Pattern[str], re.Pattern[str], str, str], ...]:
    return tuple((re.compile(rf"\b(?:{en})\b", re.IGNORECASE), re.compile(zh), en_name, zh_name)
                 for en, zh, en_name, zh_name in OUTSIDE_CONDITIONS)


def outside_conditions(text: str, lang: str) -> list[str]:
    """The conditions outside the seven classes that ``text`` names, in ``lang``, in the order of the table."""
    text = normalise(text)
    return [zh_name if lang == "zh" else en_name for en, zh, en_name, zh_name in _outside_patterns()
            if en.search(text) or zh.search(text)]

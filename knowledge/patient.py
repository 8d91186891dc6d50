"""What the person tells us about themselves and the lesion: age, sex, body site and its history.

Given as optional fields (app, ``ask --age --sex --site --history``) or in the chat text, in English
or Chinese. It is data for the triage rule (``agents.risk``), never instructions. Each history sign is
a warning sign in the guidance the corpus cites: change (evolution in ABCDE; change in size, shape or
colour in the NICE NG12 weighted 7-point checklist), bleeding or oozing, itch or altered sensation,
a lesion that does not heal, a new lesion in an adult, and the EFG signs of nodular melanoma
(elevated, firm, growing). A negated sign ("it doesn't itch", "没有变化") is not a sign.
"""

from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel, Field, ValidationError, field_validator

from knowledge.details import read_age_sex, read_site
from knowledge.taxonomy import BODY_SITES
from knowledge.tokenize import to_simplified

# sign -> (English patterns, Chinese patterns), both regular expressions. English ones are matched between non-letters (so inside Chinese text too).
HISTORY_SIGNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "grew": (
        (r"gr[eo]w(?:n|s|ing)?", r"(?:getting|got|gotten|gone|become|became|grown|is|it'?s|looks?|seems?|much|lot|bit|def(?:initely)?) "
         r"(?:\w+ )?(?:bigger|larger|wider)(?! than (?:my|the|all|any|most|other|others)\b)",
         r"(?:bigger|larger|wider) than (?:before|it was|last|a|in|when)",
         r"increas\w* in size", r"enlarg\w*", r"spread(?:ing|s)?", r"more (?:big|large|wide)", r"bigger(?=了)"),
        ("变大", "长大", "增大", "越来越大", "越长越大", "变宽", "扩大", "扩散", "长得(?:特别|很|非常|挺|好)?快", r"(?<!年纪)(?<!岁数)(?<!年龄)大了",
         r"比(?!别的|其他|其它|一般|旁边|周围).{0,6}大", r"从.{0,10}长到", r"范围.{0,4}大"),  # 比: than before, not the others
    ),
    "changed": (
        (r"chang\w*", r"(?:different|irregular|uneven|ragged) (?:shape|colou?r|edges?|border)", r"(?:darker|lighter) than",
         r"(?:got|getting|gotten|gone|become|became|turned|turning|looks?|looking|seems?|is|it'?s|much|bit|lot) "
         r"(?:\w+ )?(?:and )?(?:darker|lighter|blacker|patchy|blotchy|ragged|irregular|uneven|different)",
         r"(?:bigger|larger|wider) and (?:darker|lighter|blacker)", r"turn\w* (?:black|dark|blue|grey|gray|red|white)",
         r"new colou?rs?", r"new (?:bit|part|patch|area|spot|streak|dot)s? of (?:black|blue|grey|gray|red|white|dark|brown)",
         r"(?:tinge|colou?r|shade|patch)\w*(?: \w+){0,3} (?:that|which) (?:wasn'?t|was not) there", r"evolv\w*",
         r"more (?:dark|black|ragged|irregular|uneven|blotchy|patchy)", r"darker", r"blacker"),
        ("变化", "改变", "变了", "变黑", "变深", "变色", "颜色变", "形状变", "不一样了", r"(?:深|黑|浅|紫|蓝)了", r"颜色.{0,8}(?:深|浅|黑|不均|不一样|杂)",
         "不均匀", "不规则了", "不对称了", r"发(?:蓝|紫|灰|黑)", r"(?:边|边缘|边界).{0,6}(?:模糊|不规则|不整齐)了"),
    ),
    "bleeding": (
        (r"bl(?:ed|eed|eeds|eeding)", r"blood(?:y|ied)?(?! thinners?| pressure| tests?| sugar| type| work| donor)", r"ooz\w*",
         r"weep\w*", r"crust\w*", r"scab\w*"),
        ("出血", r"出(?:了|过)(?:很多|好多|不少|一点|点|些)?血", "流血", "渗血", "带血", "渗液", "流水", "结痂", r"结了.{0,3}痂", r"流.{0,2}黄?水", r"流(?:过|了)?.{0,4}血", "出过血", "渗"),
    ),
    "itching": (
        (r"itch\w*", r"(?:is|it'?s|feels?|felt|gets?|getting|got|gone|become|became|been|was|are|bit|quite|very|really|so|slightly|kinda) sore",
         r"tender", r"hurts?", r"painful", r"tingl\w*", r"burn(?:s|ing)(?! (?:it|off|them))", r"sting(?:s|ing|y)?"),
        ("痒", "疼", "痛", "刺痛", "发麻", "麻麻", "刺刺"),
    ),
    "not_healing": (
        (r"(?:won'?t|doesn'?t|does not|not|never|isn'?t|hasn'?t|has not|haven'?t|didn'?t) (?:\w+ ){0,2}heal\w*", r"non[- ]?healing",
         r"keeps? (?:coming back|reopening|re-opening|opening|breaking|bleeding|scabbing|crusting)", r"ulcer\w*",
         r"(?:bleeds|scabs|opens|breaks) (?:\w+ ){0,2}again", r"(?:scab|crust)\w* (?:\w+ ){0,4}(?:falls?|comes?) off"),
        ("不愈合", "反复破", "溃烂", "溃疡", "好不了", "没长好", "长不好", "没好", r"好了又破", r"破了又好", r"掉了又结", r"反反复复", r"反复.{0,4}(?:破|结痂|出血|流血)"),
    ),
    "new": (
        # "new" alone also reads "a new image", "new policy": only new said of the lesion counts.
        (r"(?:is|it'?s|was|looks|seems|quite|brand|fairly|pretty|totally|completely|relatively|come|came|comes) new",
         r"new (?:mole|spot|lesion|growth|bump|lump|mark|freckle|one|patch|dark spot|pigmented|black spot|brown spot)", r"appeared",
         r"came up", r"popped up", r"(?<!that )(?<!which )wasn'?t there",
         r"(?:spot|mole|mark|one|lump|bump|it)(?: \w+){0,2} (?:that |which )wasn'?t there", r"recent(?:ly)? (?:appeared|noticed)", r"just noticed",
         r"never (?:seen|noticed|had) (?:it |this |that )?before",
         r"(?:only |first )?noticed (?:it |this )?(?:(?:last|this) (?:week|month|year|morning|summer|spring|winter|autumn|fall)|"
         r"(?:a few|two|three|\d+) (?:days|weeks|months) ago)",
         r"new(?=[的了])"),
        # "最近长大了" (it recently grew bigger) is growth, not a new lesion: 长 followed by 大 / 得 / 高 / 宽 / 了不少 is not.
        ("新长", "新出现", "新发", r"(?:最近|近来|这几天|前不久)(?:才|刚)?长(?!大|得|高|宽|胖|了不少|了很多|了一些|了点)",
         r"(?:最近|近来|前不久)(?:才|刚)?(?:出现|冒出)", r"以前.{0,4}没有", r"突然(?:长(?!大|得|高|宽)|冒出)", "刚长出", "冒出来",
         r"长了(?:一|个|一个)?新", r"新的(?:黑斑|斑|痣|点|黑点|包|疙瘩)", r"(?:才|刚)(?:发现|注意到|看到)"),
    ),
    "elevated": (
        (r"raised", r"elevated", r"bump\w*", r"lump\w*", r"nodul\w*", r"sticks? (?:out|up)", r"dome\w*", r"(?:can|could) feel it"),
        ("凸", "隆起", "鼓起", "鼓出", "突起", "突出来", "高出", "结节", "疙瘩"),
    ),
    "firm": ((r"firm", r"hard", r"indurat\w*"), ("硬",)),
}
# "not healing" is itself phrased with a negation; it is matched before negation is looked for.
NEGATION_EN = re.compile(r"\b(?:no|not|never|hasn'?t|haven'?t|didn'?t|doesn'?t|don'?t|isn'?t|wasn'?t|without|nor|neither)\b"
                         r"(?:\W+\w+){0,3}\W*$", re.IGNORECASE)
NEGATION_ZH = ("没有", "没", "不", "未", "无", "别")
# Not knowing is not reporting: "idk if the colour changed", "not sure whether it grew".
UNCERTAIN_EN = re.compile(r"\b(?:idk|not sure|unsure|don'?t know|do not know|no idea|wonder(?:ing)?|can'?t tell)\b(?:\W+\w+){0,4}\W*$",
                          re.IGNORECASE)
# A clause about someone else's lesion ("my sister's mole bled", "我老公背上那颗一直在变大") reports nothing about this one;
# someone reporting on this lesion ("my wife says it looks darker") does.
_RELATIVE_EN = (r"(?:sister|brother|mum|mom|mother|dad|father|son|daughter|wife|husband|partner|friend|aunt|uncle|"
                r"grand\w+|cousin|boyfriend|girlfriend|kid|child|baby|colleague|neighbou?r)")
_RELATIVE_ZH = (r"(?:老公|老婆|丈夫|妻子|爸爸|妈妈|爸|妈|父亲|母亲|儿子|女儿|哥哥|姐姐|弟弟|妹妹|哥|姐|弟|妹|姨|舅|叔|姑|朋友|奶奶|爷爷|"
                r"外婆|姥姥|外公|同事|孩子|家人)")
OTHER_PERSON = re.compile(rf"\b(?:my|our) {_RELATIVE_EN}(?:'s|s')|\b(?:my|our) {_RELATIVE_EN} (?:has|had|got|have)\b|"
                          rf"\b(?:his|her|their) (?:mole|spot|one|lesion|birthmark|mark)\b|"
                          rf"{_RELATIVE_ZH}(?:的|[^，。,]{{0,3}}上那?[颗个]|那[颗个])", re.IGNORECASE)

# Another lesion than the one assessed ("the other one on my arm", "耳朵上面還有另一塊", "患者背上还有一个"): from its first
# mention to the end of the sentence the words describe that lesion, so they are not this one's history.
_LESION_EN = r"(?:ones?|moles?|spots?|lesions?|marks?|bumps?|lumps?|patch(?:es)?|freckles?|growths?|birthmarks?)"
OTHER_LESION = re.compile(
    rf"\b(?:the|that|my|an?|one|those|these) other {_LESION_EN}\b|\banother {_LESION_EN}\b|"
    rf"\b(?:a )?(?:second|different|separate) (?:mole|spot|lesion|mark|bump|lump|patch|growth)s?\b|"
    rf"\bother (?:moles|spots|lesions|marks|bumps|lumps|patches|freckles|growths)\b|"
    r"另(?:一|外一?|外)[个颗块处粒枚只](?!问题|疑问|事|图|照片|相片)|(?:还有|仲有|還有)(?:一|两|兩|几|幾|好几|好幾)?[个颗块处粒枚只個顆塊處](?!问题|疑问|事|图|照片|相片|問題)|"
    r"其[他它](?:的)?(?:痣|斑|病变|病變|地方|部位)|别的(?:痣|斑|地方)|另外(?:的)?(?:痣|斑)", re.IGNORECASE)
# ... until the words come back to this one ("my other moles are fine but this one grew", "别的痣都没事，这颗长大了").
THIS_LESION = re.compile(r"\bthis (?:one|mole|spot|lesion|mark|bump|lump|patch|growth)\b|这一?[个颗块粒]", re.IGNORECASE)

SIGN_NAMES: dict[str, dict[str, str]] = {
    "grew": {"en": "it has grown", "zh": "它在长大"},
    "changed": {"en": "it has changed (shape or colour)", "zh": "它发生了变化（形状或颜色）"},
    "bleeding": {"en": "it bleeds, oozes or crusts", "zh": "它出血、渗液或结痂"},
    "itching": {"en": "it itches or hurts", "zh": "它瘙痒或疼痛"},
    "not_healing": {"en": "it does not heal", "zh": "它不愈合"},
    "new": {"en": "it is new", "zh": "它是新出现的"},
    "elevated": {"en": "it is raised", "zh": "它隆起"},
    "firm": {"en": "it is firm", "zh": "它质地坚硬"},
}

SEXES = ("male", "female")
MAX_HISTORY_CHARS = 1000


class PatientInfo(BaseModel):
    """Optional details about the person and the lesion; every field may be missing."""

    age: float | None = None
    sex: str | None = None  # "male" | "female"
    site: str | None = None  # a HAM10000 localization (knowledge.taxonomy.BODY_SITES)
    history: list[str] = Field(default_factory=list)  # signs from HISTORY_SIGNS, in that order
    history_text: str = ""  # what the person wrote, kept as data (shown back, never executed)

    @field_validator("age")
    @classmethod
    def _age(cls, age: float | None) -> float | None:
        if age is not None and not 0 <= age <= 120:
            raise ValueError(f"age must be between 0 and 120 years, got {age:g}")
        return age

    @field_validator("sex")
    @classmethod
    def _sex(cls, sex: str | None) -> str | None:
        if sex is None or sex == "":
            return None
        value = {"m": "male", "f": "female", "男": "male", "女": "female", "man": "male", "woman": "female"}.get(sex.lower().strip(), sex.lower().strip())
        if value not in SEXES:
            raise ValueError(f"sex must be 'male' or 'female' (or left out), got {sex!r}")
        return value

    @field_validator("site")
    @classmethod
    def _site(cls, site: str | None) -> str | None:
        if site is None or site == "":
            return None
        value = normalise_site(site)
        if value is None:
            known = ", ".join(s for s in BODY_SITES if s != "unknown")
            raise ValueError(f"unknown body site {site!r}; use one of: {known}")
        return value

    @field_validator("history")
    @classmethod
    def _history(cls, signs: list[str]) -> list[str]:
        unknown = [s for s in signs if s not in HISTORY_SIGNS]
        if unknown:
            raise ValueError(f"unknown history sign(s) {unknown}; known: {', '.join(HISTORY_SIGNS)}")
        return [s for s in HISTORY_SIGNS if s in signs]

    def is_empty(self) -> bool:
        return self.age is None and self.sex is None and self.site is None and not self.history

    def merged(self, newer: "PatientInfo") -> "PatientInfo":
        """Later statements add to earlier ones; a later age, sex or site replaces the earlier."""
        parts = [self.history_text] + ([newer.history_text] if newer.history_text not in self.history_text.split(" / ") else [])
        text = " / ".join(t for t in parts if t)[-MAX_HISTORY_CHARS:]
        return PatientInfo(age=newer.age if newer.age is not None else self.age, sex=newer.sex or self.sex,
                           site=newer.site or self.site, history=[*self.history, *newer.history], history_text=text)

    def summary(self, lang: str = "en") -> list[str]:
        """What was understood, item by item, in the user's language."""
        items = []
        if self.age is not None:
            items.append(f"{self.age:g} 岁" if lang == "zh" else f"age {self.age:g}")
        if self.sex:
            items.append({"male": "男性", "female": "女性"}[self.sex] if lang == "zh" else self.sex)
        if self.site:
            items.append(f"部位：{BODY_SITES[self.site]['zh']}" if lang == "zh" else f"on the {BODY_SITES[self.site]['en'].lower()}")
        items += [SIGN_NAMES[s]["zh" if lang == "zh" else "en"] for s in self.history]
        return items


_SITE_ALIASES: dict[str, tuple[str, ...]] = {
    "back": ("back", "upper back", "lower back", "后背", "背", "背部"), "trunk": ("trunk", "torso", "躯干"),
    "face": ("face", "cheek", "nose", "forehead", "chin", "脸", "面部", "脸上", "鼻子", "额头"),
    "lower extremity": ("leg", "legs", "thigh", "shin", "calf", "knee", "lower limb", "腿", "大腿", "小腿", "下肢"),
    "upper extremity": ("arm", "arms", "forearm", "shoulder", "elbow", "upper limb", "手臂", "胳膊", "肩膀", "上肢"),
    "abdomen": ("abdomen", "belly", "stomach", "tummy", "肚子", "腹部"), "chest": ("chest", "breast", "胸", "胸口", "胸部"),
    "neck": ("neck", "脖子", "颈部"), "scalp": ("scalp", "head", "头皮", "头上"), "ear": ("ear", "ears", "耳朵", "耳"),
    "foot": ("foot", "feet", "sole", "toe", "toes", "heel", "脚", "脚底", "足", "脚趾"),
    "hand": ("hand", "hands", "palm", "finger", "fingers", "手", "手掌", "手指"),
    "genital": ("genital", "genitals", "生殖器"), "acral": ("acral", "肢端"),
}


def normalise_site(text: str) -> str | None:
    """A HAM10000 localization for a site name in English or Chinese (``None``: not a known site)."""
    value = text.strip().lower().replace("_", " ")
    if value in BODY_SITES and value != "unknown":
        return value
    for site, names in BODY_SITES.items():
        if site != "unknown" and (value == names["en"].lower() or text.strip() == names["zh"]):
            return site
    for site, aliases in _SITE_ALIASES.items():
        if value in aliases:
            return site
    return read_site(text)  # "left forearm", "脚底": the most specific place the words name


# A negation that intensifies or limits, not denies ("does not stop bleeding", "not only itchy", "doesn't always bleed",
# "不停地出血", "不断变大", "不只是痒"): the sign is stated. Chinese not knowing ("不知道有没有出血"): hedged, not denied.
_NOT_DENYING_EN = re.compile(r"\b(?:no|not|never|\w+n't)\W+(?:\w+\W+)?(?:stop\w*|only|just|always|often|much)\W+(?:\w+\W+)?$",
                             re.IGNORECASE)
_NOT_DENYING_ZH = re.compile(r"不(?:停|断|止|只|光|仅|但)[^，。？！,]{0,4}$")
_UNCERTAIN_ZH = re.compile(r"(?:不知道|不确定|不清楚|说不准|有没有|是否)[^，。？！,]{0,6}$")


def _negated(before: str) -> bool:
    """Negated or hedged ("not sure whether it grew", "不知道有没有出血"): not stated."""
    return _plainly_negated(before) or bool(UNCERTAIN_EN.search(before[-50:]) or _UNCERTAIN_ZH.search(before[-12:]))


def _plainly_negated(before: str) -> bool:
    if (UNCERTAIN_EN.search(before[-50:]) or _UNCERTAIN_ZH.search(before[-12:]) or _NOT_DENYING_EN.search(before[-40:])
            or _NOT_DENYING_ZH.search(before[-8:])):
        return False
    if NEGATION_EN.search(before[-40:]):
        return True
    tail = before[-4:]
    return any(tail.endswith(n) or (n in tail and len(tail) - tail.rfind(n) <= 3) for n in NEGATION_ZH)


# A counterfactual ("if it were cancer it would have spread by now", "要是癌早就扩散了") imagines a sign, it does not
# report one. Only the perfect "would have" and a conditional clause's 早就 count: "it would bleed when I shaved" and
# "if I scratch it it bleeds" are reports.
_COUNTERFACTUAL_EN = re.compile(r"\bwould(?:'ve|\s+have)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
_CONDITIONAL_ZH = re.compile(r"(?:如果|要是|假如|若是|若).{0,15}(?:早就|早该|早已)(?:已经|会|该)?.{0,2}$")


def _counterfactual(before: str) -> bool:
    return bool(_COUNTERFACTUAL_EN.search(before[-40:]) or _CONDITIONAL_ZH.search(before[-20:]))


_CLAUSE = re.compile(r"[^.!?。！？;；,，\n]+[.!?。！？;；,，\n]?")
_QUESTION_START = re.compile(r"^\s*(?:and |but |so )?(?:can|could|will|would|should|shall|does|do|did|is|are|was|were|how|what|why|"
                             r"when|where|which|may|might|must|has|have)\b", re.IGNORECASE)


def _is_question(clause: str) -> bool:
    """A question asks rather than tells ("will it hurt?", "要去掉吗？", "会不会溃烂？"): its words are not history. A
    Chinese clause with 了 tells ("它变黑了，是不是癌？" keeps its first clause; "它变黑了吗" is read as telling too)."""
    c = clause.strip()
    if c.endswith(("?", "？")) and _QUESTION_START.search(c):
        return True
    asks = re.search(r"(?:吗|么|呢)[?？]?$", c) or (c.endswith("？") and re.search(r"是不是|会不会|要不要|能不能|怎么办|有没有", c))
    return bool(asks) and not re.search(r"了", c)


_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？\n]*")
_HYPOTHETICAL = re.compile(r"^\s*(?:and |but |so |what )?(?:if|suppose|say|what if|如果|要是|假如|万一|若是)", re.IGNORECASE)


# A comparison names other lesions to describe this one ("bigger than my other moles", "和其他的痣不一样").
_COMPARED = re.compile(r"(?:\b(?:than|as|like|unlike|from|to|with)|比|跟|和|与|像)\s*(?:(?:my|the|all|any|his|her|their|of)\s+)*$",
                       re.IGNORECASE)


def _other_lesions(sentence: str, start: int = 0):
    """Mentions of another lesion in a sentence, comparisons left out."""
    for m in OTHER_LESION.finditer(sentence, start):
        if not _COMPARED.search(sentence[max(0, m.start() - 24): m.start()]):
            yield m


def mentions_other_lesion(text: str | None) -> bool:
    """The message is (also) about another lesion than the one assessed ("is the other one on my ear serious?"); a
    comparison ("bigger than my other moles") or words that come back to this one ("my other moles are fine but this
    one grew") are about this one."""
    for sentence in _SENTENCE.findall(to_simplified(text or "")):
        for other in _other_lesions(sentence):
            if not THIS_LESION.search(sentence, other.end()):
                return True
    return False


def about_this_lesion(text: str) -> str:
    """The words of a message about the lesion assessed: from a mention of another lesion to the end of its sentence
    they are about that one, unless they come back to this one."""
    out = []
    for sentence in _SENTENCE.findall(to_simplified(text)):
        while (other := next(_other_lesions(sentence), None)) is not None:
            back = THIS_LESION.search(sentence, other.end())
            out.append(sentence[: other.start()])
            if back is None:
                sentence = ""
                break
            sentence = sentence[back.start():]
        out.append(sentence)
    return "".join(out)


def history_signs(text: str) -> list[str]:
    """The warning signs a message states (negated ones, questions and other lesions' left out), in ``HISTORY_SIGNS``
    order."""
    return _read_signs(text)[0]


def denied_signs(text: str) -> list[str]:
    """The warning signs a message says are absent ("it does not bleed", "不痒") and does not also state: the learned
    reader may not add them, and a correction withdraws them (``withdrawn_signs``) from what was understood."""
    return _read_signs(text)[1]


# Correcting what was understood ("I never said it bleeds", "sorry, I meant my other mole itches", "I take back what I
# said about it growing", "我没说它出血", "说错了，是另一颗在变大"): only then may a sign leave the record. "It doesn't
# bleed any more" alone does not withdraw an earlier "it bled": a sign the lesion had stays a sign. An apology or another
# mole named alone ("my other mole itches too") is no correction.
_CORRECTION = re.compile(
    r"\b(?:i )?(?:never|didn'?t|did not|don'?t think i) (?:say|said|mean|meant|write|wrote|mention(?:ed)?|type|typed)\b|"
    r"\bi meant\b|\bmis(?:read|understood|understand|spoke|typed|heard)\b|\bmistake\b|\bwrong\b|\btypo\b|"
    r"\btake (?:it|that|this) back\b|\btake back\b|\bscratch that\b|\bcorrect(?:ion|ing)?(?: myself| that| this| what)?\b|"
    r"\bconfus(?:ed|ion|ing)\b|\bmix(?:ed)? (?:it |them |those )?up\b|\bwas (?:thinking of|talking about|describing)\b|"
    r"\bnot (?:this|the same) one\b|\bmy bad\b|"
    r"没说|没有说|并没说|说错|讲错|写错|打错|记错|搞错|弄错|看错|听错|理解错|搞混|弄混|混了|口误|收回|误会|误解|"
    r"不是这个意思|不是(?:这颗|这个|这块|这里)|更正|纠正|不对不对|^\s*不对[，,！!]", re.IGNORECASE)

# Inside a correction, a clause about the mistaken belief or another lesion ("I thought it had gone darker", "以为你问疼
# 不疼", "是胳膊上那颗长大了", "the itchy one is on my leg") states nothing about this one.
_ABOUT_ANOTHER = re.compile(r"\bi (?:thought|was thinking)\b|\bthe (?:other|\w+) one\b|\b(?:my|the|his|her) other\b|以为|"
                            r"那(?:颗|个|块|粒)|另(?:一|外)", re.IGNORECASE)


def withdrawn_signs(text: str | None) -> list[str]:
    """The warning signs a correction takes back: named in it (denied, another mole's, or in the correcting words
    themselves: "I never said it bleeds") but never one the same message states of this lesion ("sorry, typo: it
    bleeds" keeps bleeding), nor one named only in a question. Not a correction: none."""
    text = to_simplified(text or "")
    if not _CORRECTION.search(text):
        return []
    named: set[str] = set()
    stated: set[str] = set()
    for sentence in _SENTENCE.findall(text):
        for clause in _CLAUSE.findall(sentence):
            if not _is_question(clause):
                named |= set(_clause_signs(clause)[2])
                if not _ABOUT_ANOTHER.search(clause):  # "是胳膊上那颗长大了", "the itchy one is on my leg": not this one
                    stated |= set(history_signs(clause))
    return [s for s in HISTORY_SIGNS if s in named and s not in stated]


def _read_signs(text: str) -> tuple[list[str], list[str]]:
    """(stated, denied) warning signs of a message, each in ``HISTORY_SIGNS`` order."""
    found: list[str] = []
    denied: list[str] = []
    text = to_simplified(text)  # Traditional Chinese reads with the same patterns
    for sentence in _SENTENCE.findall(text):
        if _HYPOTHETICAL.search(sentence) and sentence.rstrip().endswith(("?", "？")):
            continue  # "if a new spot shows up at my age, is that a problem?" imagines; "if I scratch it it bleeds." tells
        for clause in _CLAUSE.findall(about_this_lesion(sentence)):
            if not _is_question(clause) and not OTHER_PERSON.search(clause):
                stated, absent, _ = _clause_signs(clause)
                found += [s for s in stated if s not in found]
                denied += [s for s in absent if s not in denied]
    return [s for s in HISTORY_SIGNS if s in found], [s for s in HISTORY_SIGNS if s in denied and s not in found]


# Chinese denials no sign pattern names ("颜色没变", "没变过", "这颗一直这么大"): denied (and named), never stated.
_DENIED_ZH: dict[str, re.Pattern[str]] = {
    "changed": re.compile(r"没(?:有)?变(?:过|化|色)?(?![大小])|一直(?:都)?是这个颜色|颜色(?:一样|没变|没有变)"),
    "grew": re.compile(r"没(?:有)?(?:长大|变大|长过)|一直(?:都)?(?:是)?(?:这么|这样|那么)大|大小(?:没变|一样|没有变)"),
}
# A gapped pattern ("颜色.{0,8}深") may hold its own negation ("颜色没有变深"): negated, not stated.
_NEGATED_INSIDE_ZH = re.compile(r"(?:没有?|未|无|不)(?:有|再|怎么|太)?(?:变|长|深|黑|出血|流血)")


def _clause_signs(text: str) -> tuple[list[str], list[str], list[str]]:
    """(stated, denied, named) signs of one clause: a match counts as stated unless negated, hedged or imagined; a plainly
    negated match ("does not bleed", "没有出血") counts as denied; named: any match."""
    found, denied, named = [], [], []
    for sign, (en, zh) in HISTORY_SIGNS.items():
        # Letters either side end an English word, not Chinese characters: "明显bigger了" reads "bigger".
        matches = [m for pattern in en for m in re.finditer(rf"(?<![A-Za-z])(?:{pattern})(?![A-Za-z])", text, re.IGNORECASE)]
        zh_matches = [m for word in zh for m in re.finditer(word, text)]
        if matches or zh_matches or (sign in _DENIED_ZH and _DENIED_ZH[sign].search(text)):
            named.append(sign)
        if sign in _DENIED_ZH and _DENIED_ZH[sign].search(text):
            denied.append(sign)
        for m in matches + zh_matches:
            before = text[: m.start()]
            inside = m in zh_matches and bool(_NEGATED_INSIDE_ZH.search(m.group()))
            if sign == "not_healing" or not (_negated(before) or _counterfactual(before) or inside):
                found.append(sign)
                break
            if (inside or _plainly_negated(before)) and not _counterfactual(before):
                denied.append(sign)
    return found, [s for s in denied if s not in found], named


def read_patient(text: str | None) -> PatientInfo:
    """Age, sex and history signs stated in a chat message (a body site only in a clear 'on my ...' phrase)."""
    raw = (text or "")[:MAX_HISTORY_CHARS]
    text = to_simplified(raw)  # Traditional Chinese reads with the same patterns; the person's words are kept as written
    if not text.strip():
        return PatientInfo()
    age, sex = read_age_sex(text)
    site = None if mentions_other_lesion(text) else read_site(text)  # "患者背上还有一个": the other lesion's site
    signs = history_signs(text)
    return PatientInfo(age=age, sex=sex, site=site, history=signs, history_text=raw.strip() if signs else "")


def patient_from_fields(age: float | str | None = None, sex: str | None = None, site: str | None = None,
                        history: str | Iterable[str] | None = None) -> PatientInfo:
    """From form fields or CLI flags; raises ``ValueError`` with a clear message on an impossible value."""
    if isinstance(age, str):
        age = age.strip()
        if not age:
            age = None
        else:
            try:
                age = float(age)
            except ValueError:
                raise ValueError(f"age must be a number of years, got {age!r}") from None
    text = history if isinstance(history, str) else ", ".join(history or [])
    text = (text or "")[:MAX_HISTORY_CHARS]
    try:
        return PatientInfo(age=age, sex=sex, site=site, history=history_signs(text) if text else [], history_text=text.strip())
    except ValidationError as exc:
        raise ValueError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None

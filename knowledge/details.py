"""Age, sex and body site said in a chat message, in English or Chinese (the patient fields a message can carry).

Read for the person whose lesion it is: "my dad is 71 and has a spot on his forehead, I'm 40" is a 71-year-old man.
Durations, sizes, dates, counts and prices are never ages ("for 3 years", "6 mm", "2019年", "200块"), nor are ages at
which something began ("since I was 12", "从12岁起"). A site is the most specific place named ("the back of my left
hand" is the hand, "the sole of my foot" acral skin). Nothing here is an instruction: the words are only matched.
Measured on blind messages by the intent suite (``evals/data/patient_details_blind_*.yaml``).
"""

from __future__ import annotations

import re

# --- numbers ---------------------------------------------------------------------------------------------------
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = r"[一二两三四五六七八九十]{1,3}"
_EN_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                                        "fifteen sixteen seventeen eighteen nineteen".split())}
_EN_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_EN_NUMBER = (rf"(?:(?:{'|'.join(_EN_TENS)})(?:[- ](?:{'|'.join(list(_EN_UNITS)[1:10])}))?|"
              rf"(?:{'|'.join(sorted(_EN_UNITS, key=len, reverse=True))}))")


def _number(token: str) -> float | None:
    """A number written in digits, Chinese numerals (二十五, 七十三, 十五) or English words (sixty-two)."""
    token = token.strip().lower()
    if token.isdigit():
        return float(token)
    if re.fullmatch(_CN_NUMBER, token):
        if "十" not in token:
            return float(_CN_DIGITS[token]) if len(token) == 1 else None
        tens, _, units = token.partition("十")
        return float((_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0) if units else 0))
    parts = re.split(r"[- ]", token)
    if parts[0] in _EN_TENS:
        return float(_EN_TENS[parts[0]] + (_EN_UNITS.get(parts[1], 0) if len(parts) > 1 else 0))
    return float(_EN_UNITS[token]) if token in _EN_UNITS else None


# --- who --------------------------------------------------------------------------------------------------------
_RELATIVES_EN = {"male": r"dad|father|son|husband|boyfriend|grandfather|grandpa|brother|uncle|nephew|grandson",
                 "female": r"mum|mom|mother|daughter|wife|girlfriend|grandmother|grandma|granny|sister|aunt|niece|granddaughter",
                 None: r"toddler|child|kid|baby|partner|parent"}
_RELATIVES_ZH = {"male": r"爸爸|我爸|父亲|儿子|老公|丈夫|男朋友|爷爷|外公|姥爷|哥哥|弟弟|男孩|小男孩",
                 "female": r"妈妈|我妈|母亲|女儿|老婆|太太|妻子|媳妇|女朋友|奶奶|外婆|姥姥|姐姐|妹妹|女孩|小女孩",
                 None: r"孩子|小孩|宝宝|宝贝"}
_PRONOUN_SEX = {"he": "male", "his": "male", "him": "male", "she": "female", "her": "female", "他": "male", "她": "female"}
_NOT_AGE = (r"(?!\d)(?!\s*(?:%|percent|months?|weeks?|days?|hours?|years? ago|yrs? ago|mm|cm|millimet\w*|centimet\w*|kg|lbs?|"
            r"pounds?|dollars?|times|毫米|厘米|公分|公釐|mm|年|个月|個月|天|周|週|块|元|次|颗|個|个))")
_AGE_NUMBER = rf"(\d{{1,3}}|{_EN_NUMBER}|{_CN_NUMBER})"

# A relative's age ("my dad is 71", "My husband, 58", "my 85-year-old grandmother", "我爸今年72岁", "孩子4岁"), or a
# pronoun's ("she's 8", "He is 2", "她今年80了").
_RELATIVE_AGE_EN = re.compile(
    rf"\b(?:(?:my|our)\s+)?(?:little\s+|older\s+|younger\s+)?(?P<rel>{'|'.join(_RELATIVES_EN.values())})s?\b[^.!?]{{0,30}}?"
    rf"(?:\bis|\bwas|\bturned|\baged?|,|\(|\bjust|今年)\s*(?:she'?s\s+|he'?s\s+|only\s+|about\s+)?(?P<age>\d{{1,3}}){_NOT_AGE}(?![\d])"
    rf"|\b(?:my|our)\s+(?P<age2>\d{{1,3}})[- ](?:years?|yrs?)[- ]old\s+(?P<rel2>{'|'.join(_RELATIVES_EN.values())})\b"
    rf"|\b(?:my|our)\s+(?P<age3>\d{{1,3}})\s*(?:yo|y/o)\s+(?P<rel3>{'|'.join(_RELATIVES_EN.values())})\b",
    re.IGNORECASE)
_PRONOUN_AGE_EN = re.compile(rf"\b(?P<pro>he|she)(?:'s|\s+is|\s+just turned|\s+turned)\s+(?:only\s+|about\s+)?(?P<age>\d{{1,3}}){_NOT_AGE}\b",
                             re.IGNORECASE)
_RELATIVE_AGE_ZH = re.compile(
    rf"(?P<rel>{'|'.join(_RELATIVES_ZH.values())}|(?<!我)[爸妈])(?:[^，。,；;！？!?]{{0,6}}?)"
    rf"(?:(?:今年|现在|已经)\s*(?P<age>\d{{1,3}}|{_CN_NUMBER})(?![\d])(?!\s*(?:年|月|号|毫米|厘米|块|元|次))|"
    rf"(?P<age2>\d{{1,3}}|{_CN_NUMBER})\s*(?:周?[岁歲]))")
_PRONOUN_AGE_ZH = re.compile(rf"(?P<pro>[他她])(?:今年|现在|已经)?\s*(?P<age>\d{{1,3}}|{_CN_NUMBER})\s*(?:周?[岁歲]|了)")

# The writer's own age.
_SELF_AGE = re.compile(
    rf"\b(?:i['’]?m|i am|im|age[ds]?|aged|age:|turned)\s*(?:a\s+|an\s+|just\s+|now\s+)?{_AGE_NUMBER}{_NOT_AGE}"
    rf"(?:\s*(?:-|\s)?(?:years?|yrs?)(?:[- ]old)?)?(?![\w-])"
    rf"|\bof\s+(\d{{1,3}})\s+years?\b(?! ago)"
    rf"|{_AGE_NUMBER}\s*(?:-|\s)?(?:years?|yrs?)[- ]old\b|{_AGE_NUMBER}-year\b"
    rf"|\b(\d{{1,3}})\s*(?:yo|y/o|y\.o\.)(?![a-z])"
    rf"|\b(\d{{1,3}})\s*(?:years?|yrs?)\s+(?:woman|man|male|female|girl|boy|lady|guy)\b"
    rf"|(?<![A-Za-z0-9.])(\d{{1,3}})\s*(?:[MFmf])(?![A-Za-z0-9])"
    rf"|(?<![A-Za-z'’])[MFmf]\s*[/,]?\s*(\d{{1,3}})(?![\d.]|\s*(?:mm|cm)){_NOT_AGE}"
    rf"|\b(?:male|female|man|woman|guy|lady)\s*[,/]\s*(\d{{1,3}})\b{_NOT_AGE}"
    rf"|\b(\d{{1,3}})\s*,\s*(?:male|female|man|woman)\b"
    rf"|(?<!从)(?<!自从)(?<!自)(?<![\d.])(\d{{1,3}}|{_CN_NUMBER})\s*周?[岁歲](?!的时候|时|那年|起|开始|左右就|就|以前|之前|前)"
    rf"|今年\s*(\d{{1,3}}|{_CN_NUMBER})(?![\d.])(?!\s*(?:年|月|号|毫米|厘米|块|元|次))"
    rf"|(?:^|[，,。；\s])(?:本人)?(?:男|女)(?:性|生|士)?\s*[，,、/ ]\s*(\d{{1,3}})(?![\d.])(?!\s*(?:毫米|厘米|mm|cm|年|个月|天|周|块|元|次))",
    re.IGNORECASE)

_FEMALE_EN = re.compile(r"(?<![A-Za-z])(?:female|woman|girl|lady|gal|mum of|mom of|mother of|grandmother of)(?![A-Za-z])|\(\s*f\s*,|"
                        r"(?<![A-Za-z0-9])\d{1,3}\s*f(?![A-Za-z0-9])|(?<![A-Za-z])f\s*[/,]\s*\d{1,3}", re.IGNORECASE)
_MALE_EN = re.compile(r"(?<![A-Za-z])(?:male|man|guy|gentleman|boy|dude|father of|dad of)(?![A-Za-z])|\(\s*m\s*,|"
                      r"(?<![A-Za-z0-9])\d{1,3}\s*m(?![A-Za-z0-9])|(?<![A-Za-z])m\s*[/,]\s*\d{1,3}", re.IGNORECASE)
_FEMALE_ZH = re.compile(r"女(?!儿|朋友|婿|友|士们)|老太太|阿姨|大妈|宝妈")
_MALE_ZH = re.compile(r"男(?!朋友|友)|老头|大叔|大爷|小伙")


def _relative_subject(text: str) -> tuple[float | None, str | None, bool]:
    """(age, sex, found) of a relative whose lesion it is, by their age being given ("my dad is 71")."""
    for pattern in (_RELATIVE_AGE_EN, _RELATIVE_AGE_ZH):
        if m := pattern.search(text):
            groups = m.groupdict()
            rel = next((groups[k] for k in ("rel", "rel2", "rel3") if groups.get(k)), "")
            age = _number(next(groups[k] for k in ("age", "age2", "age3") if groups.get(k)))
            return age, _relative_sex(rel), True
    for pattern in (_PRONOUN_AGE_EN, _PRONOUN_AGE_ZH):
        if m := pattern.search(text):
            return _number(m.group("age")), _PRONOUN_SEX.get(m.group("pro").lower()), True
    return None, None, False


def _sex_words(text: str) -> str | None:
    """The writer's sex from the words ("34F", "male, 67", "本人女", "老头子"): English first, then Chinese; the
    earlier of two."""
    for female, male in ((_FEMALE_EN.search(text), _MALE_EN.search(text)), (_FEMALE_ZH.search(text), _MALE_ZH.search(text))):
        if female or male:
            if female and male:
                return "female" if female.start() < male.start() else "male"
            return "female" if female else "male"
    return None


def _relative_sex(word: str) -> str | None:
    word = word.lower()
    for table in (_RELATIVES_EN, _RELATIVES_ZH):
        for sex, words in table.items():
            if re.fullmatch(words, word) or (table is _RELATIVES_ZH and re.search(words, word)):
                return sex
    return {"爸": "male", "妈": "female"}.get(word)


# A relative whose lesion it is ("my son's foot", "my husband has a sore on his lip", "我妈妈脸上", "我爸的"), as against a
# relative only mentioned ("I'm 45 and my mum had melanoma").
_ABOUT_RELATIVE = re.compile(
    rf"\b(?:my|our)\s+(?:little\s+|\d{{1,3}}[- ]year[- ]old\s+)?(?P<rel>{'|'.join(_RELATIVES_EN.values())})"
    rf"(?:'s\b|\s+(?:has|got|noticed|found)\b|\b[^.!?]{{0,40}}\b(?:his|her)\b)"
    rf"|(?P<zh>{'|'.join(_RELATIVES_ZH.values())}|我[爸妈])(?:的|[^，。,]{{0,4}}(?:上|有|长))", re.IGNORECASE)


_SELF_MARK = re.compile(rf"\b(?:on|in|at|about) my\b(?!\s+(?:little\s+)?(?:{'|'.join(_RELATIVES_EN.values())}))|\bmy own\b|\bmine\b|"
                        r"\bi'?m asking about\b|我自己|我这|我的", re.IGNORECASE)
_OTHER_MARK = re.compile(r"(?<!not )\b(?:his|her|hers)\b|他的|她的|他身上|她身上", re.IGNORECASE)


def read_age_sex(text: str) -> tuple[float | None, str | None]:
    """The age (years, 0-120, else None) and sex ("male" | "female" | None) of the person whose lesion it is."""
    age, sex, found = _relative_subject(text)
    if found and _SELF_MARK.search(text) and not _OTHER_MARK.search(text):
        age, sex, found = None, None, False  # "my sister is 33 and I'm 30 ... the spot is on my finger": the writer's
    if found and sex is None:  # "孩子4岁，男孩": the child's sex from the words
        sex = _sex_words(text)
    if not found:
        if (m := _ABOUT_RELATIVE.search(text)) and not (_SELF_MARK.search(text) and not _OTHER_MARK.search(text)):
            return None, _relative_sex(m.group("rel") or m.group("zh"))  # "my husband has a sore on his lip": his
        if m := _SELF_AGE.search(text):
            age = _number(next(g for g in m.groups() if g))
        sex = _sex_words(text)
    if age is not None and not 0 <= age <= 120:
        age = None
    return age, sex


# --- where ------------------------------------------------------------------------------------------------------
# Most specific first: the first entry naming a place in the message is the site. English words match between
# non-letters (so inside Chinese text too); "back of the hand", "top of the foot" name the hand and the foot.
SITE_WORDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("acral", ("soles?(?: of (?:my|the|his|her) (?:left |right )?foot)?", "palms?", "toe ?nails?", "finger ?nails?", "nail ?beds?",
               "nails?(?! clipper| polish| scissor| file| varnish)", "acral(?: skin)?"),
     ("脚底", "脚掌", "足底", "脚心", "手掌", "手心", "掌心", "指甲(?!刀|剪|钳|油)", "趾甲", "甲床", "肢端")),
    ("genital", ("genitals?", "genital area", "penis", "scrotum", "vulva", "labia", "groin"),
     ("生殖器", "阴囊", "阴茎", "外阴", "私处", "会阴", "下体")),
    ("hand", (r"back of (?:my |the |his |her |your )?(?:left |right )?hands?",), ("手背",)),
    ("foot", (r"top of (?:my |the |his |her |your )?(?:left |right )?(?:foot|feet)",), ("脚背", "足背")),
    ("neck", (r"back of (?:my |the |his |her |your )?neck", "nape"), ("后颈", "脖子后")),
    ("lower extremity", (r"back of (?:my |the |his |her |your )?(?:left |right )?(?:calf|calves|leg|legs|knee|thigh)",), ()),
    ("upper extremity", (r"back of (?:my |the |his |her |your )?(?:left |right )?(?:upper )?arms?",), ()),
    ("scalp", (r"top of (?:my |the |his |her |your )?head", "scalp"), ("头皮", "(?<!额)头顶", "(?<!额)头上")),
    ("ear", ("ears?", "earlobes?", r"top of (?:my |the |his |her |your )?(?:left |right )?ear"), ("耳",)),
    ("back", ("shoulder ?blades?", "(?:upper|lower|mid|middle) back", r"(?:my|the|his|her|your|on) back(?! of)", "small of (?:my|the) back"),
     ("后背", "背部", "背上", "肩胛", "下背", "背后")),
    ("face", ("face", "cheeks?", "nose", "nostril", "forehead", "chin", "lips?", "eyelids?", "eyebrows?", "temples?", "jaw(?:line)?",
              "cheekbone"),
     ("脸", "面部", "鼻", "额头", "前额", "下巴", "嘴唇", "唇", "眼皮", "眼睑", "眉", "太阳穴", "颧骨", "腮")),
    ("neck", ("neck",), ("脖子", "颈")),
    ("hand", ("(?<!other )hands?", "fingers?", "knuckles?", "thumbs?"), ("手指", "手上", "拇指")),
    ("foot", ("foot", "feet", "toes?", "heels?", "instep"), ("脚趾", "脚上", "脚跟", "足跟", "脚(?!踝|腕)")),
    ("upper extremity", ("forearms?", "upper arms?", "arms?", "elbows?", "wrists?", "shoulders?", "armpits?", "upper limbs?"),
     ("手臂", "胳膊", "上臂", "前臂", "手腕", "手肘", "肘", "肩膀", "肩", "腋", "上肢")),
    ("lower extremity", ("thighs?", "shins?", "calf", "calves", "knees?", "ankles?", "hips?", "legs?", "lower limbs?"),
     ("大腿", "小腿", "膝", "脚踝", "踝", "腿", "髋", "下肢")),
    ("chest", ("chest", "breasts?", "collarbone", "cleavage"), ("胸", "锁骨")),
    ("abdomen", ("abdomen", "belly(?: button)?", "stomach", "tummy", "navel", "umbilicus"), ("肚子", "腹", "肚脐")),
    ("trunk", ("trunk", "torso", "waist", "flanks?", r"side of (?:my|the|his|her) (?:body|torso|chest|abdomen|stomach)"),
     ("腰", "躯干", "侧身")),
)
_SITE_PATTERNS = [(site, re.compile("|".join([*(rf"(?<![A-Za-z])(?:{w})(?![A-Za-z])" for w in en), *zh]), re.IGNORECASE))
                  for site, en, zh in SITE_WORDS]


# Body words that name no place on the skin: diseases and organs ("she had breast cancer", "stomach ache") and idioms
# ("I have a steady hand", "on the other hand", "hand on heart").
_NOT_SITE = re.compile(
    r"\b(?:breast|stomach|chest|lung|colon|bowel|neck|back|head|ear|nose|throat|leg|arm|foot|hand)s?[- ]?(?:cancer|tumou?r|pain|"
    r"aches?|infection|bug|upset|feeding|fed|milk|x-?rays?|scans?|surgery|reduction|implants?|exam\w*|screening|mri|ct)\b|"
    r"\bbreast-?feed\w*|\b(?:steady|free|upper|other|first|second|helping|old|farm|deck) hands?\b|\bhand on (?:my )?heart\b|"
    r"\bon (?:the )?(?:one|other) hand\b|\bhands?[- ]on\b|\b(?:by|at|in|out of|on) hand\b|\bhand in hand\b|"
    r"\bin (?:good|safe|your|my) hands\b|\bback (?:then|home|in|when|to|and forth)\b|\b(?:get|got|come|came|go|went|write|wrote|"
    r"call|called|hear|heard) back\b|\bhead(?:ache|ing|ed|s up)\b|\bface[- ]?(?:time|book|to face)\b|"
    r"乳腺癌|乳癌|乳腺|胃癌|肺癌|肝癌|胸闷|胸痛|心口痛|手稳|顺手|背景|背锅|背着|脸色|丢脸|面子",
    re.IGNORECASE)


def read_site(text: str) -> str | None:
    """The most specific body site the message names, or None."""
    text = _NOT_SITE.sub(" ", text)
    for site, pattern in _SITE_PATTERNS:
        if pattern.search(text):
            return site
    return None

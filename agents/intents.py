"""What a turn asks for, read from the user's words (English or Chinese).

``read_turn`` returns a typed ``TurnIntent``: the kind of request, the classes it names, case
filters it states ("only histology-confirmed cases", "women over 50", "背部"), and whether its words
touch on whether the lesion is harmless. The graph routes on it.

The kind comes from the learned intent model (``models.intent``, trained on 1,089 labelled
EN/ZH questions; held-out accuracy in docs/evaluation.md). The phrase rules below remain for what rules
do well and safely: the classes named, the case filters (read only when the question is about the cases,
so "it grew in 3 months" is never an age filter), the self-treatment override (a request to cut, burn or
freeze the lesion at home always gets the clear no, whatever the model says), the reassurance flag
(unioned with the model's: either one adds the cannot-confirm-benign guard), and a fallback when the
model artifact is missing.
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, Field

from knowledge.cases import CaseFilters  # noqa: F401  (also imported from here by consultations saved before the move)
from knowledge.tokenize import to_simplified
from knowledge.glossary import class_mentions, outside_conditions
from knowledge.settings import get_settings
from knowledge.patient import (HISTORY_SIGNS, MAX_HISTORY_CHARS, PatientInfo, about_this_lesion, denied_signs, mentions_other_lesion,
                               read_patient, withdrawn_signs)
from knowledge.taxonomy import BODY_SITES, CONFIRMATIONS

from agents.language import detect_language


class IntentKind(str, Enum):
    ASSESS = "assess"  # a new image: run the whole pipeline
    DIFFERENTIAL = "differential"  # why X and not Y?
    CASE_FILTER = "case_filter"  # re-query similar cases with filters
    MORE_CASES = "more_cases"  # the next page of similar cases
    DEFINE = "define"  # what is X?
    ADVICE = "advice"  # what should I do?
    FEATURES = "features"  # describe the lesion's shape, border, colours
    PUSHBACK = "pushback"  # the user insists on a different answer without new evidence
    SELF_TREAT = "self_treat"  # the user asks about removing or treating the lesion (themselves, or at a clinic/salon)
    LOOK_FOR = "look_for"  # what would a dermatologist look for; which structures separate the candidates
    GENERAL = "general"  # any other question: answer from the knowledge corpus


class TurnIntent(BaseModel):
    kind: IntentKind
    language: str = "en"
    classes: list[str] = Field(default_factory=list)  # classes the question names, in order of mention
    filters: CaseFilters = Field(default_factory=CaseFilters)
    clear_filters: bool = False
    question: str = ""
    # The words touch on whether the lesion is harmless (benign, fine, cancer, worry, 良性, 没事, 癌 ...): whatever
    # the intent, the answer then says the tool cannot confirm it is benign and lists the warning signs.
    reassurance: bool = False
    # Asked alongside whatever the turn is (also with a new image): the answer addresses each.
    self_treatment: bool = False  # treating or removing it themselves, creams and home remedies included
    removal_elsewhere: bool = False  # having it removed by a clinic or a beauty salon (laser, freezing, excision)
    delay: bool = False  # skipping or putting off the examination (the phrase rules or the intent model's delay flag)
    delay_phrase: bool = False  # the phrase rules read it (precise; the model's flag is tuned for recall)
    sun_only: bool = False  # sun protection offered instead of the examination
    other_lesion: bool = False  # it (also) asks about another lesion than the one assessed ("and the one on my ear?")
    plain: bool = False  # asks for plainer or shorter words ("in simple words", "说简单点", "讲给我老公听", "in one sentence")
    clinician: bool = False  # the writer says they are a clinician or a student ("GP here", "我是全科医生", "my patient")
    stop_bleeding: bool = False  # how to stop it bleeding ("how do I stop it bleeding next time", "出血了怎么止血")
    result_claim: str | None = None  # a class the words say the result named ("the model says akiec", "结果显示是脂溢性角化")
    # warning signs a correction takes back ("I never said it bleeds"); the graph keeps only those on record, and none
    # in pushback arguing the lesion is benign (``argues_benign``)
    withdrawn: list[str] = Field(default_factory=list)
    cost: bool = False  # what an examination or biopsy costs
    other_conditions: list[str] = Field(default_factory=list)  # conditions outside the seven classes it names ("eczema")
    traditional: bool = False  # written in Traditional Chinese (the thread's earlier turns count): answered in it


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


_PLAIN = _rx(
    r"\b(?:simpler|simple|plain|plainer|everyday|normal|easy|easier|non-?medical|lay(?:man'?s)?|layperson'?s?) "
    r"(?:words|terms|english|language|version|explanation)\b",
    r"\bin an? (?:simpler|simple|plain|plainer|everyday|easy|easier|non-?medical|lay(?:man'?s)?) way\b",
    r"\bin (?:one|a single|a few|two) (?:sentence|line|word)s?\b", r"\b(?:keep it|make it|be) (?:short|brief|simple)\b",
    r"\b(?:short|shorter|quick|brief) (?:version|answer|summary)\b", r"\btl;?dr\b", r"\beli5\b", r"\bexplain (?:it )?like\b",
    r"\bnot (?:good|great) with (?:the )?(?:medical|technical|science)", r"\b(?:patient|lay|kid|child)-?friendly\b",
    r"\bwhat does (?:all )?(?:that|this) mean for me\b", r"\b(?:dumb|break) (?:it|that|this) down\b",
    r"简单(?:点|一点|些|一些|地|的话|说|讲|来说|的说法)", r"(?:说|讲)(?:得)?简单", r"通俗", r"白话", r"说人话", r"(?:看|听)不懂",
    r"简短", r"短一点", r"一句话", r"(?:讲|说|解释)给.{1,6}听", r"易懂", r"浅显", r"不懂(?:医学|专业)",
    # Frightened ("am I going to die?", "我是不是没几年了"): the same everyday answer, which says how treatable it is.
    r"\b(?:am i|is s?he|are they) (?:going to|gonna) die\b", r"\bwill (?:i|s?he|it kill)\b.{0,12}\bdie\b", r"\bhow long (?:do|does) (?:i|s?he) have\b",
    r"\b(?:is it|is this) (?:fatal|deadly|terminal|a death sentence)\b", r"\b(?:terrified|petrified|freaking out|panick?ing)\b",
    r"没几年", r"活不(?:了|长)", r"能活多久", r"还能活", r"会不会死", r"会死吗", r"要死了", r"致命", r"绝症", r"吓死", r"(?:好|很|特别|非常)害怕",
)


_DIFFERENTIAL = _rx(
    r"\bwhy (?:not|isn'?t it|is it not|wouldn'?t it be)\b", r"\bcould (?:it|this) (?:be|also be)\b",
    r"\b(?:rule[sd]? out|ruled out|instead of|rather than|differential|difference between|how do you tell)\b",
    r"\bwhat (?:else|other) could\b", r"\bmight it be\b", r"\bis it not\b",
    r"为什么不是", r"为什么是", r"会不会是", r"有没有可能是", r"可能是.{0,12}吗", r"区别", r"鉴别", r"排除",
)
_MORE_CASES = _rx(
    r"\b(?:more|other|additional|further|next)\b.{0,20}\b(?:similar )?(?:cases|examples|images|lesions)\b",
    r"\bshow (?:me )?more\b", r"更多.{0,6}(?:病例|案例|图片|相似)", r"再(?:给我)?看.{0,4}(?:病例|案例|几个)", r"其他相似",
)
_CASES = _rx(r"\b(?:cases?|examples?|similar (?:images|lesions)|neighbou?rs)\b", r"病例", r"案例", r"相似")
_CLEAR = _rx(r"\b(?:all|any) cases\b", r"\b(?:remove|clear|drop|reset) (?:the )?filters?\b", r"\bwithout filters?\b",
             r"取消筛选", r"所有病例", r"清除筛选")
_DEFINE = _rx(
    r"\bwhat (?:is|are|'s) (?:an? |the )?(?!this\b|it\b|that\b)", r"\bwhat does .{1,40} mean\b", r"\bexplain\b",
    r"\btell me about\b", r"\bdefine\b", r"\bmeaning of\b",
    r"什么是", r"是什么", r"什么叫", r"解释一下", r"介绍一下",
)
_ADVICE = _rx(
    r"\bwhat should i do\b", r"\bshould i (?:see|visit|go|worry|be worried|get)\b", r"\bdo i need\b",
    r"\b(?:next steps?|what now|treatment|treat it|remove it|biopsy|see a doctor|dermatologist|urgent)\b",
    r"\bhow (?:worried|serious|dangerous)\b", r"\bis it (?:dangerous|serious)\b",
    r"\bis (?:this|it|that)(?: \w+)? (?:cancer|cancerous|malignant|skin cancer)\b", r"\bam i at risk\b",
    r"\b(?:is|it'?s|this|that) (?:it |this |that )?(?:benign|harmless|ok|okay|safe|bad|worrying|worrisome|concerning|a problem)\b",
    r"\b(?:worr(?:y|ied|ying)|concern\w*|scared|afraid|risky?|danger\w*|serious)\b",
    r"\bwhat (?:is|'s) (?:it|this|that)(?: thing| spot| mole)?\b", r"\bwhat do you (?:think|make of)\b", r"\bhow bad\b",
    r"是癌吗", r"是不是癌", r"恶性吗", r"是不是恶性", r"良性吗", r"是良性", r"要紧", r"担心", r"害怕", r"风险",
    r"有问题吗", r"问题大", r"不好的东西", r"看医生", r"就医", r"去医院", r"这是什么", r"这个是什么", r"它是什么", r"怎么样",
    r"怎么办", r"该怎么做", r"要不要看医生", r"需要看医生", r"需要就医", r"需要治疗", r"严重吗", r"危险吗", r"下一步",
)
_FEATURES = _rx(
    r"\b(?:asymmetr\w*|symmetr\w*|border|edge|colou?rs?|shape|size|diameter|abcd\w*|features?|structures?|describe)\b",
    r"不对称", r"对称", r"边界", r"边缘", r"颜色", r"形状", r"大小", r"直径", r"特征", r"描述",
)
_ZH_REMEDY = (r"(?:精油|茶树油|药膏|软膏|乳膏|膏药|药水|药粉|草药|中药|大蒜|蒜泥|醋|柠檬汁?|芦荟|祛斑霜|淡斑霜|美白霜|"
              r"艾草|艾条|土方|秘方)")
_SELF_VERB = (r"(?:remove|get rid of|take (?:it |this |that )?off|cut|chop|snip|slice|shave|burn|freeze|scrape|scratch|"
              r"pick|pop|squeeze|lance|dig|tie|clip|zap|laser|dissolve|treat)")
_CLINICIAN = _rx(r"\b(?:doctors?|dermatologists?|surgeons?|gps?|clinics?|hospitals?|nurses?|professionals?|specialists?)\b",
                 r"医生", r"医师", r"医院", r"大夫", r"诊所", r"专科")
_SELF_AIMED = _rx(rf"\b{_SELF_VERB}\w*\b(?:\s+\w+){{0,3}}\s+(?:it|this|that|hers|his|them|the (?:mole|spot|lesion|thing|growth))\b",
                  r"\b(?:scissors|razor|needle|lighter|home laser|laser device|plasma pen|tweezers|caustic|acid)\b",
                  r"刮胡刀", r"剃须刀", r"剪刀", r"针", r"烫", r"烧红", r"激光仪", r"美容仪", r"家用激光", r"土方", r"去疣", r"抠", r"掐掉",
                  r"拔掉", r"剪了", r"刮掉", r"腐蚀", r"去掉", r"去除", r"弄掉", r"祛除", r"点掉", r"除掉", r"消掉", r"拿掉", r"搞掉",
                  r"\b(?:make it go away|fade it|dissolve it|burn it|freeze it)\b",
                  # Creams and ointments put on the lesion instead of having it examined.
                  r"\b(?:ointments?|creams?|salves?|lotions?|balms?|gels?|pastes?)\b.{0,30}\b(?:fix|cure|heal|treat|get rid|remove|"
                  r"clear|fade|shrink|work|help|take care)\w*",
                  r"\b(?:put|apply|applying|rub|use|using|try|trying)\b.{0,20}\b(?:ointment|cream|salve|lotion|balm|antibiotic|steroid|"
                  r"hydrocortisone|antifungal)s?\b",
                  r"(?:擦|涂|抹|敷|搽|用).{0,4}(?:药膏|软膏|乳膏|药水|霜|红霉素|激素)", r"(?:药膏|软膏|乳膏).{0,8}(?:好|治|消|去|管用)",
                  # Oils, herbs and kitchen remedies put on it, or anything put on it to make it fade.
                  r"\b(?:(?:essential |castor |oregano |coconut )?oils?|lemon juice|aloe(?: vera)?|honey|baking soda|bleach\w*|"
                  r"herbs?|herbal \w+)\b.{0,40}\b(?:fade|lighten|shrink|dry (?:it )?(?:out|up)|get rid|go away|disappear|remove|"
                  r"on (?:it|this|that|the (?:mole|spot|lesion)))",
                  r"\b(?:put|puts|putting|apply|applying|rub|rubbing|use|using|try|trying|dab|dabbing)\b.{0,20}\b(?:lemons?|limes?|"
                  r"salt|vinegar|garlic|toothpaste|turmeric|honey|baking soda|aloe|oils?|herbs?|potato|onion)\b.{0,30}\bon (?:it|this|that|them|"
                  r"(?:spots?|moles?|lesions?|marks?)(?: like (?:this|it|that|mine))?|the (?:mole|spot|lesion|skin|growth)|my (?:mole|spot|skin))\b",
                  _ZH_REMEDY + r".{0,8}(?:涂|抹|擦|搽|敷|贴|点|灸|熏|泡|变淡|淡化|消失|消掉|褪)",
                  r"(?:擦|涂|抹|敷|搽|贴)(?:点|些|一下|上)?.{0,4}" + _ZH_REMEDY, r"艾灸",
                  r"(?:涂|抹|擦|搽|敷).{0,10}(?:变淡|淡化|消失|消掉|褪掉|变小)",
)
# Having it removed by someone else: the answer is "a doctor decides after examining it; never destroyed first".
_REMOVAL = _rx(r"\b(?:remov\w*|laser\w*|freez\w*|frozen|cryo\w*|burn\w* (?:it|this|that)|cauteri\w*|excis\w*|zap\w*|"
               r"cut (?:it|this|that) (?:out|off)|take (?:it|this|that) off|taken off|get rid of)\b",
               r"激光", r"雷射", r"冷冻", r"烧掉", r"电灼", r"点痣", r"祛痣", r"去痣", r"点掉", r"去掉", r"去除", r"切掉", r"切除", r"割掉",
               r"除掉", r"做掉", r"手术")
_ELSEWHERE = _rx(_CLINICIAN.pattern, r"\b(?:salons?|spas?|beauticians?|aesthetic\w*|cosmetic clinics?|medspas?)\b",
                 r"美容院", r"美容店", r"美容师", r"医美", r"皮肤科", r"门诊")
_BY_SELF = _rx(r"\b(?:myself|my ?self|my own|at home|diy|home remed\w*|pen|kit|spray|devices?|gadgets?)\b", r"自己", r"在家",
               r"家里", r"家用", r"笔", r"美容仪", r"仪器")

# Vaguer verbs that mean treating it only with the lesion as their object and "myself" / "at home" after them
# ("dealing with it at home this weekend"; not "handle the stitches at home", "sort out the referral myself").
_HANDLE_LESION = (r"(?:deal(?:ing)?\s+with|handl(?:e|ing)|sort(?:ing)?|tak(?:e|ing)\s+care\s+of)\s+"
                  r"(?:it|this|that|this one|the (?:mole|spot|lesion|thing|growth))\b(?:\s+out)?")
_SELF_TREAT = _rx(
    rf"\b(?:{_SELF_VERB}\w*|{_HANDLE_LESION}).{{0,40}}\b(?:myself|my ?self|at home|by myself|on my own|diy|home remed\w*|without (?:a|the) doctor)\b",
    rf"\b(?:myself|at home|on my own|diy)\b.{{0,30}}\b{_SELF_VERB}\w*",
    rf"\bcan i (?:just |simply )?{_SELF_VERB}\w*\b.{{0,15}}\b(?:it|this|that|them|the (?:mole|spot|lesion|thing))\b",
    r"\b(?:wart|mole|skin tag)s? (?:remov\w*|freez\w*|spray|pen|cream|kit|patch\w*|plaster|acid)\b",
    r"\b(?:freeze spray|freezing spray|compound w|scholl|wartner|plasma pen|laser pen|mole pen|black salve|bloodroot|"
    r"apple cider vinegar|tea tree oil|toothpaste|garlic|iodine|salicylic acid|hydrogen peroxide|duct tape|"
    r"liquid nitrogen|nail clippers?|razor blade|scalpel|dental floss)\b",
    r"\b(?:tie|wrap) (?:a )?(?:thread|string|hair|floss)\b",
    r"自己.{0,6}(?:去掉|去除|剪|割|切|点掉|点痣|烧|抠|挖|弄掉|处理|祛|除掉|拔|刮|冻)", r"在家.{0,6}(?:去|点|祛|处理|弄|除)",
    r"点痣", r"祛痣", r"去痣", r"激光笔", r"等离子笔", r"冷冻喷雾", r"(?:线|绳|头发).{0,3}(?:扎|系|勒|绑)", r"指甲刀", r"刀片",
    r"苹果醋", r"牙膏", r"碘酒", r"偏方", r"腐蚀", r"药水.{0,3}点", r"抠掉", r"挤掉", r"烧掉", r"剪掉", r"割掉", r"弄掉", r"水杨酸",
)
# Asking whether the examination can be skipped or put off ("I don't want to see a doctor", "能等到明年再看吗").
_DELAY_CORE = _rx(
    r"\b(?:don'?t|do not|rather not|not) (?:really )?(?:want|wish|like|have time|need) to (?:see|go|visit|book|bother)\b",
    r"\binstead of (?:going to |seeing |visiting |a visit to )?(?:a |the |my )?(?:doctor|dermatologist|gp|clinic|hospital|check)",
    r"\b(?:rather not|not going to|won'?t|will not|refuse to) (?:go|see|visit|book)\b",
    r"\b(?:skip|postpone|delay|put off|hold off|avoid)\w*\b.{0,25}\b(?:doctor|dermatologist|gp|appointment|visit|clinic|"
    r"hospital|it|check|going|seeing|biopsy)",
    r"\bcan (?:i|it|this|we) (?:just )?wait\b", r"\bwait (?:\w+ ){0,3}(?:months?|years?|weeks?|a while|until|till)\b",
    r"\b(?:is|would) (?:it|that) (?:be )?(?:ok|okay|fine|alright|all right|safe)\b.{0,20}\b(?:not|skip|wait|don'?t|never)\b",
    r"\b(?:no|not) (?:need|point|reason) (?:to|in) (?:see|go|seeing|going|visit)",
    r"不想去", r"不去(?:医院|看|了)", r"可以不去", r"不用去", r"不看医生", r"不就医", r"不去看",
    r"等(?:到)?(?:明年|下个月|几个月|半年|一年|以后|过段时间|过年)", r"推迟", r"拖(?:一拖|着|到|几)", r"晚点再?看", r"过段时间再",
    r"再等等", r"能等", r"可以等", r"先观察", r"先不去", r"过完年", r"(?:年后|节后|回来|回国|忙完|放假)再",
    r"(?:几|两|三|四|五|六|\d+)个月(?:以?后)?再", r"(?:几|两|三|四|五|六|\d+)个月(?:以?后)?(?:才|去|看)",
    r"\bin (?:\d+|a few|several|two|three|four|five|six) (?:months?|years?)\b",
    r"\b(?:till|until|when) (?:i'?m|i am|we'?re|we are|i get|i come) back\b", r"\bafter (?:the )?(?:holidays?|summer|trip)\b",
)
# Wider wordings of putting it off (2026-12-07, from a blind set of follow-ups after a referral): read as delay, never
# as the escape hatch of the self-treatment reading above.
_DELAY = _rx(
    _DELAY_CORE.pattern,
    # watching it instead of going ("keep an eye on it for a few months", "wait and see", "先观察几个月", "自己盯着")
    r"\b(?:i|i'?ll|we'?ll|we|can|could|just|myself|should)\b.{0,12}\b(?:keep an eye on|keep watching|watch|monitor|observe|track) "
    r"(?:it|this|that|the (?:mole|spot|lesion|mark))\b",
    r"\bwait and see\b", r"\bsee (?:if|whether|how) it (?:changes|grows|goes|gets|develops)\b",
    r"观察(?:一段时间|一阵|几|一下|看看|着)", r"自己(?:观察|盯着|看着|留意|注意)", r"看看(?:会不会|有没有|是否)(?:变|长)",
    # going later: after an event or a season ("maybe after finals??", "till April", "is 2 months from now too late?")
    r"\b(?:till|until|after|once)\b.{0,30}\b(?:exams?|finals|christmas|new year|holidays?|summer|winter|spring|autumn|fall|"
    r"wedding|trip|payday|pay ?day|deadline|project|semester|term|contract|settled|graduation|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|q[1-4]|the baby|giving birth|next (?:month|year))\b",
    r"\b(?:go|going|see|seeing|book|booking|check|visit|sort (?:it|this)|deal with (?:it|this)|do (?:it|anything))\b.{0,30}"
    r"\b(?:next (?:year|month|time)|in (?:the )?(?:spring|summer|autumn|fall|winter|new year)|later(?! today)|someday|eventually|"
    r"some ?time|(?:a )?(?:few|couple(?: of)?) months)\b",
    r"\b(?:too late|(?:be )?(?:ok|okay|alright|all right|fine|really bad|a problem))\b.{0,25}\bif (?:i|we)\b.{0,25}"
    r"\b(?:wait|leave|left|go|went|put)\b",
    r"\b(?:is|would|will|be)\b.{0,30}\b(?:weeks?|months?|year|from now|mid[- ]\w+|end of (?:next |the )?\w+)\b.{0,25}"
    r"\b(?:ok|okay|alright|all right|fine|too late|be bad|a problem)\b",
    r"\b(?:hang on (?:till|until|for)|hold off|leave it|left it|leaving it|give it (?:a|some)|let it (?:be|go|ride))\b",
    r"\bwait(?:ing)? (?:until|till|for (?:the|my|a|next|when))\b", r"等(?!级|等)[^，。？！]{0,8}(?:的时候|时)再?(?:去|看|查)",
    r"\b(?:can'?t|cannot|won'?t|not (?:going|gonna)(?: to)?|don'?t think i'?(?:m|ll)(?: going to)?) "
    r"(?:go|make it|get (?:there|in|to)|see (?:a|the|any) (?:doctor|dermatologist|gp|specialist|skin)|bother)\b",
    r"\b(?:no time|too busy|not happening|(?:rather|don'?t want to|not) bother)\b",
    # going only if it changes ("if it gets bigger I'll go", "I'll go if it starts to itch", "only go if it's grown")
    r"\bif (?:it|this|the (?:mole|spot|lesion))\b.{0,40}\b(?:i'?ll|i will|we'?ll|then)\b.{0,10}\b(?:go|see|book|get)",
    r"\b(?:go|see (?:a|the)|book|get it (?:checked|seen))\b.{0,15}\b(?:if|when|once) (?:it|this)\b.{0,30}"
    r"\b(?:gets?|grows?|grown|starts?|changes?|bigger|worse|itch\w*|bleed\w*)",
    r"\bkeep (?:checking|looking at|watching|an eye)\b",
    # watching it themselves with photos or a ruler, instead of going
    r"\b(?:i'?ll|i will|i can|can i|could i|i could|i'?m going to|i'?d|just|we'?ll|i)\b.{0,20}"
    r"\b(?:take|taking|snap|photograph|measure|check)\w*\b.{0,40}\b(?:every|each|weekly|monthly|compare|instead|track|mirror)",
    r"(?:[了完后]|之后|以后|回去|回来|回家).{0,4}再(?:去|说|查|看|约|挂|检查|处理|弄|考虑)",
    r"等(?!级|等)[^，。？！]{1,14}(?:再|才)(?:去|说|查|看|约|挂|检查|处理|弄)",
    r"(?:明年|下个?月|下半年|年后|年底|春节后|暑假|寒假|以后|将来|改天|有空|下次)(?:再|才)?(?:去|看|查|说|约)",
    r"先不(?:管|理|去|看|处理)", r"放一放", r"放放", r"不管它", r"不(?:肯|愿意?|想|打算)(?:去|专门|跑|看)", r"怕去", r"能不能不",
    r"(?:我|自己|在家|先)[^，。？！]{0,6}(?:拍|量)[^，。？！]{0,8}(?:对比|比较|记录|追踪|追蹤|看看|一下|一次)",
    r"每(?:周|月|个月|天|隔)[^，。？！]{0,4}(?:拍|量)", r"自己看看", r"拍照(?:记录|追踪|追蹤|留底)", r"盯着",
    r"(?:会不会|是不是|算不算)太(?:晚|迟)", r"来(?:得|不)及", r"(?:有点|太)赶", r"(?:没|抽不出)(?:空|时间)",
    r"过(?:一)?(?:阵|段)(?:时间)?(?:再|才)?(?:去|看|说)", r"忙完", r"(?:变|长|有变化|出血|痒|不对劲)[^，。？！]{0,4}(?:我)?(?:再|才)(?:去|看|说)",
)
# Sun protection offered as all it needs ("I'll wear sunscreen and leave it", "每天涂防晒不管它，行吗").
_SUN_ONLY = _rx(
    r"\b(?:sun ?screen|sun ?block|spf|sun ?cream|sun protection|sun ?hat)\b.{0,60}\b(?:enough|instead|leave (?:it|this|that)|"
    r"(?:is|would|will) (?:that|it|this) (?:be )?(?:ok|okay|fine|enough|alright)|rather than|do the (?:job|trick)|suffice\w*|"
    r"skip|ignore|no need|don'?t need|forget)",
    r"\b(?:just|only|simply)\b.{0,20}\b(?:sun ?screen|sun ?block|spf|sun ?cream|sun protection)\b",
    r"防晒.{0,15}(?:不管|不理|就行|就可以|就够|够了|够吗|够不够|行吗|行不行|可以吗|可不可以|代替|不用去|不去|算了|就好|没事)",
    r"(?:只|光|就)(?:涂|擦|抹|用|做好?)?(?:点)?防晒",
)
# Asking what an examination or biopsy costs: the tool cannot say, and says so.
_COST = _rx(r"\b(?:cost|costs|price|how much|expensive|afford|insurance|pay for)\b",
            r"多少钱", r"费用", r"价格", r"价钱", r"贵不贵", r"很贵", r"贵吗", r"医保", r"健保", r"给付", r"报销", r"花钱", r"收费")
_PUSHBACK = _rx(
    r"\b(?:doctor|gp|dermatologist|friend|mum|mom|mother|dad|father|wife|husband|sister|brother|nurse|pharmacist|"
    r"someone|everyone|people|beautician|aesthetician)s?\b.{0,40}\b(?:said|says|told me|tells me|thinks?|reckons?|assured)\b"
    r".{0,40}\b(?:benign|harmless|fine|nothing|ok|okay|normal|just a mole|not cancer|not serious|no big deal|nothing to worry)",
    r"\b(?:had|have had|i'?ve had) (?:it|this|that|this mole|this spot)\b.{0,15}\b(?:for|since)\b.{0,12}"
    r"\b(?:years|ages|forever|ever|life|long time|childhood|decades|birth|kid|child)\b",
    r"\b(?:just|only) (?:a|an) (?:normal |ordinary |regular |harmless |common |old |little )?(?:mole|freckle|birthmark|spot|beauty mark)\b",
    r"\b(?:confirm|agree|admit|say|tell me|reassure me)\b.{0,20}\b(?:benign|harmless|fine|nothing|not cancer|ok|okay|safe)\b",
    r"\b(?:alarmist|overreact\w*|scaremonger\w*|paranoid|exaggerat\w*|dramatic|fear-?monger\w*|overcautious|over-cautious)\b",
    r"\b(?:benign|harmless|fine|ok|okay|nothing|normal|safe)\b,? (?:right|isn'?t it|correct|yes|surely|innit)\b",
    r"\bit (?:looks|seems|is obviously|is clearly) (?:fine|normal|harmless|benign|ok|okay)\b",
    r"\bi (?:don'?t|do not) (?:think|believe) (?:it'?s|it is|this is) (?:cancer|serious|dangerous|malignant|melanoma|anything)\b",
    r"\bno way (?:that )?(?:it'?s|it is|this is|that'?s|it could be)\b", r"\b(?:can'?t|cannot|couldn'?t) (?:possibly )?be "
    r"(?:a )?(?:cancer|melanoma|malignant|serious|anything bad)\b",
    r"医生.{0,10}(?:说|讲|觉得|认为)", r"(?:朋友|妈妈|我妈|家人|老公|老婆|同事|别人|大家|药店|美容院).{0,10}(?:说|讲|觉得|认为).{0,12}(?:没事|没问题|良性|正常|不要紧|普通|不是癌|不用管|无所谓|没关系)",
    r"长了.{0,4}(?:很多|好多|几十|十几|好几|二十|三十|多)年", r"从小就有", r"一直都有", r"生下来就有", r"出生就有",
    r"(?:就|只)是.{0,2}(?:个|颗|一颗|一个)?(?:普通的?|正常的?)?(?:痣|雀斑|胎记)", r"你就说", r"承认", r"确认.{0,6}良性",
    r"别吓", r"吓人", r"大惊小怪", r"危言耸听", r"小题大做", r"夸大", r"没那么严重", r"不会是癌吧", r"应该是良性", r"肯定没事",
    r"良性的?吧", r"没事吧", r"没问题吧",
    # others have the same one and are fine; too young; unchanged for years; "can't be cancer"
    r"\b(?:same|exact same|one like (?:this|it)|ones? like (?:this|it)|spots? like (?:this|it)|these too)\b.{0,40}"
    r"\b(?:fine|ok|okay|nothing|harmless|healthy|alive)\b",
    r"\b(?:genetic|hereditary|runs in (?:my|the) family)\b",
    r"\btoo young (?:for|to (?:get|have))\b",
    r"\b(?:hasn'?t|has not|not|never|haven'?t seen it) changed? (?:in|for) (?:years|\w+ years|ages|decades|a long time)\b",
    r"\b(?:can'?t|cannot|couldn'?t|can not) (?:possibly )?be (?:cancer|melanoma|malignant|serious|dangerous|anything bad)\b",
    r"\b(?:it'?s|its|it is|this is|that'?s|thats)\s+(?:def(?:initely)?\s+|prob(?:ably)?\s+|surely\s+|obviously\s+|clearly\s+)?"
    r"not (?:cancer|melanoma|malignant|dangerous|serious|skin cancer)\b",
    r"\b(?:totally|completely|perfectly|obviously|clearly|probably|definitely) (?:harmless|fine|benign|normal|ok|okay|safe)\b",
    r"\b(?:ordinary|normal|regular|common|harmless|benign|innocent) (?:mole|spot|freckle)\b",
    r"\bso (?:it'?s|it is|this is) (?:fine|nothing|ok|okay|harmless|benign)\b",
    r"(?:一模一样|一样的|也长了|也有).{0,12}(?:好好的|没事|没问题|健康)", r"好好的", r"遗传",
    r"(?:年轻|才二十|才三十|二十多岁|还小).{0,12}(?:不会|没事|不可能)",
    r"(?:十几|几十|好多|很多|好几|多)年.{0,8}(?:没变|没有变|没什么变化|一点没变|都没变)",
    r"(?:怎么可能|不可能|不会)是(?:癌|恶性|黑色素瘤)",
    r"(?:你|就)+(?:直接)?说.{0,8}(?:良性|没事|不是癌|正常)",
    r"(?:没事|不用担心|良性|正常|常见|没问题).{0,6}(?:对吧|是吧|吧)",
    r"(?:就是|应该|肯定|那就|那)没事",

    r"\b(?:it'?s|it is|this is|surely|i'?m sure|i know|i think) (?:it'?s |it is )?(?:just |only )?(?:benign|harmless|nothing|fine|not cancer|a (?:normal )?mole|malignant|cancer)\b",
    r"\b(?:benign|harmless|fine|not cancer|malignant|cancer), (?:right|isn'?t it|correct)\b",
    r"\byou(?:'re| are) wrong\b", r"\bchange (?:your|the) (?:answer|diagnosis)\b", r"\bjust (?:say|tell me) (?:it'?s|it is)\b",
    r"\bmy (?:doctor|friend|mother) (?:said|says) (?:it'?s|it is)\b",
    r"是良性的吧", r"肯定是良性", r"应该没事吧", r"不是癌吧", r"你错了", r"就是.{0,4}(?:良性|痣)", r"改一下诊断",
)
_HISTO = _rx(r"\bhisto\w*", r"\bbiops\w*", r"\bpatholog\w*", r"病理", r"活检")
_FOLLOWUP = _rx(r"\bfollow[- ]?up\b", r"随访")
_CONSENSUS = _rx(r"\bconsensus\b", r"\bexpert\w*\b", r"共识")
_CONFOCAL = _rx(r"\bconfocal\b", r"共聚焦")
_FEMALE = _rx(r"\b(?:women|woman|female|females|girls?|ladies)\b", r"女性", r"女的", r"女士")
_MALE = _rx(r"\b(?:men|man|male|males|boys?)\b", r"男性", r"男的")
# A number followed by a unit of time or size is a duration or a size ("grew over 3 months"), never an age.
_NOT_AGE = r"(?!\s*(?:months?|weeks?|days?|years? ago|hours?|mm|cm|millimet\w*|centimet\w*|%|percent|times))"
_OVER = _rx(rf"\b(?:over|above|older than|at least|aged over|more than)\s+(\d{{1,3}})\b{_NOT_AGE}", r"(\d{1,3})\s*(?:\+|and over|or older|plus)\b",
            r"(\d{1,3})\s*岁以上", r"大于\s*(\d{1,3})\s*岁")
_UNDER = _rx(rf"\b(?:under|below|younger than|less than)\s+(\d{{1,3}})\b{_NOT_AGE}", r"(\d{1,3})\s*岁以下", r"小于\s*(\d{1,3})\s*岁")
_OLDER = _rx(r"\bolder (?:people|patients|men|women|adults)\b", r"老年")
_YOUNGER = _rx(r"\byoung(?:er)? (?:people|patients|men|women|adults)\b", r"年轻")

_SITE_WORDS: dict[str, tuple[str, ...]] = {
    "back": ("back",), "trunk": ("trunk", "torso"), "face": ("face", "cheek", "nose", "forehead"),
    "lower extremity": ("leg", "legs", "thigh", "shin", "lower limb", "lower extremity", "calf"),
    "upper extremity": ("arm", "arms", "forearm", "shoulder", "upper limb", "upper extremity"),
    "abdomen": ("abdomen", "belly", "stomach"), "chest": ("chest", "breast"), "neck": ("neck",),
    "scalp": ("scalp", "head"), "ear": ("ear", "ears"), "foot": ("foot", "feet", "sole", "toe"),
    "hand": ("hand", "hands", "palm", "finger"), "genital": ("genital", "genitals"), "acral": ("acral",),
}
_ZH_SITE_EXTRA: dict[str, tuple[str, ...]] = {
    "face": ("脸",), "lower extremity": ("腿",), "upper extremity": ("手臂", "胳膊"), "foot": ("脚",),
    "back": ("后背",), "abdomen": ("肚子",),
}


def _site(text: str) -> str | None:
    lowered = text.lower()
    for site, words in _SITE_WORDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            return site
    for site, names in BODY_SITES.items():
        if site != "unknown" and (names["zh"] in text or any(w in text for w in _ZH_SITE_EXTRA.get(site, ()))):
            return site
    return None


def read_filters(text: str, classes: list[str]) -> CaseFilters:
    f = CaseFilters()
    if _HISTO.search(text):
        f.dx_type = "histo"
    elif _FOLLOWUP.search(text):
        f.dx_type = "follow_up"
    elif _CONFOCAL.search(text):
        f.dx_type = "confocal"
    elif _CONSENSUS.search(text):
        f.dx_type = "consensus"
    assert f.dx_type is None or f.dx_type in CONFIRMATIONS
    if _FEMALE.search(text):
        f.sex = "female"
    elif _MALE.search(text):
        f.sex = "male"
    if m := _OVER.search(text):
        f.age_min = float(next(g for g in m.groups() if g))
    elif _OLDER.search(text):
        f.age_min = 60.0
    if m := _UNDER.search(text):
        f.age_max = float(next(g for g in m.groups() if g))
    elif _YOUNGER.search(text):
        f.age_max = 40.0
    f.localization = _site(text)
    if classes and re.search(r"\bonly\b|\bjust\b|只看|仅", text, re.IGNORECASE):
        f.dx = classes[0]
    return f


_REASSURANCE = _rx(
    r"\b(?:benign|harmless|fine|ok|okay|nothing|normal|safe|worr\w*|cancer\w*|malignan\w*|melanoma|serious|danger\w*|"
    r"scared|afraid|alarm\w*|overreact\w*|paranoid|ignore|young|years|forever|mole|freckle|birthmark|hurt|pain\w*|"
    r"relax|chill|calm|exaggerat\w*|dramatic|big deal|confirm|agree|promise|guarantee|sure)\b",
    # Dismissing the advice rather than the lesion: "just a disclaimer", "nobody needs an appointment for that".
    r"\b(?:disclaimer|liability|overkill|unnecessary|needless|over-?cautious|waste of (?:time|money)|cover(?:ing)? "
    r"(?:yourself|your\s+\w+)|(?:no ?one|nobody) (?:\w+ )?needs?|(?:don'?t|do not|doesn'?t|does not) (?:\w+ )?need)\b",
    r"良性", r"没事", r"没问题", r"正常", r"安全", r"担心", r"害怕", r"癌", r"恶性", r"严重", r"危险", r"吓", r"要紧", r"无所谓",
    # Doubting that a photo or a machine can tell: the same guard ("what can an AI know from a photo").
    r"\b(?:trust|believe|machine|computer|algorithm|ai|robot|bot|app|software|program)\b",
    r"不信", r"不相信", r"机器", r"人工智能", r"(?<![a-z])ai(?![a-z])", r"算法", r"电脑", r"程序", r"软件", r"靠谱", r"准不准", r"不准",
    r"不管", r"年轻", r"多年", r"痣", r"不疼", r"不痛", r"放心", r"夸张", r"保证", r"确定", r"肯定", r"普通",
    r"没啥事", r"没什么事", r"大碍", r"碍事", r"问题不大", r"还好吧", r"免责", r"没必要", r"不需要", r"不用去", r"小题大做", r"多此一举", r"浪费", r"套话", r"过度", r"太谨慎",
)


# Intents answered with a fixed text (never agree it is benign; never remove it yourself) whatever else was asked.
_FIXED_ANSWERS = (IntentKind.PUSHBACK, IntentKind.SELF_TREAT)


_STOP_BLEEDING = _rx(r"\bstop (?:it |the |this )?(?:from )?bleed\w*", r"\bbleed\w* (?:won'?t|will not|doesn'?t|does not) stop\b",
                     r"\b(?:keeps?|still) bleeding\b.{0,30}\b(?:what|how)\b", r"\bwhat (?:do|should) i do\b.{0,30}\bbleed",
                     r"\bwhen it bleeds\b.{0,30}\b(?:what|how)\b",
                     r"止血", r"(?:出血|流血)(?:了)?(?:怎么办|咋办|怎么弄|怎么处理|止不住|不止)", r"血止不住")


_CLINICIAN_WRITER = _rx(
    r"\b(?:gp|doctor|physician|dermatologist|nurse|registrar|resident|fellow|consultant|clinician|medical student|"
    r"med student|trainee|intern)s? here\b",
    r"\bi(?:'m| am) (?:a |an )?(?:gp|doctor|physician|dermatologist|nurse(?: practitioner)?|derm(?:atology)? (?:registrar|resident|"
    r"trainee|fellow)|registrar|resident|medical student|med student|clinician|general practitioner|junior doctor)\b",
    r"^\s*(?:gp|derm(?:atology)? (?:registrar|resident|trainee)|registrar|resident|medical student)\b", r"\bmy patient'?s?\b",
    r"\b(?:our|my|a) teaching (?:file|image|set|case|collection)\b",
    r"我是(?:一名|一个|个)?.{0,8}(?:医生|大夫|医师|护士|医学生|规培生|住院医)", r"规培", r"医学生", r"临床医学", r"(?:我的|这位|该)患者",
    r"患者\d{1,3}岁", r"教学(?:资料|图片|病例|用)",
)


# What the words say the result was ("Model says akiec", "so the app thinks it's a seborrhoeic keratosis", "结果显示是..."):
# a class named after such words is the user's reading of the estimate, which the answer corrects when it is not the
# most likely class.
_RESULT_CLAIM = _rx(
    r"\b(?:model|app|tool|result|report|you|the ai|ai|the computer|classifier|estimate|it)\b(?:'s| is| was)?\s*"
    r"(?:says?|said|shows?|showed|thinks?|thought|gave|gives|calls?|called|came back|reads?|reckons?|went with|labell?ed)\b",
    r"结果.{0,4}(?:显示|是|写|说)", r"你(?:们)?(?:说|讲|判断|认为)(?:的)?", r"显示(?:的)?(?:是)?", r"(?:上面|这上面)(?:说|写)", r"判断(?:为|是)",
)


def result_claim(text: str) -> str | None:
    """The class the words say the result named, if any (the first class named after the claim)."""
    m = _RESULT_CLAIM.search(text)
    if m is None:
        return None
    named = class_mentions(text[m.start():])
    return named[0] if named else None


def read_turn(question: str | None, new_image: bool, language: str | None = None, use_model: bool = True) -> TurnIntent:
    """Classify a turn. A new image always means a full assessment, whatever the words."""
    text = to_simplified((question or "").strip())  # Traditional Chinese is read by the same rules and model
    lang = language or detect_language(text)
    classes = class_mentions(text)
    reassurance = bool(_REASSURANCE.search(text))
    elsewhere = _is_removal_elsewhere(text)
    self_treatment = _is_self_treatment(text) and not elsewhere

    withdrawn = [] if new_image else withdrawn_signs(text)  # what was on record is checked by the graph (nodes)
    delay_phrase = bool(_DELAY.search(text))
    model_delay = False  # the learned delay flag, beside the phrase rules, once the model has read the words

    def intent(kind: IntentKind, **kw: object) -> TurnIntent:
        return TurnIntent(kind=kind, language=lang, classes=classes, question=text, reassurance=reassurance,  # type: ignore[arg-type]
                          self_treatment=self_treatment, removal_elsewhere=elsewhere, delay=model_delay or delay_phrase,
                          delay_phrase=delay_phrase,
                          sun_only=bool(_SUN_ONLY.search(text)), cost=bool(_COST.search(text)), other_conditions=outside_conditions(text, lang),
                          other_lesion=not new_image and mentions_other_lesion(text), plain=bool(_PLAIN.search(text)),
                          result_claim=None if new_image else result_claim(text), stop_bleeding=bool(_STOP_BLEEDING.search(text)),
                          clinician=bool(_CLINICIAN_WRITER.search(text)), withdrawn=withdrawn, **kw)


    if new_image:
        # Filters only when the words are about the cases ("show me women's cases"), never "I'm 45".
        return intent(IntentKind.ASSESS, filters=read_filters(text, classes) if _CASES.search(text) else CaseFilters())
    if not text:
        return intent(IntentKind.GENERAL)
    model = _intent_model() if use_model else None
    if model is None:
        kind = IntentKind(rule_intent(text))
    else:
        predicted = model.predict_one(text)
        kind = IntentKind(predicted.intent)
        reassurance = reassurance or predicted.reassurance
        model_delay = predicted.delay
        if predicted.confidence < get_settings().fixed_answer_min_confidence:  # the model unsure: the rules decide
            ruled = IntentKind(rule_intent(text))  # whether the fixed answers (never agree it is benign; never remove
            if ruled in _FIXED_ANSWERS:            # it yourself) are given
                kind = ruled
            elif kind in _FIXED_ANSWERS:
                kind = IntentKind.GENERAL  # a fixed text that ignores the words is worse than an answer from them
        if kind == IntentKind.PUSHBACK and _PLAIN.search(text) and rule_intent(text) != kind.value:
            kind = IntentKind.GENERAL  # "说人话，我看不懂" asks for plainer words (the guard still comes with them)
    if self_treatment:  # safety override: always the clear no (removal elsewhere is answered beside any intent)
        kind = IntentKind.SELF_TREAT
    if kind in (IntentKind.CASE_FILTER, IntentKind.MORE_CASES):
        if kind == IntentKind.CASE_FILTER and _CLEAR.search(text):
            return intent(kind, clear_filters=True)
        return intent(kind, filters=read_filters(text, classes))
    return intent(kind)


# Lasering (or having it lasered) needs a machine someone else has: said without a place it is still removal elsewhere.
_LASER = _rx(r"\blas(?:er|ered|ering|ers)\b", r"激光", r"雷射", r"光子")


def argues_benign(intent: TurnIntent) -> bool:
    """Pushback in words about harmlessness ("you're wrong, it's just a normal mole", "没事的吧"): arguing the tier
    down, not setting the record straight, so a correction in it takes nothing back."""
    return intent.kind == IntentKind.PUSHBACK and bool(_REASSURANCE.search(intent.question))


def _is_removal_elsewhere(text: str) -> bool:
    """Having it removed by a clinic or a salon ("can the clinic laser it off?", "去美容院点痣", "then laser is fine
    right"), not by themselves."""
    return bool(_REMOVAL.search(text) and (_ELSEWHERE.search(text) or _LASER.search(text)) and not _BY_SELF.search(text))


# An accident told as history ("it bled when I scratched it", "洗脸的时候蹭破了") is not a plan to treat it, unless a
# request comes with it ("I scratched it, can I put a cream on?").
_ACCIDENT = _rx(r"\bwhen (?:i|i'?ve|i was) (?:\w+ )?(?:scratch|shav|pick|cut|nick|catch|caught|rub|bump|knock|dr(?:y|ie))\w*",
                r"\b(?:scratched|nicked|caught|bumped|knocked|snagged) (?:it|the (?:mole|spot|lesion|top))\b(?! off)",
                r"\b(?:accidentally|by accident|by mistake)\b", r"不小心", r"(?:挠|抓|刮|蹭|碰|擦)破", r"(?:挠|抓|刮|蹭|碰)到")
_REQUEST = _rx(r"\b(?:can|could|should|shall|may) (?:i|we|you)\b", r"\bhow (?:do|can|should) i\b", r"\b(?:want|going|plan(?:ning)?) to\b",
               r"\bis it (?:ok|okay|safe|fine) to\b", r"能不能", r"可不可以", r"可以", r"能否", r"行不行", r"想", r"打算", r"怎么(?:弄|处理|去)")


def _is_self_treatment(text: str) -> bool:
    """A clinician named is someone else treating it, unless the words are about avoiding one ("不想去医院，有没有药膏")."""
    if _SELF_TREAT.search(text):
        return True
    if _ACCIDENT.search(text) and not _REQUEST.search(text):
        return False
    return bool(_SELF_AIMED.search(text) and (not _CLINICIAN.search(text) or _DELAY_CORE.search(text)))


def history_reading(text: str | None, use_model: bool = True) -> PatientInfo:
    """What a message tells about the person and the lesion: ``read_patient`` (age, sex, site and the phrase rules'
    signs, which know negation, questions and other people's lesions) with the signs the learned reader finds added
    (models/history.py: indirect wordings the rules miss). The rules alone when its artifact is missing."""
    said = read_patient(text)
    raw = (text or "")[:MAX_HISTORY_CHARS].strip()  # as the intent model reads it: one MiniLM vector serves both
    if mentions_other_lesion(raw):  # "...and the other one on my arm bleeds": only the words about this lesion
        raw = about_this_lesion(raw).strip()
    model = _history_model() if use_model and raw.strip() else None
    if model is None:
        return said
    learned = model.predict([raw])[0]
    denied = denied_signs(raw)  # "I never said it bleeds. It does not bleed.": the model's "bleeding" is a misreading
    signs = [s for s in HISTORY_SIGNS if s in said.history or (s in learned and s not in denied)]
    if signs == said.history:
        return said
    return said.model_copy(update={"history": signs, "history_text": raw.strip()})


def _optional(load, fallback: str):
    """A shipped text model from ``load()``, or None (with a warning) when its artifact is missing: the phrase rules
    then do its job (``fallback`` says so)."""
    from knowledge.artifacts import ArtifactError

    try:
        return load()
    except ArtifactError as exc:
        import warnings

        warnings.warn(f"{fallback}: {exc}", stacklevel=3)
        return None


def _history_model():
    from models.history import load_history_model

    return _optional(load_history_model, "history reader unavailable, using the phrase rules alone")


def _intent_model():
    from models.intent import load_intent_model

    return _optional(load_intent_model, "intent model unavailable, using the phrase rules")


def rule_intent(text: str) -> str:
    """The phrase rules' reading of a follow-up (the fallback, and the baseline the intent suite reports)."""
    classes = class_mentions(text)
    filters = read_filters(text, classes)
    if _is_self_treatment(text):
        return IntentKind.SELF_TREAT.value
    if _PUSHBACK.search(text):
        return IntentKind.PUSHBACK.value
    if _MORE_CASES.search(text):
        return IntentKind.MORE_CASES.value
    if _CASES.search(text) and (_CLEAR.search(text) or not filters.is_empty()):
        return IntentKind.CASE_FILTER.value
    if _DIFFERENTIAL.search(text) and classes:
        return IntentKind.DIFFERENTIAL.value
    if _ADVICE.search(text):
        return IntentKind.ADVICE.value
    if _DEFINE.search(text) and (classes or not _FEATURES.search(text)):
        return IntentKind.DEFINE.value
    if _FEATURES.search(text):
        return IntentKind.FEATURES.value
    if _CASES.search(text):
        return (IntentKind.MORE_CASES if re.search(r"\bmore\b|更多", text, re.I) else IntentKind.CASE_FILTER).value
    if classes and re.search(r"\?|？|吗", text):
        return IntentKind.DIFFERENTIAL.value
    return IntentKind.GENERAL.value

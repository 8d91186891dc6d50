"""Risk tiers, the advice attached to each, and the disclaimer: one home for every layer.

The rule that picks a tier lives in ``agents.risk`` (per-class, thresholds from the classifier's
manifest, escalated by measured features and the patient's history); the words for each tier, and
for pushback, self-treatment and the warning signs, live here, so the graph, the app and the
Qwen2-VL training export say the same thing. Medical text written for this project, following
NICE NG12 and the corpus documents that cite it.
"""

from __future__ import annotations

from typing import Any

import re
from enum import Enum

from knowledge.taxonomy import CLASSES, CODES, Language, get_class


class RiskTier(str, Enum):
    """What the person should do, from least to most urgent (rule: ``agents.risk``; guidance: NICE NG12).

    Every tier above ``LOW`` sends the person to a clinician. There is no "photograph it and wait"
    tier: short-term digital monitoring is a dermatologist's procedure, not advice for a lay user.
    """

    LOW = "low"
    CLINICIAN = "see a clinician"
    SOON = "see a dermatologist soon"
    URGENT = "urgent"

    @classmethod
    def _missing_(cls, value: object) -> "RiskTier | None":
        # Consultations saved before the triage rule (v0.1) stored "monitor": it now means "see a clinician".
        return cls.CLINICIAN if value == "monitor" else None


TIER_ORDER: tuple[RiskTier, ...] = (RiskTier.LOW, RiskTier.CLINICIAN, RiskTier.SOON, RiskTier.URGENT)
REFERRAL_TIERS: tuple[RiskTier, ...] = TIER_ORDER[1:]  # the tiers that send the person to a clinician

TIER_NAMES: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {"en": "low", "zh": "低"},
    RiskTier.CLINICIAN: {"en": "see a clinician", "zh": "请医生检查"},
    RiskTier.SOON: {"en": "see a dermatologist soon", "zh": "尽快就诊皮肤科"},
    RiskTier.URGENT: {"en": "urgent", "zh": "紧急"},
}

# Timeframes follow NICE NG12 (Suspected cancer: recognition and referral, 2015, updated 2023),
# sections 1.7.1-1.7.8, and the corpus documents that cite it (management-* and when-to-see-a-doctor).
TIER_ADVICE: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {
        "en": "This estimate does not reach the cut-offs at which this tool refers, but that does not show the lesion is harmless: have it examined by a doctor if it is new, growing, changing in shape or colour, bleeding, itching or not healing, or if it worries you.",
        "zh": "本次估计未达到本工具建议转诊的阈值，但这并不能证明病变无害：如果病变是新出现的、在长大、形状或颜色改变、出血、瘙痒或不愈合，或者让您担心，请由医生检查。",
    },
    RiskTier.CLINICIAN: {
        "en": "Have it examined by a doctor (a GP or a dermatologist) at a routine appointment in the coming weeks, sooner if it grows, changes, bleeds or itches; do not just photograph it and wait (NICE NG12: a doctor decides whether to refer or to monitor).",
        "zh": "请在未来几周内预约医生（全科医生或皮肤科医生）进行常规检查；若它变大、变化、出血或瘙痒，应更早就诊。不要只是拍照等待（NICE NG12：是否转诊或随访观察由医生决定）。",
    },
    RiskTier.SOON: {
        "en": "Have it examined by a dermatologist within the next few weeks: ask your doctor for a referral, or book a dermatologist directly where your health system allows it (NICE NG12: routine referral for a suspected basal cell carcinoma, sooner if it is on the face, large or bleeding).",
        "zh": "请在未来几周内由皮肤科医生检查：可直接到医院皮肤科挂号就诊，需要转诊的地方请医生为您转诊（NICE NG12：疑似基底细胞癌应常规转诊；若位于面部、较大或出血，应更早）。",
    },
    RiskTier.URGENT: {
        "en": "See a doctor within days and ask for an urgent referral on the suspected-cancer pathway, to be seen by a dermatologist within about two weeks, or book a dermatologist directly within that time where your health system allows it (NICE NG12: suspected melanoma); do not wait to see whether it changes.",
        "zh": "请在几天内到医院皮肤科就诊（可直接挂皮肤科号；需要转诊的地方，请要求按疑似癌症通道紧急转诊），最晚约两周内由皮肤科医生诊治（NICE NG12：疑似黑色素瘤）；不要等待观察它是否变化。",
    },
}

MELANOMA_NOT_EXCLUDED: dict[str, str] = {
    "en": "**Melanoma cannot be excluded:** the melanoma probability, {p}, is above the cut-off at which this classifier finds {sens} of melanomas on the validation split.",
    "zh": "**不能排除黑色素瘤**：黑色素瘤的概率为{p}，高于本分类器在验证集上检出{sens}黑色素瘤的阈值。",
}

MISS_RATE: dict[str, str] = {
    "en": "At the cut-offs this tool uses, it still misses about {miss} of {cls} on held-out validation images, so no estimate from a photograph is an all-clear.",
    "zh": "按本工具使用的阈值，在留出的验证图像上它仍会漏掉约{miss}的{cls}，因此根据照片做出的任何估计都不等于排除。",
}

CANNOT_CONFIRM_BENIGN: dict[str, str] = {
    "en": "I cannot confirm that this lesion is benign: no photograph or classifier can. " + MISS_RATE["en"],
    "zh": "我无法确认这个病变是良性的：任何照片或分类器都做不到。" + MISS_RATE["zh"],
}

WARNING_SIGNS: dict[str, str] = {
    "en": "Signs that mean it should be examined promptly: it is new (in an adult), growing, changing in shape or colour, has several colours or an irregular edge, bleeds, itches or crusts, does not heal, or is raised, firm and growing (NICE NG12 weighted 7-point checklist; the EFG rule for nodular melanoma).",
    "zh": "需要尽快检查的信号：成年后新出现、在长大、形状或颜色改变、有多种颜色或边缘不规则、出血、瘙痒或结痂、不愈合，或者隆起、质硬并在长大（NICE NG12 加权七点清单；结节性黑色素瘤的 EFG 规则）。",
}

SELF_TREATMENT: dict[str, str] = {
    "en": "**No: please do not cut, shave, burn, freeze, tie off or put creams, acids or home remedies on this lesion yourself.** It can bleed, get infected and scar, and destroying it removes the tissue a pathologist needs to tell whether it was a skin cancer, while any part left behind can keep growing unseen. If you want it removed, a doctor can take it off properly and send it for histopathology (the management documents cited here: a suspicious lesion is diagnosed by excision and histopathology).",
    "zh": "**不可以：请不要自己切、刮、烧、冷冻、用线结扎，或在这个病变上涂抹药膏、酸性药水或偏方。** 这样可能出血、感染和留疤，而且破坏病变会毁掉病理医生判断是否为皮肤癌所需的组织，残留部分还可能在看不见的情况下继续生长。如果想去除，请由医生规范切除并送病理检查（参见本知识库引用的诊疗文件：可疑病变需通过切除和组织病理学检查来诊断）。",
}

# Sun protection offered as all the lesion needs: worth doing, no treatment, no test (the naevus management document's
# prevention section: sun protection lowers the risk of melanoma; an existing lesion is judged by examination).
SUN_PROTECTION_ONLY: dict[str, str] = {
    "en": "**Sun protection alone is not enough for this lesion.** Sunscreen and avoiding sunburn and sunbeds lower the risk of new skin cancers and are worth keeping up, but they do not treat or remove a lesion that is already there, and they cannot show whether it is a skin cancer: that still needs the check described here.",
    "zh": "**只靠防晒对这个病变是不够的。** 涂防晒霜、避免晒伤和日光浴床可以降低今后患皮肤癌的风险，值得坚持；但防晒不能治疗或去除已经存在的病变，也无法说明它是不是皮肤癌：仍需要按这里说的去检查。",
}

# A follow-up about another lesion than the one in the image ("there's another one on my ear, is that serious?").
OTHER_LESION: dict[str, str] = {
    "en": "**I can only assess the lesion in the image you uploaded**, so I cannot say anything about the other one. Upload a dermoscopy photo of it (that starts a new assessment, of that lesion) or, better, show it to the doctor at the same visit, especially if it is new, changing, bleeding, itching or unlike your other moles.",
    "zh": "**我只能评估您上传的图像中的这个病变**，对另一个病变无法作出任何判断。您可以上传它的皮肤镜照片（这会开始一次针对该病变的新评估），更好的做法是就诊时请医生一并检查，尤其是当它是新出现的、正在变化、出血、瘙痒，或与您身上其他的痣看起来不一样时。",
}

# "In plain words" (asked for: "simpler words", "说简单点", "in one sentence", "讲给我老公听"): what the most likely class is
# and what the tier asks, in everyday words, written from the corpus's overview and management documents. No class text
# is an all-clear: each benign one says what still sends a lesion to a doctor.
PLAIN_CLASS: dict[str, dict[str, str]] = {c.code: {"en": c.plain_en, "zh": c.plain_zh} for c in CLASSES}
PLAIN_TIER: dict[RiskTier, dict[str, str]] = {
    RiskTier.LOW: {"en": "The tool found no reason to send you to a doctor now, but it cannot be sure: if the spot is new, grows, changes, bleeds or itches, have a doctor look at it.",
                   "zh": "本工具没有找到需要您现在就去看医生的理由，但它不能确定：如果这个斑点是新长的、在变大、有变化、出血或发痒，请让医生看看。"},
    RiskTier.CLINICIAN: {"en": "The tool suggests that a doctor looks at it in the coming weeks.",
                         "zh": "本工具建议在接下来几周内请医生看一看。"},
    RiskTier.SOON: {"en": "The tool suggests that a skin specialist (a dermatologist) looks at it within a few weeks.",
                    "zh": "本工具建议在几周内请皮肤科医生看一看。"},
    RiskTier.URGENT: {"en": "The tool cannot rule out a skin cancer, so it suggests seeing a doctor within days and asking to be seen by a skin specialist quickly.",
                      "zh": "本工具不能排除皮肤癌，所以建议在几天内就医，并要求尽快由皮肤科医生诊治。"},
}
PLAIN_LEAD: dict[str, str] = {"en": "**In plain words:**", "zh": "**简单地说**："}
PLAIN_LEAD_LESION: dict[str, str] = {"en": "**Your lesion, in plain words:**", "zh": "**您的这个病变，简单地说**："}
PLAIN_NAMED: dict[str, str] = {"en": "**In plain words:** {name} is {what}.", "zh": "**简单地说**：{name}是指{what}。"}
# ... for a lesion the tier refers although its most likely class is benign: what the tier asks comes first.
PLAIN_WORDS_REFERRED: dict[str, str] = {
    "en": "{lead} {tier} Its single best guess is that this is {what}; but that guess is not certain, which is why it asks for the examination. A photo cannot give a diagnosis; a doctor's examination can (sometimes with a small skin sample looked at under a microscope).",
    "zh": "{lead}{tier}它最可能的单一判断是{what}；但这个判断并不确定，所以才建议检查。照片不能给出诊断，医生的检查才能（有时需要取一小块皮肤在显微镜下看）。",
}
PLAIN_WORDS: dict[str, str] = {
    "en": "{lead} the tool's best guess is that this is {what}. {tier} A photo cannot give a diagnosis; a doctor's examination can (sometimes with a small skin sample looked at under a microscope).",
    "zh": "{lead}本工具最可能的判断是，这是{what}。{tier}照片不能给出诊断，医生的检查才能（有时需要取一小块皮肤在显微镜下看）。",
}

# How to stop a lesion bleeding (first aid; the vasc management document: a lesion that bleeds easily is removed and
# examined), and what it does not replace.
STOP_BLEEDING: dict[str, str] = {
    "en": "**If it bleeds:** press firmly on it with a clean cloth or gauze for 10 to 15 minutes without lifting to look, keeping it raised if you can. Do not burn, cut, tie or cauterise it yourself. If it is still bleeding after 20 minutes of firm pressure, or the bleeding is heavy, get urgent care (an urgent-care clinic or emergency department). A lesion that bleeds easily should be examined and is usually removed properly, which also lets a pathologist look at it.",
    "zh": "**如果它出血**：用干净的布或纱布用力按压10到15分钟，中途不要松开查看，能抬高的部位尽量抬高。不要自己烧、剪、结扎或烫它。如果用力按压20分钟后仍在出血，或出血量很大，请去急诊。容易出血的病变应由医生检查，通常会规范地切除，这样病理医生也能看清它是什么。",
}

# Warning signs told before any image was assessed ("a sore on my forehead that won't heal, is it cancer?"): the answer
# says at once that they call for an examination, whatever the knowledge quoted beside them says about the classes.
SIGNS_TOLD: dict[str, str] = {
    "en": "**What you describe ({signs}) is a reason to have it examined by a doctor**, whatever it turns out to be: a warning sign like this is not something to watch at home. Uploading a dermoscopy photo here gives an estimate, not that examination.",
    "zh": "**您描述的情况（{signs}）本身就是需要请医生检查的理由**，不论最后查出来是什么：这样的警示征象不适合在家观察。在这里上传皮肤镜照片只能得到一个估计，不能代替医生的检查。",
}

# A child's lesion (an age under 18 given): HAM10000 holds few children (243 of 10,015 images, 223 of them naevi).
CHILD_AGE = 18
CHILD_NOTE: dict[str, str] = {
    "en": "**A child's skin:** only about 2% of the HAM10000 images this classifier learned from are of people under 18, almost all of them moles, so its estimate is less certain for a child. Melanoma is rare in children, and moles that appear and grow as a child grows are normal; a doctor should still examine a mole that grows much faster than the others, bleeds, or looks different from them.",
    "zh": "**儿童的皮肤**：本分类器学习所用的HAM10000图像中，来自18岁以下者的只占约2%，而且几乎都是痣，因此它对儿童病变的估计把握更小。儿童黑色素瘤很少见，随着孩子长大出现新痣、痣跟着长大都是正常的；但如果某颗痣比其他痣长得快得多、出血，或看起来和其他痣不一样，仍应请医生检查。",
}

HISTORY_UNDERSTOOD: dict[str, str] = {
    "en": "**What you told me:** {items}.",
    "zh": "**您提供的信息**：{items}。",
}

# A correction ("I never said it bleeds", "它不痒，我之前说错了") takes a sign back: said before what is now understood.
HISTORY_WITHDRAWN: dict[str, str] = {
    "en": "**Corrected:** I have taken \"{items}\" out of what you told me, and the tier is read again without it.",
    "zh": "**已更正**：不再把“{items}”算作您提供的信息，风险等级已据此重新判断。",
}

CALIBRATION_POPULATION: dict[str, str] = {
    "en": "Percentages are calibrated on dermoscopy images from specialist skin clinics (HAM10000), where skin cancers are far more common than among moles in general; they are not your personal risk.",
    "zh": "这些百分比是在皮肤专科门诊的皮肤镜图像（HAM10000）上校准的，其中皮肤癌的比例远高于一般人群的痣；它们并不是您个人的患病风险。",
}

# Said once, with the first estimate for a photo that an input check (knowledge.input_range) had to correct.
PHOTO_CORRECTED: dict[str, str] = {
    "en": "**Photo quality:** this photo is {what} than almost all the photos the classifier learned from. It was corrected before being classified, but the estimate and the colour measurements are less certain than for a clear photo: a well-lit, sharp, uncompressed photo of the lesion would help.",
    "zh": "**照片质量**：与分类器学习过的几乎所有照片相比，这张照片{what}。分类前已做了校正，但估计结果和颜色测量不如清晰的照片可靠：重新拍一张光线充足、清晰、未经压缩的病变照片会更有帮助。",
}
PHOTO_CORRECTION_NAMES: dict[str, dict[str, str]] = {
    "exposure_floor": {"en": "darker or flatter", "zh": "更暗或对比度更低"},
    "deblocker": {"en": "more heavily JPEG-compressed", "zh": "JPEG 压缩痕迹更重"},
    "denoiser": {"en": "noisier", "zh": "噪点更多"},
    "sharpener": {"en": "less sharp", "zh": "更模糊"},
    "hair": {"en": "more covered by hair", "zh": "被毛发遮挡更多"},
}


def photo_corrected(corrections: tuple[str, ...], lang: str) -> str | None:
    """The photo-quality sentence for these input corrections, in ``lang``; None when there are none."""
    names = [PHOTO_CORRECTION_NAMES[key][lang] for key in corrections if key in PHOTO_CORRECTION_NAMES]
    if not names:
        return None
    if lang == "zh":
        what = "、".join(names)
    else:
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + (", and " if len(names) > 2 else " and ") + names[-1]
    return PHOTO_CORRECTED[lang].format(what=what)


PROFESSIONAL_REMOVAL: dict[str, str] = {
    "en": "**Whether and how to remove it is for a doctor to decide after examining it; please do not have it lasered, frozen or burnt off first**, at a clinic or a beauty salon alike. These methods destroy the lesion and leave no tissue, so no one can later check whether it was a skin cancer, and they are used only once a doctor is confident that a lesion is benign. A lesion with any doubt about it is cut out whole and sent for histopathology (the management documents cited here).",
    "zh": "**是否去除、怎样去除，应由医生检查后决定；请不要先用激光、冷冻或烧灼的方法把它去掉**，无论在医院还是美容院。这些方法会破坏病变、不留组织，之后就无法再检查它是不是皮肤癌，只有在医生确信病变是良性时才会使用。只要有任何疑问，就应把病变完整切除并送病理检查（参见本知识库引用的诊疗文件）。",
}

# Fixed sentences with no source to cite (what the evals count as policy rather than fact).
POLICY_TEXTS: tuple[dict[str, str], ...] = (WARNING_SIGNS, SELF_TREATMENT, PROFESSIONAL_REMOVAL, SUN_PROTECTION_ONLY, OTHER_LESION, PLAIN_NAMED, CHILD_NOTE, STOP_BLEEDING, SIGNS_TOLD, HISTORY_UNDERSTOOD, HISTORY_WITHDRAWN,
                                            CALIBRATION_POPULATION, PHOTO_CORRECTED,
                                            {lang: text.split("。" if lang == "zh" else ". ")[0] + ("。" if lang == "zh" else ".")
                                             for lang, text in CANNOT_CONFIRM_BENIGN.items()})

DISCLAIMER: dict[str, str] = {
    "en": "dermagraph is decision support for research and teaching, not a diagnosis. Any lesion that worries you, changes, bleeds or itches should be examined by a doctor.",
    "zh": "dermagraph 仅用于科研与教学的辅助决策，并非诊断。任何令您担心、发生变化、出血或瘙痒的病变都应由医生检查。",
}


def tier_for_class(code: str) -> RiskTier:
    """The tier a class calls for when it is suspected (NICE NG12 1.7.1-1.7.8; corpus: *-management.md).

    Melanoma: the suspected-cancer pathway (about two weeks). Basal cell carcinoma: a routine referral to a
    dermatologist, sooner on the face or when large or bleeding. Actinic keratosis / intraepithelial
    carcinoma: a clinician examines and treats it (urgent if an invasive SCC is suspected). Benign: low.
    """
    if code == "mel":
        return RiskTier.URGENT
    if code == "bcc":
        return RiskTier.SOON
    return RiskTier.CLINICIAN if get_class(code).malignant else RiskTier.LOW


CLASS_TIER: dict[str, RiskTier] = {code: tier_for_class(code) for code in CODES}


def escalate(tier: RiskTier, steps: int = 1) -> RiskTier:
    return TIER_ORDER[min(TIER_ORDER.index(tier) + steps, len(TIER_ORDER) - 1)]


def at_least(tier: RiskTier, floor: RiskTier) -> RiskTier:
    return max(tier, floor, key=TIER_ORDER.index)


def tier_name(tier: RiskTier, lang: Language = "en") -> str:
    return TIER_NAMES[tier][lang]


# "See a dermatologist soon" for a suspected basal cell carcinoma on the face or bleeding: the one earlier timeframe that
# replaces the routine-referral line (not routine-then-sooner).
SOON_SOONER: dict[str, str] = {
    "en": "Have it examined by a dermatologist, and sooner than a routine referral: a suspected basal cell carcinoma on the face, or one that bleeds, is better treated early, and NICE NG12 allows a suspected-cancer (two-week) referral when a lesion's site or size means a delay could matter; ask your doctor for that, or book a dermatologist directly within about two weeks where your health system allows it.",
    "zh": "请由皮肤科医生检查，并且要比常规转诊更早：面部或出血的疑似基底细胞癌宜早处理；当病变的部位或大小使延误可能造成影响时，NICE NG12 允许按疑似癌症通道（两周内）转诊，请向医生提出；可直接挂皮肤科号的地方，请在约两周内就诊。",
}
# ... reached otherwise than by a suspected basal cell carcinoma (warning signs told, the measured features, the malignant
# classes together above their cut-off): the tier's timeframe without the BCC rule.
SOON_OTHER: dict[str, str] = {
    "en": "Have it examined by a dermatologist within the next few weeks (ask your doctor for a referral, or book a dermatologist directly where your health system allows it), sooner if it grows, changes, bleeds or does not heal (the reasons above are ones for which a specialist should examine a lesion; NICE NG12 and the dermoscopy checklists).",
    "zh": "请在未来几周内由皮肤科医生检查（可直接到医院皮肤科挂号，需要转诊的地方请医生转诊）；若它变大、变化、出血或不愈合，应更早就诊（上面列出的理由都需要由专科医生检查病变；NICE NG12 与皮肤镜检查清单）。",
}


def tier_advice(tier: RiskTier, lang: Language = "en", suspected: str | None = "bcc", sooner: bool = False) -> str:
    """The tier's advice. "See a dermatologist soon" says the BCC referral rule only for a suspected basal cell carcinoma
    (``suspected``: the triage's), the earlier timeframe for one on the face or bleeding (``sooner``), and the
    timeframe alone for any other reason."""
    if tier == RiskTier.SOON and sooner:
        return SOON_SOONER[lang]
    if tier == RiskTier.SOON and suspected != "bcc":
        return SOON_OTHER[lang]
    return TIER_ADVICE[tier][lang]


def triage_advice(triage: Any, lang: Language = "en") -> str:
    """``tier_advice`` for a triage (``agents.risk.Triage`` or its dict)."""
    get = triage.get if isinstance(triage, dict) else lambda k, d=None: getattr(triage, k, d)
    tier = get("tier")
    return tier_advice(RiskTier(tier.value if isinstance(tier, RiskTier) else tier), lang, get("suspected"), bool(get("sooner", False)))


ALL_TIER_ADVICE: tuple[dict[str, str], ...] = (*TIER_ADVICE.values(), SOON_SOONER, SOON_OTHER)


def disclaimer(lang: Language = "en") -> str:
    return DISCLAIMER[lang]


# Knowledge sentences that tell a reader a lesion can wait or needs nothing ("harmless and needs no treatment",
# "usually do not need urgent attention", "无需治疗"): true of the class they describe, but quoted beside a tier
# that sends the person to a clinician they read as permission not to go. The composer leaves them out of an
# answer about a lesion with a referral tier. Cautionary sentences using the same words ("melanomas can look
# harmless") are left out too: the answer loses a quote, never its advice.
_ROUTINE_CARE: dict[str, re.Pattern[str]] = {
    "en": re.compile(
        r"\b(?:can (?:usually |safely )?wait|(?:do|does|did) not need (?:urgent|any|to be|treatment|removal|follow-up)|"
        r"needs? no (?:treatment|removal|follow-up|specialist)|(?:treatment|referral|follow-up|removal) is (?:not|rarely) "
        r"(?:needed|necessary|required)|harmless|not dangerous|(?:does not|never) turns? into (?:a )?cancer|"
        r"nothing to worry|reassurance is (?:the usual|usually|all)|referred routinely|routine referral|"
        r"not (?:on )?the (?:urgent|suspected-cancer|two-week)|(?:almost never|rarely|seldom) spreads?|"
        r"(?:almost never|rarely|seldom) metastasi[sz]es|within (?:a few |several )?weeks,? (?:not|rather than)|"
        r"rather than (?:on )?(?:an? |the )?(?:urgent|suspected-cancer|two-week)|(?:does not|doesn'?t|never|cannot|can'?t) "
        r"(?:turn|become|change|progress) into (?:a )?(?:cancer|melanoma|malignan\w*)|"
        r"photograph (?:it|the \w+)?.{0,40}\b(?:review|recheck|re-?examine|compare)\w*|"
        r"(?:can be|are|is) (?:assessed|reviewed|seen|handled|treated|managed)(?: and treated)? in (?:routine|primary)|"
        r"routine (?:primary care|dermatology|appointment|check|matters?|clinic)|not an emergency|minor concerns?)\b",
        re.IGNORECASE),
    "zh": re.compile(r"可以等|不需要紧急|不必紧急|无需紧急|不需要治疗|无需治疗|不必治疗|不需要处理|无需处理|无需随访|不需要随访|"
                     r"不需要转诊|无需转诊|无害|不会癌变|不会变成癌|不危险|不用担心|无需担心|只需(?:要)?安慰|通常只需|"
                     r"常规转诊|按常规|不走.{0,6}紧急|而非紧急|(?:几乎|很少|极少)(?:不会)?(?:发生)?转移|(?:数|几)周内.{0,3}(?:而不是|而非)|不会(?:转变|转化|发展|演变)(?:为|成)?(?:癌|恶性)|不会恶变|拍照.{0,12}(?:复查|复诊|比较|对比)|"
                     r"可在常规|常规(?:基层|门诊|皮肤科|随访|复查|检查|就诊|预约)|轻微疑虑|(?:不是|并非|不属于|不算)(?:急症|紧急情况)"),
}


# Knowledge sentences that call a lesion or a class benign or low-risk ("a naevus is a benign collection of melanocytes",
# "良性聚集", "每颗痣的风险都极小") or describe watching it over time ("re-images ... after about three months",
# "每一到两个月检查一次皮肤"): true of what they describe, but quoted beside "it's nothing, right?" / "is it dangerous?"
# about a referred lesion they read as the answer. Such a turn quotes none of them.
_PERMISSION: dict[str, re.Pattern[str]] = {
    "en": re.compile(
        r"\b(?:benign|harmless|non-?cancerous|not (?:a )?cancer|low[- ]risk|(?:common|ordinary|typical|banal) (?:moles?|naev\w+|nev\w+)|(?:risk|chance) (?:\w+ ){0,5}(?:is|are) (?:\w+ )?"
        r"(?:small|low|tiny|minimal|negligible)|(?:rarely|seldom|almost never) (?:becomes?|turns?|develops?)|"
        r"monitor\w*|surveillance|re-?imag\w*|follow(?:ed)?[- ]up|keep an eye|watch(?:ed|ful|ing)?|review(?:ed)?|"
        r"every (?:\w+ )?(?:to \w+ )?(?:weeks?|months?|years?)|after (?:about |roughly |some )?\w+ (?:weeks|months)|"
        r"(?:weeks|months) later|sequential|serial)\b", re.IGNORECASE),
    "zh": re.compile(r"良性|无害|非癌|不是癌|低风险|普通(?:的)?痣|风险.{0,3}(?:极|很|非常|较)?(?:小|低|微)|(?:很少|极少|罕见)(?:会)?(?:变成|发展|癌变|恶变)|"
                     r"监测|监控|随访|观察|复查|复诊|追踪|跟踪|留意|定期|每.{0,5}(?:周|个?月|年)|(?:周|个?月)后再"),
}


def reads_as_permission(sentence: str, lang: Language) -> bool:
    """Would this sentence, quoted beside "it's nothing, right?" about a referred lesion, read as the answer?"""
    return bool(_PERMISSION["zh" if lang == "zh" else "en"].search(sentence))


def reads_as_routine_care(sentence: str, lang: Language) -> bool:
    """Does this sentence tell the reader the lesion can wait or needs nothing? (see ``_ROUTINE_CARE``)"""
    return bool(_ROUTINE_CARE["zh" if lang == "zh" else "en"].search(sentence))

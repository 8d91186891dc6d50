"""The deterministic, grounded composer: every factual sentence is built from a source and cites it.

Sources and their markers: [P] the classifier's calibrated output, [F] the measured features,
[C#] a similar confirmed case, [K#] a knowledge passage. Knowledge sentences are extracted
verbatim from the retrieved passages (chosen by overlap with the question), never paraphrased,
so they are supported by construction; the safety reviewer checks it all the same.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence, TypeVar

from knowledge.cases import CaseFilters
from knowledge.schema import Prediction
from knowledge.settings import get_settings
from knowledge.taxonomy import CODES, MALIGNANT_CODES, Language, confirmation_name, display_name, site_name

from agents.injection import steers_the_answer
from knowledge.criteria import STRUCTURES, Expectation, expectations_for
from agents.intents import IntentKind, TurnIntent
from agents.risk import RiskTier, Triage, tier_advice, tier_name, triage as triage_rule
from knowledge.advice import (REFERRAL_TIERS, CALIBRATION_POPULATION, CHILD_AGE, CHILD_NOTE, SIGNS_TOLD, STOP_BLEEDING, CANNOT_CONFIRM_BENIGN, HISTORY_UNDERSTOOD, HISTORY_WITHDRAWN, MELANOMA_NOT_EXCLUDED,
                              MISS_RATE, OTHER_LESION, PLAIN_CLASS, PLAIN_LEAD, PLAIN_LEAD_LESION, PLAIN_NAMED, PLAIN_TIER, PLAIN_WORDS, PLAIN_WORDS_REFERRED, PROFESSIONAL_REMOVAL, SELF_TREATMENT, SUN_PROTECTION_ONLY, WARNING_SIGNS, photo_corrected,
                              reads_as_permission, reads_as_routine_care)
from knowledge.patient import SIGN_NAMES, PatientInfo
from agents.state import Answer, CaseRef, Citation, FeatureRef, IntakeResult, PassageRef, Sentence
from agents.templates import T, backend_name, percent, percents_apart, render


class _HasText(Protocol):
    text: str


_Text = TypeVar("_Text", bound=_HasText)

SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
ZH_SENTENCE_SPLIT = re.compile(r"(?<=[。！？])")
WORD = re.compile(r"[a-z][a-z\-]{2,}")
# A sentence that opens by pointing back ("This...", "One such feature...", "这些...") is only true with the one
# before it: it is quoted together with its antecedent, never alone.
ANAPHOR = {
    "en": re.compile(r"(?:This|These|That|Those|It|Its|They|Their|Such|One such|Both|However|But|Therefore|Thus|Here|"
                     r"In (?:this|these|such)|Like (?:this|these))\b"),
    "zh": re.compile(r"(?:这|那|该|其|它|此|上述|以上|但|不过|然而|因此|所以|同样|这些|此类|前者|后者)"),
}
MAX_UNIT_SENTENCES = 3
STOP = set(
    "the and for are was were with that this from have has had not but can may its into than then them they their "
    "what which when where who why how does did is it be of to in on a an or as at by if so do any all more most "
    "such these those there here about also very will would could should lesion lesions skin".split()
)


@dataclass
class ComposeInput:
    intent: TurnIntent
    language: Language
    prediction: Prediction | None = None
    risk: RiskTier | None = None
    features: FeatureRef | None = None
    cases: list[CaseRef] = field(default_factory=list)
    case_filters: CaseFilters = field(default_factory=CaseFilters)
    already_quoted: set[str] = field(default_factory=set)  # knowledge units quoted earlier in this thread
    case_page: int = 0
    passages: list[PassageRef] = field(default_factory=list)
    intake: IntakeResult | None = None
    has_image: bool = False
    image_path: str | None = None  # for a composer that looks at the image (the LLM composer)
    triage: Triage | None = None  # the tier's reasons (agents.risk); None: the prediction-only rule
    patient: PatientInfo | None = None  # what the person told us, shown back
    audience: str | None = None  # "clinician": the advice is addressed to their patient

    def current_triage(self) -> Triage | None:
        if self.triage is not None:
            return self.triage
        return triage_rule(self.prediction) if self.prediction is not None else None


class _Builder:
    def __init__(self, lang: Language, already_quoted: set[str] | None = None) -> None:
        self.lang = lang
        self.sentences: list[Sentence] = []
        self.quoted: list[str] = []  # knowledge units quoted in this answer
        self.already_quoted = set(already_quoted or ())

    def fact(self, text: str, *refs: str, support: list[str] | None = None) -> None:
        self.sentences.append(Sentence(text=text, refs=list(dict.fromkeys(refs)), kind="fact", support=support or []))

    def policy(self, text: str) -> None:
        self.sentences.append(Sentence(text=text, kind="policy"))

    def prompt(self, text: str) -> None:
        self.sentences.append(Sentence(text=text, kind="prompt"))


def _words(text: str) -> set[str]:
    """Content words: English words, and Chinese words (jieba) of two characters or more."""
    words = {w for w in WORD.findall(text.lower()) if w not in STOP}
    if _CJK.search(text):
        from knowledge.tokenize import tokenize_zh

        words |= {w for w in tokenize_zh(text) if len(w) >= 2 and _CJK.search(w)}
    return words


_CJK = re.compile(r"[\u3400-\u9fff]")


def flat_text(passage: PassageRef) -> str:
    """The passage as one line (what quotes are cut from and the reviewer checks them against)."""
    return " ".join(passage.text.split())


def _split(flat: str, lang: str) -> list[str]:
    parts = ZH_SENTENCE_SPLIT.split(flat) if lang == "zh" else SENTENCE_SPLIT.split(flat)
    return [p.strip() for p in parts if p.strip()]


def passage_sentences(passage: PassageRef) -> list[str]:
    """The passage's sentences, in order (empty when any of it steers the answer).

    A passage with any text aimed at the answer is not quoted at all: whoever planted one sentence may
    have planted its neighbours too (and an attack can span sentences: "Should I see a doctor? No, ...").
    """
    flat = flat_text(passage)
    if steers_the_answer(flat):
        return []
    return _split(flat, passage.lang)


def _quotable(sentence: str, lang: str) -> bool:
    low, high = (12, 220) if lang == "zh" else (40, 480)
    end = "。！？" if lang == "zh" else ".!?"
    return low <= len(sentence) <= high and sentence[-1] in end and not sentence.startswith("#")


def quote_unit(sentences: list[str], i: int, lang: str) -> tuple[int, int]:
    """The span (start, end) to quote so that sentence ``i`` is true as quoted: it and the sentences before it
    that it points back to ("This...", "One such feature...")."""
    start = i
    while start > 0 and i - start + 1 < MAX_UNIT_SENTENCES and ANAPHOR[lang if lang in ANAPHOR else "en"].match(sentences[start]):
        start -= 1
    return start, i + 1


def unit_key(passage: PassageRef, start: int, end: int) -> str:
    return f"{passage.passage_id}:{start}-{end}"


def best_units(passage: PassageRef, query_terms: set[str], skip: set[str] = frozenset(), n: int = 1,
               routine_care: bool = True, permission: bool = True) -> list[tuple[str, str]]:
    """The passage's most relevant quotable units, as (key, text), never one in ``skip``: overlap with the
    question, favouring the opening (topic) sentence and sentences that name their subject.
    ``routine_care=False``: no unit saying the lesion can wait or needs nothing (a lesion with a referral tier);
    ``permission=False``: nor one calling it benign or low-risk, describing a common mole or watching it over time."""
    sentences = passage_sentences(passage)
    lang = passage.lang if passage.lang in ANAPHOR else "en"
    joiner = "" if lang == "zh" else " "
    scored = []
    for i, s in enumerate(sentences):
        if not _quotable(s, lang):
            continue
        start, end = quote_unit(sentences, i, lang)
        if ANAPHOR[lang].match(sentences[start]) or not all(_quotable(x, lang) for x in sentences[start:end]):
            continue  # its antecedent is not in this passage or is not quotable: never an orphan
        key = unit_key(passage, start, end)
        if key in skip or any(unit_key(passage, a, b) in skip for a in range(start, end) for b in range(a + 1, end + 1)):
            continue
        if not routine_care and any(reads_as_routine_care(x, lang) for x in sentences[start:end]):
            continue
        if not permission and any(reads_as_permission(x, lang) for x in sentences[start:end]):
            continue
        score = len(_words(s) & query_terms) + (1.5 if start == 0 else 0.0) - 0.5 * (end - start - 1)
        scored.append((score, -i, key, joiner.join(sentences[start:end])))
    scored.sort(reverse=True)
    return [(key, text) for _, _, key, text in scored[:n]]


def best_sentences(passage: PassageRef, query_terms: set[str], n: int = 1) -> list[str]:
    """The text of ``best_units`` (for composers that only need the words)."""
    return [text for _, text in best_units(passage, query_terms, n=n)]


def _query_terms(inp: ComposeInput, extra_classes: list[str]) -> set[str]:
    text = inp.intent.question
    for code in extra_classes:
        text += " " + display_name(code, "en")
    return _words(text)


def _filters_text(filters: CaseFilters, lang: Language) -> str:
    items = filters.describe(lang)
    return render("filters_prefix", lang, items=("、" if lang == "zh" else ", ").join(items)) if items else ""


def _who(case: CaseRef, lang: Language) -> str:
    age = render("age_years", lang, age=case.age) if case.age is not None else T["age_unknown"][lang]
    sex = {"male": {"en": "male", "zh": "男性"}, "female": {"en": "female", "zh": "女性"}}.get(case.sex, {"en": "", "zh": ""})[lang]
    return render("who", lang, age=age, sex=sex).strip()


def _case_line(case: CaseRef, lang: Language) -> str:
    return render(
        "case_line", lang, image_id=case.image_id, dx=display_name(case.dx, lang),
        confirm=confirmation_name(case.dx_type, lang), who=_who(case, lang), site=site_name(case.localization, lang),
        rank=render("case_rank", lang, rank=case.rank) if case.rank else "",
    )


def _add_estimate(b: _Builder, p: Prediction) -> None:
    (c1, p1), (c2, p2), (c3, p3) = p.top_k(3)
    key = "estimate_abstain" if p.abstained else "estimate"
    b.fact(render(key, b.lang, c1=display_name(c1, b.lang), p1=percent(p1), c2=display_name(c2, b.lang),
                  p2=percent(p2), c3=display_name(c3, b.lang), p3=percent(p3)), "P")


def _image_alone(value: float, shown: Prediction | None, codes: tuple[str, ...], lang: Language) -> str:
    """" from the image alone (12% with the age, sex or site given)" when ``value`` (what the triage rule read for
    ``codes``: melanoma, or every malignant class) is the image-only probability and the estimate shows another;
    "" otherwise."""
    if shown is None or shown.image_probs is None:
        return ""
    shown_value = sum(shown.probs.get(c, 0.0) for c in codes)
    return "" if abs(value - shown_value) < 0.005 else render("reason_image_alone", lang, shown=percent(shown_value))


def triage_reasons(t: Triage, lang: Language, shown: Prediction | None = None) -> str:
    """The tier's reasons in words, in the order the rule applied them. The rule reads the higher of the image-only
    and with-metadata probabilities; when that is not the one ``shown`` in the estimate, the reason says so."""

    out = []
    for reason in t.reasons:
        if reason.startswith("class:"):
            code = reason.split(":", 1)[1]
            key = f"reason_class_{code}" if code in MALIGNANT_CODES else "reason_class_benign"
            out.append(render(key, lang, p_mel=percent(t.p_mel), p_mal=percent(t.p_malignant)))
        elif reason == "mel_threshold":
            p_mel, t_mel = percents_apart(t.p_mel, t.mel_threshold)
            out.append(render("reason_mel_threshold", lang, p_mel=p_mel + _image_alone(t.p_mel, shown, ("mel",), lang), t_mel=t_mel,
                              sens=percent(t.target_sensitivity)))
        elif reason == "malignant_threshold":
            p_mal, t_mal = percents_apart(t.p_malignant, t.malignant_threshold)
            out.append(render("reason_malignant_threshold", lang, p_mal=p_mal + _image_alone(t.p_malignant, shown, tuple(MALIGNANT_CODES), lang),
                              t_mal=t_mal))
        elif reason == "checklist":
            criteria = _checklist_criteria(t, lang)
            out.append(render("reason_checklist", lang, criteria=criteria, score=t.checklist_score, cut=t.checklist_cutoff))
        elif reason == "history":
            sep = "、" if lang == "zh" else ", "
            out.append(render("reason_history", lang, signs=sep.join(SIGN_NAMES[s][lang] for s in t.history_signs)))
        elif reason == "nice_7point":
            out.append(render("reason_nice_7point", lang, n=t.nice_7point))
        else:
            out.append(T[f"reason_{reason}"][lang])
    return T["reason_sep"][lang].join(out)


def _add_risk(b: _Builder, p: Prediction, tier: RiskTier, t: Triage | None = None, changed: bool = False) -> None:
    """The tier with its reasons; once they have been given in the thread, the tier alone says they still hold (the
    thread's record of what was said, ``quoted``, keeps a key of the reasons as written). ``changed``: this turn may
    have taken the tier back to reasons given before (a correction), so they are given again, never "unchanged"."""
    t = t if t is not None else triage_rule(p)
    reasons = triage_reasons(t, b.lang, shown=p)
    key = "tier-reasons:" + hashlib.sha1(f"{tier.value}|{reasons}".encode()).hexdigest()[:16]
    if key in b.already_quoted and not changed:
        b.fact(render("risk_again", b.lang, tier=tier_name(tier, b.lang)), "P")
        return
    b.fact(render("risk", b.lang, tier=tier_name(tier, b.lang), reasons=reasons), "P")
    b.quoted.append(key)


def _add_lesion_header(b: _Builder, inp: ComposeInput, first: bool = False) -> None:
    """This lesion's estimate, tier and the reason: what every answer about it starts from."""
    p, t = inp.prediction, inp.current_triage()
    assert p is not None
    if inp.intent.withdrawn:  # the correction acknowledged first: the tier below is read without the sign
        b.policy(HISTORY_WITHDRAWN[b.lang].format(items=("、" if b.lang == "zh" else " or ").join(
            SIGN_NAMES[s][b.lang] for s in inp.intent.withdrawn)))
    if t is not None and t.melanoma_not_excluded:
        b.fact(MELANOMA_NOT_EXCLUDED[b.lang].format(p=percent(t.p_mel) + _image_alone(t.p_mel, p, ("mel",), b.lang),
                                                    sens=percent(t.target_sensitivity)), "P")
    _add_estimate(b, p)
    if inp.risk is not None:
        _add_risk(b, p, inp.risk, t, changed=bool(inp.intent.withdrawn))
    _add_outside_classes(b, inp)
    if first:
        b.policy(CALIBRATION_POPULATION[b.lang])
        if (quality := photo_corrected(p.input_corrections, b.lang)) is not None:
            b.policy(quality)
    sep = "；" if b.lang == "zh" else "; "
    if inp.patient is not None and not inp.patient.is_empty():
        told = HISTORY_UNDERSTOOD[b.lang].format(items=sep.join(inp.patient.summary(b.lang)))
        key = "told:" + hashlib.sha1(told.encode()).hexdigest()[:16]
        if key not in b.already_quoted:  # shown when it is new or has changed, not in every answer
            b.policy(told)
            b.quoted.append(key)
            if inp.patient.age is not None and inp.patient.age < CHILD_AGE:
                b.policy(CHILD_NOTE[b.lang])


def _add_plain_words(b: _Builder, inp: ComposeInput) -> None:
    """The most likely class and what the tier asks, in everyday words (knowledge.advice.PLAIN_*)."""
    p = inp.prediction
    assert p is not None
    named = [c for c in inp.intent.classes if c != p.label and c in PLAIN_CLASS]
    for code in named:  # "what does seborrhoeic keratosis mean, in simple words?": that class first
        b.policy(PLAIN_NAMED[b.lang].format(name=display_name(code, b.lang), what=PLAIN_CLASS[code][b.lang]))
    tier = PLAIN_TIER[inp.risk][b.lang] if inp.risk is not None else ""
    lead = (PLAIN_LEAD_LESION if named else PLAIN_LEAD)[b.lang]
    referred_benign = inp.risk in REFERRAL_TIERS and p.label not in MALIGNANT_CODES  # the tier first, then the guess
    words = PLAIN_WORDS_REFERRED if referred_benign else PLAIN_WORDS
    b.fact(words[b.lang].format(lead=lead, what=PLAIN_CLASS[p.label][b.lang], tier=tier), "P")


def _add_outside_classes(b: _Builder, inp: ComposeInput) -> None:
    """A question naming a condition that is none of the seven classes ("why not eczema?"): the tool cannot tell."""
    if inp.intent.other_conditions:
        names = T["list_or"][b.lang].join(inp.intent.other_conditions)
        classes = T["list_comma"][b.lang].join(display_name(c, b.lang) for c in CODES)
        b.policy(render("outside_classes", b.lang, names=names, classes=classes))


def _add_reassurance_guard(b: _Builder, inp: ComposeInput) -> None:
    """A question about whether the lesion is harmless gets the same guard as pushback: no all-clear, the
    measured miss rate, the warning signs."""
    if inp.intent.reassurance and inp.prediction is not None:
        _add_cannot_confirm(b, inp.current_triage())
        b.policy(WARNING_SIGNS[b.lang])


def _add_plain_no(b: _Builder, inp: ComposeInput) -> bool:
    """Pushback that it is harmless ("it's nothing serious, right?") about a lesion whose tier refers: said plainly,
    first, with "nothing said changes it". Not a bare "no": after "should I worry?" that would read as "no need"."""
    t = inp.current_triage()
    if inp.risk is not None and inp.risk != RiskTier.LOW and t is not None:
        b.fact(render("not_benign_referral", b.lang, p_mal=percent(t.p_malignant), tier=tier_name(inp.risk, b.lang)), "P")
        return True
    return False


def _add_side_questions(b: _Builder, inp: ComposeInput) -> None:
    """What the question also asked, whatever the turn's intent: treating it at home, skipping or putting off the
    examination, what it costs. Each gets its own direct answer."""
    if inp.intent.kind != IntentKind.SELF_TREAT:
        if inp.intent.self_treatment:
            b.policy(SELF_TREATMENT[b.lang])
        elif inp.intent.removal_elsewhere:
            b.policy(PROFESSIONAL_REMOVAL[b.lang])
    if inp.intent.sun_only and inp.prediction is not None:
        b.policy(SUN_PROTECTION_ONLY[b.lang])
    if (inp.intent.delay or inp.intent.sun_only) and inp.risk is not None:  # "sunscreen and leave it" puts it off too
        b.policy(T["delay_low" if inp.risk == RiskTier.LOW else "delay_referral"][b.lang])
    if inp.intent.cost:
        b.policy(T["cost"][b.lang])


def _checklist_criteria(t: Triage, lang: Language) -> str:
    from agents.checklist import CRITERIA_NAMES

    return T["list_sep"][lang].join(CRITERIA_NAMES[k][lang] for k, v in t.checklist_points.items() if v > 0)


def _add_advice(b: _Builder, inp: ComposeInput) -> None:
    if inp.risk is None:
        return
    _add_side_questions(b, inp)
    t = inp.current_triage()
    advice = tier_advice(inp.risk, b.lang, t.suspected, t.sooner) if t is not None else tier_advice(inp.risk, b.lang)
    b.policy(T["for_the_patient"][b.lang] + advice if inp.audience == "clinician" else advice)
    if (inp.risk == RiskTier.LOW and t is not None and t.checklist_score is not None and t.checklist_cutoff is not None
            and 0 < t.checklist_score == t.checklist_cutoff - 1):
        # One point short of escalating: a low tier must not read as "nothing was seen".
        b.fact(render("checklist_near", b.lang, criteria=_checklist_criteria(t, b.lang), score=t.checklist_score,
                      cut=t.checklist_cutoff), "F")


_AT_STAKE = {"mel": {"en": "melanomas", "zh": "黑色素瘤"},
             "malignant": {"en": "malignant or pre-malignant lesions", "zh": "恶性或癌前病变"}}


def _add_cannot_confirm(b: _Builder, t: Triage | None, lead: bool = True) -> None:
    """The measured miss rate for the class at stake: melanoma unless another malignant class is suspected.
    Without `lead` only the miss rate, for an answer that has already refused to call the lesion harmless."""
    at_stake = "malignant" if t is not None and t.suspected in ("bcc", "akiec") else "mel"
    miss = None if t is None else (t.val_malignant_missed if at_stake == "malignant" else t.val_mel_missed)
    if miss is not None:
        text = CANNOT_CONFIRM_BENIGN if lead else MISS_RATE
        b.fact(text[b.lang].format(miss=percent(miss), cls=_AT_STAKE[at_stake][b.lang]), "P")
    elif lead:
        first = CANNOT_CONFIRM_BENIGN[b.lang].split("。" if b.lang == "zh" else ". ")[0]
        b.policy(first + ("。" if b.lang == "zh" else "."))


def _add_features(b: _Builder, features: FeatureRef | None) -> None:
    if features is None:
        return
    if not features.delineated:
        reason = (features.reason_zh if b.lang == "zh" else None) or features.reason or "?"
        b.fact(render("features_none", b.lang, reason=reason), "F")
        return
    statements = features.statements_zh if b.lang == "zh" else features.statements_en
    if statements:
        b.fact(render("features", b.lang, statements=T["list_sep"][b.lang].join(statements)), "F")


def diagnosis_mix(cases: list[CaseRef], lang: Language) -> str:
    """"6 melanocytic naevi, 3 dermatofibromas and 1 melanoma": every case counted, commonest first."""
    counts = Counter(c.dx for c in cases).most_common()
    parts = [render("mix_item", lang, n=n, dx=display_name(dx, lang)) for dx, n in counts]
    if len(parts) == 1:
        return parts[0]
    return T["mix_sep"][lang].join(parts[:-1]) + T["mix_and"][lang] + parts[-1]


def _add_case_summary(b: _Builder, cases: list[CaseRef], focus: str, filters: CaseFilters) -> None:
    """The diagnosis mix of the cases shown, citing every case it counts (so each count can be checked)."""
    ftext = _filters_text(filters, b.lang)
    if not cases:
        b.policy(render("cases_empty", b.lang, filters=ftext))
        return
    histo = sum(c.dx_type == "histo" for c in cases)
    b.fact(render("cases_mix", b.lang, filters=ftext, n=len(cases), mix=diagnosis_mix(cases, b.lang), histo=histo),
           *[c.ref for c in cases])
    b.fact(_case_line(cases[0], b.lang), cases[0].ref)


def _add_knowledge(b: _Builder, passages: list[PassageRef], terms: set[str], n_passages: int = 2, lead: bool = True,
                   routine_care: bool = True, permission: bool = True) -> int:
    """Quote up to ``n_passages`` passages, one unit each, none quoted before in this thread; with
    ``routine_care=False`` (see ``_no_routine_care``), nothing saying the lesion can wait or needs nothing."""
    added = 0
    for passage in passages:
        if added >= n_passages:
            break
        picked = best_units(passage, terms, skip=b.already_quoted | set(b.quoted), routine_care=routine_care,
                            permission=permission)
        if not picked:
            continue
        unit, text = picked[0]
        key = "knowledge_lead" if lead and added == 0 else "knowledge_more"
        b.fact(render(key, b.lang, text=text), passage.ref)
        b.quoted.append(unit)
        added += 1
    return added


def _no_routine_care(inp: ComposeInput) -> bool:
    """An answer about a lesion the tier sends to a clinician, or about a refused image (no estimate is no
    reassurance), quotes nothing that says the lesion can wait or needs nothing."""
    refused = inp.intake is not None and not inp.intake.accepted
    return refused or (inp.risk is not None and inp.risk in REFERRAL_TIERS)


def with_most_terms(ranked: Sequence[_Text], terms: Iterable[str]) -> _Text:
    """The item (in rank order) whose text holds most of ``terms``, the best-ranked among equals: a claim about
    melanoma in general must not cite the section on acral melanoma. Used here and by the retrieval node."""
    low = [t.lower() for t in terms]
    return max(enumerate(ranked), key=lambda e: (sum(t in e[1].text.lower() for t in low), -e[0]))[1]


def _passage_of(inp: ComposeInput, doc_id: str, terms: tuple[str, ...] = ()) -> PassageRef | None:
    """The retrieved passage of ``doc_id`` that holds most of ``terms`` (the words the cited claim rests on)."""
    of_doc = [p for p in inp.passages if p.doc_id == doc_id]
    return with_most_terms(of_doc, terms) if of_doc else None


def _colour_list(values: dict, lang: Language) -> str:
    from models.features.config import COLOURS

    names = {c.key: (c.name_zh if lang == "zh" else c.name_en) for c in COLOURS}
    return T["list_comma"][lang].join(names.get(k, k) for k in values.get("colours") or [])


def _measured(e: Expectation, values: dict, lang: Language) -> str:
    """What the analyser measured for the property an expectation is about, in words."""
    if e.key.endswith(("symmetric", "asymmetric")):
        return T[f"measured_axes_{min(max(int(values.get('asymmetric_axes', 0)), 0), 2)}"][lang]
    if e.key == "bkl_sharp":
        return render("measured_abrupt", lang, n=int(values.get("abrupt_segments", 0)))
    return render("measured_colours", lang, n=int(values.get("colour_count", 0)), colours=_colour_list(values, lang))


def _add_criteria(b: _Builder, inp: ComposeInput, code: str) -> bool:
    """For class ``code``: its typical appearance (from its dermoscopy document) against this lesion's
    measurements, one sentence for what fits and one for what does not, citing both."""
    features = inp.features
    if features is None or not features.delineated:
        return False
    fits, against = [], []
    for e in expectations_for(code):
        verdict = e.check(features.values)
        if verdict is not None:
            (fits if verdict else against).append(e)
    terms = tuple(t for e in fits + against for t in e.terms[b.lang])
    passage = _passage_of(inp, STRUCTURES[code].doc, terms)
    if passage is None:
        return False
    name = display_name(code, b.lang)
    for group, key in ((against, "criteria_against"), (fits, "criteria_for")):
        said = f"{key}:{code}"
        if group and said in b.already_quoted:
            continue  # the same comparison was made earlier in this thread
        if group:
            b.quoted.append(said)
            typical = T["list_and"][b.lang].join(e.text[b.lang] for e in group)
            measured = T["list_sep"][b.lang].join(dict.fromkeys(_measured(e, features.values, b.lang) for e in group))
            b.fact(render(key, b.lang, cx=name, typical=typical, measured=measured), "F", passage.ref,
                   support=[e.key for e in group])
    return bool(fits or against)


def _add_structures(b: _Builder, inp: ComposeInput, codes: list[str]) -> None:
    """What a dermatologist looks for to tell these classes apart, each class's list citing its document."""
    items, refs, keys = [], [], []
    for code in codes:
        passage = _passage_of(inp, STRUCTURES[code].doc, STRUCTURES[code].terms[b.lang])
        if passage is None or f"structures:{code}" in b.already_quoted:  # said before in this thread: not again
            continue
        items.append(render("structures_item", b.lang, cx=display_name(code, b.lang), structures=STRUCTURES[code].text[b.lang]))
        refs.append(passage.ref)
        keys.append(f"structures:{code}")
    if items:
        b.fact(render("structures", b.lang, items=T["list_sep"][b.lang].join(items)), *refs, support=keys)
        b.quoted += keys


def _citations(sentences: list[Sentence], inp: ComposeInput, lang: str) -> list[Citation]:
    """The sources list, in the answer's language (knowledge passages are already the answer language's twins)."""
    used = {r for s in sentences for r in s.refs}
    out: list[Citation] = []
    if "P" in used and inp.prediction is not None:
        out.append(Citation(id="P", kind="prediction", title=render("cite_prediction", lang, backend=backend_name(inp.prediction.backend, lang))))
    if "F" in used:
        out.append(Citation(id="F", kind="features", title=T["cite_features"][lang]))
    for c in inp.cases:
        if c.ref in used:
            out.append(Citation(id=c.ref, kind="case", target=c.image_id, title=render(
                "cite_case", lang, image_id=c.image_id, dx=display_name(c.dx, lang), confirm=confirmation_name(c.dx_type, lang))))
    for p in inp.passages:
        if p.ref in used:
            out.append(Citation(id=p.ref, kind="knowledge", title=f"{p.title} — {p.section}", target=p.passage_id))
    return out


def _render_text(sentences: list[Sentence]) -> str:
    lines = []
    for s in sentences:
        marks = "".join(f"[{r}]" for r in s.refs)
        text = s.text
        if marks:
            text = text[:-1] + f" {marks}" + text[-1] if text[-1] in ".。" else f"{text} {marks}"
        lines.append(text)
    return "\n\n".join(lines)


_BENIGN_CLAIM = re.compile(r"benign|harmless|fine|nothing|\bok\b|okay|normal|ordinary|not (?:cancer|melanoma|malignant)|"
                           r"\b(?:don'?t|doesn'?t|do not|does not|never|won'?t|wouldn'?t|isn'?t|aren'?t|rarely|nobody|no one|no-one|"
                           r"none of)\b.{0,25}"
                           r"\b(?:get|got|have|has|had|be|cancer\w*|melanoma|malignant|serious)\b|young|"
                           r"不会得|不会是|很少|年轻|没(?:见|有|听说|听过)?(?:谁|人|一个人?).{0,6}(?:得|患|长)|"
                           r"can'?t be|cannot be|too young|just a mole|no way|if it (?:was|were|is) (?:cancer|melanoma|malignant)|"
                           r"良性|没事|不是癌|不会|不可能|怎么可能|怎么会|正常|好好的|没问题|不用担心|夸张|没什么风险|没风险|风险(?:很|不)?(?:低|小)", re.I)
_MALIGNANT_CLAIM = re.compile(r"malignant|cancer|melanoma|恶性|癌|黑色素瘤", re.I)


def _claim(question: str, lang: Language) -> str:
    """What the user insists on: a benign claim wins (the dangerous one to agree with), then a malignant one."""
    if _BENIGN_CLAIM.search(question):
        return T["claim_benign"][lang]
    if _MALIGNANT_CLAIM.search(question):
        return T["claim_malignant"][lang]
    return T["claim_other"][lang]


def _close_lesion_answer(b: _Builder, inp: ComposeInput, terms: set[str], n_passages: int) -> None:
    """How an answer about the assessed lesion ends: background knowledge, the guard, the tier's advice."""
    no_routine = _no_routine_care(inp)
    # "Can it wait?" / "sunscreen instead?" about a referred lesion: the tier's advice is the answer. Passages found by
    # the question's words ("photograph it at home with a ruler", "re-imaged after three months") read as permission
    # beside it, so a turn the phrase rules read as putting it off quotes no background; any other answer about a
    # referred lesion quotes nothing calling it benign or low-risk, describing a common mole or watching it over time.
    putting_off = no_routine and (inp.intent.delay_phrase or inp.intent.sun_only)
    _add_knowledge(b, inp.passages, terms, n_passages=0 if putting_off else n_passages, routine_care=not no_routine,
                   permission=not no_routine)
    _add_reassurance_guard(b, inp)
    _add_advice(b, inp)


def compose(inp: ComposeInput) -> Answer:
    """Write this turn's answer from the grounded context."""
    max_lines, per_page = get_settings().max_case_lines, get_settings().cases_per_page
    lang, kind, p = inp.language, inp.intent.kind, inp.prediction
    b = _Builder(lang, inp.already_quoted)
    diagnostic = False
    focus = p.label if p is not None else (inp.intent.classes[0] if inp.intent.classes else None)
    terms = _query_terms(inp, [c for c in [*inp.intent.classes, focus] if c])
    if inp.intent.other_lesion and p is not None:  # "and the one on my ear?": said first, before this lesion's answer
        b.policy(OTHER_LESION[lang])
    if inp.intent.stop_bleeding:  # first aid first, with or without an image
        b.policy(STOP_BLEEDING[lang])
    if (claimed := inp.intent.result_claim) is not None and p is not None and claimed != p.label and claimed in p.probs:
        # "Model says akiec" when it said bcc: the reading is corrected before anything else
        b.fact(render("result_correction", lang, c1=display_name(p.label, lang), p1=percent(p.probs[p.label]),
                      cx=display_name(claimed, lang), px=percent(p.probs[claimed])), "P")

    if inp.intake is not None and not inp.intake.accepted and kind == IntentKind.ASSESS:
        b.policy(render("refused", lang, reason=(inp.intake.reason_zh if lang == "zh" else inp.intake.reason) or "?"))
        b.policy(T["refused_hint"][lang])
        b.policy(WARNING_SIGNS[lang])  # a refused image is no reassurance: a real lesion may be behind it
        _add_knowledge(b, inp.passages, terms, n_passages=1, routine_care=False)
        diagnostic = True
    elif kind == IntentKind.SELF_TREAT:
        diagnostic = p is not None
        elsewhere = inp.intent.removal_elsewhere and not inp.intent.self_treatment
        b.policy((PROFESSIONAL_REMOVAL if elsewhere else SELF_TREATMENT)[lang])
        if p is not None:
            _add_lesion_header(b, inp)
            _add_reassurance_guard(b, inp)
            _add_advice(b, inp)
        else:
            b.policy(WARNING_SIGNS[lang])
    elif inp.intent.plain and p is not None and kind not in (IntentKind.ASSESS, IntentKind.PUSHBACK, IntentKind.CASE_FILTER,
                                                             IntentKind.MORE_CASES):
        # "In simpler words, please": the answer in everyday words first, then the estimate and tier it rests on, the
        # advice; no measurements or quotes.
        diagnostic = True
        _add_plain_words(b, inp)
        _add_lesion_header(b, inp)
        _add_reassurance_guard(b, inp)
        _add_advice(b, inp)
    elif kind == IntentKind.ASSESS and p is not None:
        diagnostic = True
        if inp.intent.plain:
            _add_plain_words(b, inp)
        _add_lesion_header(b, inp, first=True)
        _add_features(b, inp.features)
        _add_case_summary(b, inp.cases[:per_page], p.label, inp.case_filters)
        _add_knowledge(b, inp.passages, terms, n_passages=1, routine_care=not _no_routine_care(inp))
        if p.abstained:
            b.policy(T["abstain_advice"][lang])
        # "It's benign, right? No need to see anyone?" asked with the image gets the guard at once, not a turn later.
        _add_reassurance_guard(b, inp)
        _add_advice(b, inp)
    elif kind in (IntentKind.CASE_FILTER, IntentKind.MORE_CASES) and p is not None:
        diagnostic = True
        _add_lesion_header(b, inp)
        ftext = _filters_text(inp.case_filters, lang)
        if not inp.cases:
            b.policy(render("cases_empty", lang, filters=ftext))
        elif kind == IntentKind.MORE_CASES:
            start = inp.case_page * per_page + 1
            b.policy(render("cases_page", lang, filters=ftext, start=start, end=start + len(inp.cases) - 1))
            for c in inp.cases[:max_lines]:
                b.fact(_case_line(c, lang), c.ref)
        else:
            _add_case_summary(b, inp.cases, p.label, inp.case_filters)
            for c in inp.cases[1:max_lines]:
                b.fact(_case_line(c, lang), c.ref)
        if inp.risk in REFERRAL_TIERS:  # a tier that refers is never stated without its advice, cases or not
            _add_advice(b, inp)
    elif kind == IntentKind.DIFFERENTIAL and p is not None and inp.intent.classes:
        diagnostic = True
        _add_lesion_header(b, inp)
        cx = next((c for c in inp.intent.classes if c != p.label), inp.intent.classes[0])
        if cx == p.label:
            b.fact(render("differential_top", lang, cx=display_name(cx, lang), px=percent(p.probs[cx])), "P")
        else:
            b.fact(render("differential_compare", lang, cx=display_name(cx, lang), px=percent(p.probs[cx]),
                          c1=display_name(p.label, lang), p1=percent(p.probs[p.label])), "P")
        compared = _add_criteria(b, inp, cx)
        if cx != p.label:
            compared = _add_criteria(b, inp, p.label) or compared
        if not compared:
            _add_features(b, inp.features)
        if inp.cases:
            b.fact(render("differential_cases", lang, n=len(inp.cases), mix=diagnosis_mix(inp.cases, lang)),
                   *[c.ref for c in inp.cases])
        _close_lesion_answer(b, inp, terms, n_passages=1)
    elif kind == IntentKind.LOOK_FOR and p is not None:
        diagnostic = True
        _add_lesion_header(b, inp)
        top = [c for c, prob in p.top_k(3) if prob >= 0.05] or [p.label]
        _add_structures(b, inp, top)
        b.policy(T["tool_cannot_see"][lang])
        _add_features(b, inp.features)
        _close_lesion_answer(b, inp, terms, n_passages=1)
    elif kind == IntentKind.PUSHBACK and p is not None:
        diagnostic = True
        _add_lesion_header(b, inp)
        if _claim(inp.intent.question, lang) == T["claim_malignant"][lang]:
            b.policy(T["pushback_malignant"][lang])
        else:  # "it's benign, right?": never agree
            said_no = _add_plain_no(b, inp)  # already says that nothing said here changes the tier
            if not said_no:
                b.policy(T["pushback_no_change"][lang])
            _add_cannot_confirm(b, inp.current_triage(), lead=not said_no)
            b.policy(WARNING_SIGNS[lang])
        _add_advice(b, inp)
        b.policy(T["pushback_confirm"][lang])
    elif kind == IntentKind.FEATURES and inp.features is not None:
        diagnostic = True
        if p is not None:
            _add_lesion_header(b, inp)
        _add_features(b, inp.features)
        _close_lesion_answer(b, inp, terms, n_passages=1)
    elif kind == IntentKind.ADVICE and p is not None:
        diagnostic = True
        _add_lesion_header(b, inp)
        _close_lesion_answer(b, inp, terms, n_passages=2)
    elif p is not None and inp.has_image:  # any other question in a thread about a lesion: start from it
        diagnostic = True
        _add_lesion_header(b, inp)
        _close_lesion_answer(b, inp, terms, n_passages=2)
    else:
        needs_image = kind in (IntentKind.ASSESS, IntentKind.CASE_FILTER, IntentKind.MORE_CASES, IntentKind.PUSHBACK,
                               IntentKind.FEATURES) or (kind == IntentKind.ADVICE and not inp.passages)
        if needs_image and p is None:
            b.prompt(T["need_image"][lang])
        if inp.intent.removal_elsewhere:  # "can a salon laser a mole off?" with no lesion assessed yet
            b.policy(PROFESSIONAL_REMOVAL[lang])
        told = inp.patient.history if p is None and inp.patient is not None else []
        if told:  # "it bleeds and won't heal, is it cancer?" before any image: examined, and no "it can wait" quoted
            b.policy(SIGNS_TOLD[lang].format(signs=("、" if lang == "zh" else ", ").join(SIGN_NAMES[s][lang] for s in told)))
        _add_outside_classes(b, inp)
        added = _add_knowledge(b, inp.passages, terms, n_passages=3, routine_care=not told)
        if not added and not needs_image:
            b.policy(T["knowledge_missing"][lang])
        if added:
            b.policy(T["general_note"][lang])
    if diagnostic:
        b.policy(T["disclaimer"][lang])
    return Answer(text=_render_text(b.sentences), sentences=b.sentences, citations=_citations(b.sentences, inp, lang),
                  language=lang, diagnostic=diagnostic, quoted=b.quoted)

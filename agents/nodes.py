"""The graph's nodes: small functions ``(state, runtime) -> partial update``, named for what they do.

Models and indexes arrive through the runtime context (``agents.resources.Resources``), loaded
once per process. A node returns only what it found; where the turn goes next is the graph's business
(``agents.graph``, with the decisions in ``agents.routing``).
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from knowledge.images import open_image
from knowledge.tokenize import to_traditional, writes_simplified, writes_traditional
from models.encoder.metadata import metadata_of
from knowledge.cases import CaseFilters
from knowledge.criteria import STRUCTURES, expectations_for
from knowledge.taxonomy import CODES, display_name

from agents.composer import ComposeInput, with_most_terms
from agents.intents import IntentKind, argues_benign, history_reading, read_turn
from agents.language import choose_language
from agents.resources import Resources
from agents.risk import RiskTier, triage
from knowledge.patient import HISTORY_SIGNS, PatientInfo
from agents.safety import review
from agents.state import RESET_FLAGS, CaseRef, DermState, FeatureRef, PassageRef


def understand(state: DermState, runtime: Runtime[Resources]) -> dict:
    """Read the turn: language, intent, case filters, what the person told us (``routing.after_understand`` then
    decides which nodes run)."""
    question = state.get("question") or ""
    new_image = bool(state.get("new_image"))
    previous = state.get("intent")
    language = choose_language(question, state.get("language_setting"), previous.language if previous else None)  # type: ignore[arg-type]
    intent = read_turn(question, new_image=new_image, language=language)
    # Traditional characters: answered in Traditional, also on later turns that use none of either script's own
    # characters ("是不是癌" is both); a message in Simplified characters switches back.
    traditional = language == "zh" and (writes_traditional(question) or (
        previous is not None and previous.traditional and not writes_simplified(question)))
    intent = intent.model_copy(update={"traditional": traditional})
    if intent.withdrawn:  # a correction takes back only signs on record, and none in pushback arguing it is benign
        recorded = (state.get("patient") or PatientInfo()).history
        taken = [] if argues_benign(intent) else [s for s in intent.withdrawn if s in recorded]
        # "它不痒，我之前说错了" read as pushback corrects what was understood: the tier is read again, not defended
        kind = IntentKind.GENERAL if taken and intent.kind == IntentKind.PUSHBACK else intent.kind
        intent = intent.model_copy(update={"withdrawn": taken, "kind": kind})
    filters = state.get("case_filters") or CaseFilters()
    if new_image:
        filters = intent.filters
    elif intent.kind == IntentKind.CASE_FILTER:
        filters = CaseFilters() if intent.clear_filters else filters.merged(intent.filters)
    update: dict = {
        "intent": intent,
        "case_filters": filters,
        "flags": [RESET_FLAGS],
        "turn": state.get("turn", 0) + 1,
        "messages": [HumanMessage(content=question or ("[image]" if new_image else ""))],
    }
    if new_image:  # a new image starts a new assessment: forget the last one's findings
        update.update(prediction=None, risk_tier=None, triage=None, similar_cases=[], features=None, passages=[], case_page=0)
    elif intent.kind == IntentKind.MORE_CASES:
        update["case_page"] = state.get("case_page", 0) + 1
    elif intent.kind == IntentKind.CASE_FILTER:
        update["case_page"] = 0
    if intent.kind == IntentKind.PUSHBACK:
        update["flags"] = [RESET_FLAGS, "pushback_without_new_evidence"]
    if intent.clinician:
        update["audience"] = "clinician"
    # What the person tells us (form fields, then the message itself) accumulates over the thread, and a
    # new warning sign re-triages the lesion already assessed (history only escalates, except when a correction takes
    # back a sign that was misread).
    before = state.get("patient") or PatientInfo()
    patient = before
    # Signs a correction took back stay out when the form sends its history again, until a message states them again.
    withdrawn = list(state.get("withdrawn_signs") or [])
    if new_image and state.get("prediction") is not None:
        # the history and site were about the previous lesion; age and sex stay. Told before the first image
        # ("it bleeds, here is the photo"), they are about this one and stay.
        patient = PatientInfo(age=before.age, sex=before.sex)
        withdrawn = []
    said = history_reading(question)
    if (given := state.get("patient_input")) is not None:
        if given.history_text:  # the form's free text is read like a message: the learned reader's signs too
            learned = history_reading(given.history_text).history
            given = given.model_copy(update={"history": [s for s in HISTORY_SIGNS if s in given.history or s in learned]})
        given = given.model_copy(update={"history": [s for s in given.history if s not in withdrawn]})
        patient = patient.merged(given)  # type: ignore[arg-type]
    if intent.kind in (IntentKind.CASE_FILTER, IntentKind.MORE_CASES):
        # "only women over 50 on the back" describes the cases wanted, not the person: their signs only
        said = PatientInfo(history=said.history, history_text=said.history_text)
    patient = patient.merged(said)
    if intent.withdrawn:  # "I never said it bleeds" / "它不痒，我之前说错了": a sign misread earlier leaves the record
        patient = patient.model_copy(update={"history": [s for s in patient.history if s not in intent.withdrawn]})
    withdrawn = [s for s in HISTORY_SIGNS if (s in withdrawn or s in intent.withdrawn) and s not in said.history]
    if withdrawn != list(state.get("withdrawn_signs") or []):
        update["withdrawn_signs"] = withdrawn
    if patient != before:
        update["patient"] = patient
        if not new_image and state.get("prediction") is not None:
            update.update(_triaged(state, runtime, patient=patient))
    update["patient_input"] = None
    return update


def _triaged(state: DermState, runtime: Runtime[Resources], prediction=None, features=None,
             patient: PatientInfo | None = None) -> dict:
    """Triage from what the thread knows, with any newer ``prediction``, ``features`` or ``patient``."""
    prediction = prediction if prediction is not None else state.get("prediction")
    feats = features if features is not None else state.get("features")
    patient = patient if patient is not None else state.get("patient")
    t = triage(prediction, runtime.context.triage_cutoffs, feats.values if feats is not None else None, patient)  # type: ignore[arg-type]
    return {"triage": t, "risk_tier": t.tier.value}


def intake(state: DermState, runtime: Runtime[Resources]) -> dict:
    """Validate the image and refuse what is not a usable dermoscopy image."""
    img = open_image(state["image_path"])  # type: ignore[arg-type]
    result = runtime.context.intake_gate.check(img)  # the gate's own frozen ImageNet features (agents.intake_artifact)
    return {"intake": result, "flags": [] if result.accepted else ["image_refused"]}


def classify(state: DermState, runtime: Runtime[Resources]) -> dict:
    metadata = metadata_of(state.get("patient"))  # age, sex and site the person gave, as data
    prediction = runtime.context.classifier.classify(open_image(state["image_path"]), metadata or None)  # type: ignore[arg-type]
    flags = ["abstained"] if prediction.abstained else []
    return {"prediction": prediction, **_triaged(state, runtime, prediction=prediction), "flags": flags}


def find_similar_cases(state: DermState, runtime: Runtime[Resources]) -> dict:
    filters = state.get("case_filters") or CaseFilters()
    page, per_page = state.get("case_page", 0), runtime.context.settings.cases_per_page
    _, embedding = runtime.context.image_features(state["image_hash"], open_image(state["image_path"]))  # type: ignore[arg-type]
    hits = runtime.context.case_index.search_embedding(  # one image per lesion (its closest), never the query's own
        embedding, k=per_page * (page + 1), filters=filters, distinct_lesions=True, exclude_own_lesion=True)
    start = page * per_page
    cases = [CaseRef(**h.model_dump(exclude={"mask_path"}), ref=f"C{i + 1}", rank=start + i + 1)
             for i, h in enumerate(hits[start : start + per_page])]
    return {"similar_cases": cases}


def analyse_features(state: DermState, runtime: Runtime[Resources]) -> dict:
    img = open_image(state["image_path"])  # type: ignore[arg-type]
    analysis = runtime.context.analyse_lesion(img)
    overlay_path = None
    if analysis.delineated:
        path = Path(state["image_path"]).with_suffix(".overlay.png")  # type: ignore[arg-type]
        if not path.exists():
            runtime.context.overlay(img, analysis.mask).save(path)
        overlay_path = str(path)
    features = FeatureRef(
        delineated=analysis.delineated,
        reason=analysis.reason,
        reason_zh=analysis.reason_zh,
        values=analysis.features.model_dump(mode="json") if analysis.features is not None else {},
        statements_en=[s.text_en for s in analysis.statements],
        statements_zh=[s.text_zh for s in analysis.statements],
        overlay_path=overlay_path,
    )
    update: dict = {"features": features}
    if state.get("prediction") is not None:  # the measured checklist may escalate the tier
        update.update(_triaged(state, runtime, features=features))
    return update


# Words added to a knowledge query by intent: English for the English rankers, Chinese for the Chinese ones.
_QUERY_HINTS: dict[str, dict[str, str]] = {
    "assess": {"en": "dermoscopic features", "zh": "皮肤镜特征"},
    "differential": {"en": "differential diagnosis dermoscopy", "zh": "鉴别诊断 皮肤镜"},
    "look_for": {"en": "dermoscopic structures criteria", "zh": "皮肤镜 结构 特征"},
    "advice": {"en": "management referral when to see a doctor", "zh": "处理 转诊 何时就医"},
    "features": {"en": "asymmetry border colours ABCD dermoscopy", "zh": "不对称 边界 颜色 ABCD"},
    "define": {"en": "overview", "zh": "概述"},
}


def _knowledge_query(state: DermState) -> tuple[str, list[str] | None]:
    intent = state["intent"]
    assert intent is not None
    prediction = state.get("prediction")
    label = prediction.label if prediction is not None else None
    kind = intent.kind.value
    zh = intent.language == "zh"

    def hint(key: str) -> str:
        words = _QUERY_HINTS[key]
        return f"{words['en']} {words['zh']}" if zh else words["en"]

    def names(codes: list[str]) -> str:
        return " ".join(display_name(c) + (f" {display_name(c, 'zh')}" if zh else "") for c in codes)

    q = intent.question
    intake = state.get("intake")
    if intent.kind == IntentKind.ASSESS and intake is not None and not intake.accepted:
        return "image quality: how to photograph a skin lesion with a dermatoscope" + (" 拍摄 图像质量" if zh else ""), None
    if intent.kind == IntentKind.ASSESS:
        return (f"{names([label])} {hint(kind)}" if label else q), [label] if label else None
    if intent.kind in (IntentKind.DIFFERENTIAL, IntentKind.LOOK_FOR):
        classes = list(dict.fromkeys([*intent.classes, *([label] if label else [])]))
        return f"{q} {names(classes)} {hint(kind)}", classes or None
    if intent.kind == IntentKind.ADVICE:
        return f"{q} {names([label]) if label else ''} {hint(kind)}", [label] if label else None
    if intent.kind == IntentKind.FEATURES:
        return f"{q} {hint(kind)}", None
    if intent.kind == IntentKind.DEFINE and intent.classes:
        return f"{q} {names(intent.classes)} {hint(kind)}", intent.classes[:1]
    return f"{q} {names(intent.classes)}".strip(), None


def _classes_compared(state: DermState) -> list[str]:
    """The classes whose dermoscopy documents a differential or look-for answer reasons with."""
    intent, prediction = state["intent"], state.get("prediction")
    assert intent is not None
    if prediction is None:
        return list(intent.classes)
    if intent.kind == IntentKind.LOOK_FOR:
        return [c for c, p in prediction.top_k(3) if p >= 0.05] or [prediction.label]
    return list(dict.fromkeys([*intent.classes[:2], prediction.label]))


def retrieve_knowledge(state: DermState, runtime: Runtime[Resources]) -> dict:
    query, classes = _knowledge_query(state)
    intent = state["intent"]
    assert intent is not None
    lang = intent.language
    index = runtime.context.knowledge_index
    hits = index.search(query, k=5, classes=classes, lang=lang) if classes else index.search(query, k=5, lang=lang)
    if classes and len(hits) < 2:
        hits = index.search(query, k=5, lang=lang)
    # "Will the biopsy hurt?", "就诊要带什么？", "how do I check my back?": the person's own words over the whole corpus;
    # when a general document comes first (a biopsy, the appointment, self-examination; not another class's treatment)
    # its passage leads (blind follow-ups: background from a document that answers the question 0.508 -> 0.608).
    lead = []
    if intent.kind in (IntentKind.ADVICE, IntentKind.GENERAL, IntentKind.LOOK_FOR) and intent.question.strip():
        own = index.search(intent.question, k=1, lang=lang)
        if own and own[0].doc_id.split("-")[0] not in CODES:
            lead = own
            hits = own + [h for h in hits if h.passage_id != own[0].passage_id]
    if intent.kind in (IntentKind.DIFFERENTIAL, IntentKind.LOOK_FOR):
        # Each compared class's own dermoscopy passage, so its typical appearance can be cited.
        extra = []
        for code in _classes_compared(state):
            # Searched with the question and with the class's typical appearance itself, so the doc's general
            # section is among the candidates even when the question's words favour a special one.
            typical = " ".join([STRUCTURES[code].text[lang], *(e.text[lang] for e in expectations_for(code))])
            hits_of_class = [*index.search(query, k=10, classes=[code], topics=["dermoscopy"], lang=lang),
                             *index.search(typical, k=10, classes=[code], topics=["dermoscopy"], lang=lang)]
            own = list({h.passage_id: h for h in hits_of_class if h.doc_id == STRUCTURES[code].doc}.values())
            if own:
                # The section that holds the words the typical-appearance claims rest on (melanoma in general,
                # not its acral section), the best-ranked among equals.
                terms = [*STRUCTURES[code].terms[lang], *(t for e in expectations_for(code) for t in e.terms[lang])]
                extra.append(with_most_terms(own, terms))
        seen = {h.passage_id for h in extra} | {h.passage_id for h in lead}
        hits = lead + extra + [h for h in hits if h.passage_id not in seen and h.doc_id not in {e.doc_id for e in extra}]
    passages = [
        PassageRef(ref=f"K{i + 1}", passage_id=h.passage_id, doc_id=h.doc_id, title=h.title, section=h.section,
                   text=h.text, score=float(h.score), references=list(h.references), lang=h.lang)
        for i, h in enumerate(hits)
    ]
    return {"passages": passages}


def _compose_input(state: DermState) -> ComposeInput:
    intent = state["intent"]
    assert intent is not None
    tier = state.get("risk_tier")
    return ComposeInput(
        intent=intent,
        language=intent.language,  # type: ignore[arg-type]
        prediction=state.get("prediction"),
        risk=RiskTier(tier) if tier else None,
        triage=state.get("triage"),
        patient=state.get("patient"),
        audience="clinician" if intent.clinician else state.get("audience"),
        features=state.get("features"),
        cases=state.get("similar_cases") or [],
        case_filters=state.get("case_filters") or CaseFilters(),
        case_page=state.get("case_page", 0),
        passages=state.get("passages") or [],
        already_quoted=set(state.get("quoted") or []),
        intake=state.get("intake"),
        has_image=bool(state.get("image_path")),
        image_path=state.get("image_path"),
    )


def compose(state: DermState, runtime: Runtime[Resources]) -> dict:
    answer = runtime.context.composer(_compose_input(state))
    return {"answer": answer, "quoted": answer.quoted}


def safety_review(state: DermState, runtime: Runtime[Resources]) -> dict:
    answer = state["answer"]
    assert answer is not None
    checked = review(answer, _compose_input(state))
    flags = ["unsupported_sentences_removed"] if checked.review.get("removed") else []
    intent = state.get("intent")
    if intent is not None and intent.traditional and checked.language == "zh":
        # Composed and reviewed in Simplified (one set of templates and checks); shown in the script they wrote in.
        checked = checked.model_copy(update={"text": to_traditional(checked.text), "citations": [
            c.model_copy(update={"title": to_traditional(c.title)}) for c in checked.citations]})
    return {"answer": checked, "messages": [AIMessage(content=checked.text)], "flags": flags}

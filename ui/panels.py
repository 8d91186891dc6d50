"""What each panel shows, rendered from a consultation turn (``agents.session.TurnResult`` as a dict).

Pure functions from data to HTML / markdown / gallery items, so the layout in ``ui.app`` stays
wiring only and every rendering can be checked without a browser. Names of classes,
confirmations, body sites and risk tiers come from the taxonomy and ``agents.risk``.
"""

from __future__ import annotations

import html
import re
from typing import Any, Mapping, Sequence

from agents.risk import RiskTier, tier_advice, tier_name
from knowledge.cases import CaseFilters
from knowledge.taxonomy import CODES, SEX_NAMES, Language, confirmation_name, display_name, site_name

from ui.i18n import t

# A citation marker in an answer: [P], [F], [C3], [K12].
MARKER = re.compile(r"\[(P|F|C\d+|K\d+)\]")
CITE_ANCHOR = "#cite-"  # href prefix of a clickable marker; the page script routes clicks to the sources panel
TIER_CLASS = {RiskTier.LOW: "low", RiskTier.CLINICIAN: "clinician", RiskTier.SOON: "soon", RiskTier.URGENT: "urgent"}


def percent(p: float) -> str:
    return f"{100 * p:.1f}%" if p < 0.995 else f"{100 * p:.0f}%"


# --- the answer ----------------------------------------------------------------------------------


def source_key(turn: int, ref: str) -> str:
    """The key of a cited source: markers repeat across turns ([K1] of turn 2 is not [K1] of turn 5)."""
    return f"{turn}:{ref}"


# CommonMark does not close "**" between full-width punctuation and a letter ("**估计：**最可能" stays
# literal), so such punctuation moves just outside the bold: "**估计**：最可能" renders as meant.
CJK_BOLD_CLOSE = re.compile(r"([：；，。！？、])\*\*(?=[^\s*])")


def link_markers(answer: str, turn: int) -> str:
    """The answer as the chat shows it: each [X] marker a link the page script turns into 'show this source'."""
    answer = CJK_BOLD_CLOSE.sub(r"**\1", answer)
    return MARKER.sub(lambda m: f"[\\[{m.group(1)}\\]]({CITE_ANCHOR}{source_key(turn, m.group(1))})", answer)


def answer_chunks(answer: str) -> list[str]:
    """The answer in the pieces it is streamed in: one per sentence of the composer (a paragraph each)."""
    return [p for p in answer.split("\n\n") if p.strip()]


# --- estimate: probabilities and risk --------------------------------------------------------------


def probabilities_html(diagnosis: Mapping[str, Any] | None, lang: Language) -> str:
    """All seven calibrated probabilities as bars, highest first, the top three highlighted."""
    if not diagnosis:
        return f'<div class="dg-empty">{html.escape(t("no_assessment", lang))}</div>'
    probs = diagnosis.get("probabilities")
    if not probs:  # the image was refused by the intake gate
        reason = diagnosis.get("abstain_reason") or ""
        return f'<div class="dg-note dg-warn">{html.escape(t("refused", lang, reason=reason))}</div>'
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    rows = []
    for rank, (code, p) in enumerate(ranked):
        top = rank < 3
        rows.append(
            f'<div class="dg-bar-row{" dg-top" if top else ""}" data-code="{html.escape(code)}">'
            f'<span class="dg-bar-name">{html.escape(display_name(code, lang))} <small>{html.escape(code)}</small></span>'
            f'<span class="dg-bar-track"><span class="dg-bar-fill" style="width:{max(100 * p, 0.5):.1f}%"></span></span>'
            f'<span class="dg-bar-value">{percent(p)}</span></div>'
        )
    notes = []
    if diagnosis.get("abstained"):
        notes.append(f'<div class="dg-note dg-warn">{html.escape(t("abstained", lang))}</div>')
    if diagnosis.get("backend"):
        notes.append(f'<div class="dg-caption">{html.escape(t("backend", lang, backend=diagnosis["backend"]))} · '
                     f'<b>{html.escape(t("top3", lang))}</b></div>')
    return f'<div class="dg-probs">{"".join(rows)}{"".join(notes)}</div>'


def risk_html(risk_tier: str | None, diagnosis: Mapping[str, Any] | None, lang: Language,
              triage: Mapping[str, Any] | None = None) -> str:
    if not risk_tier:
        return ""
    tier = RiskTier(risk_tier)
    malignancy = (diagnosis or {}).get("malignancy")
    detail = f'<div class="dg-caption">{html.escape(t("malignancy", lang, p=percent(malignancy)))}</div>' if malignancy is not None else ""
    lead, why, advice = "", "", tier_advice(tier, lang)
    if triage:
        from agents.composer import triage_reasons
        from agents.risk import Triage

        parsed = Triage.model_validate(dict(triage))
        advice = tier_advice(tier, lang, parsed.suspected, parsed.sooner)
        if parsed.melanoma_not_excluded:
            lead = f'<div class="dg-risk-lead"><b>{html.escape(t("mel_not_excluded", lang))}</b></div>'
        why = f'<div class="dg-caption">{html.escape(t("risk_because", lang, reasons=triage_reasons(parsed, lang)))}</div>'
    return (
        f'<div class="dg-risk dg-risk-{TIER_CLASS[tier]}">{lead}'
        f'<div class="dg-risk-tier">{html.escape(t("risk", lang))}: <b>{html.escape(tier_name(tier, lang))}</b></div>'
        f'<div>{html.escape(advice)}</div>{why}{detail}</div>'
    )


# --- measured features -------------------------------------------------------------------------------


def features_markdown(features: Mapping[str, Any] | None, lang: Language) -> str:
    if not features:
        return t("no_features", lang)
    if not features.get("delineated"):
        reason = (features.get("reason_zh") if lang == "zh" else None) or features.get("reason") or "?"
        return t("not_delineated", lang, reason=reason)
    statements = features.get("statements_zh" if lang == "zh" else "statements_en") or []
    return "\n".join(f"- {s}" for s in statements)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format_value(v)}" for k, v in value.items() if not isinstance(v, float) or v >= 0.005)
    return str(value)


def feature_values_markdown(features: Mapping[str, Any] | None) -> str:
    """The raw measurements (field names as in ``models.features``; defined in docs/features.md)."""
    values = (features or {}).get("values") or {}
    if not values:
        return ""
    rows = [f"| `{k}` | {_format_value(v)} |" for k, v in values.items()]
    return "| | |\n|---|---|\n" + "\n".join(rows)


def features_image(features: Mapping[str, Any] | None, image_path: str | None) -> str | None:
    """The overlay (outline of the segmented lesion) when there is one, else the image itself."""
    overlay = (features or {}).get("overlay_path")
    return overlay or image_path


def layer_choices(diagnosis: Mapping[str, Any] | None, lang: Language) -> list[tuple[str, str]]:
    """What the image panel can show: the outline, and heat maps of the top class and of melanoma when it is among
    the top three (``agents.explain.map_choices``); only the outline without an estimate."""
    from agents.explain import map_choices

    choices = [(t("layer_outline", lang), "outline")]
    if not diagnosis or not diagnosis.get("probabilities") or diagnosis.get("label") is None:
        return choices
    codes = map_choices([item["code"] for item in diagnosis.get("top3") or []])
    return choices + [(t("layer_heat", lang, name=display_name(code, lang)), code) for code in codes]


# --- similar cases -----------------------------------------------------------------------------------


def _age(case: Mapping[str, Any], lang: Language) -> str:
    age = case.get("age")
    return f"{age:.0f}" if isinstance(age, (int, float)) else t("age_unknown", lang)


def case_caption(case: Mapping[str, Any], lang: Language) -> str:
    ref = f"[{case['ref']}] " if case.get("ref") else ""
    rank = f" · #{case['rank']}" if case.get("rank") else ""
    return f"{ref}{case['dx']}{rank}"  # the short code: a thumbnail caption has little room


def diagnosis_mix(cases: Sequence[Mapping[str, Any]], lang: Language) -> str:
    """"6 melanocytic naevus, 3 benign keratosis, 1 melanoma": the diagnoses of the shown lesions, commonest first."""
    counts: dict[str, int] = {}
    for case in cases:
        counts[case["dx"]] = counts.get(case["dx"], 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], CODES.index(item[0]) if item[0] in CODES else 99))
    sep = "，" if lang == "zh" else ", "
    return sep.join(f"{n} {display_name(code, lang)}" for code, n in ordered)


def gallery_items(cases: Sequence[Mapping[str, Any]], lang: Language) -> list[tuple[str, str]]:
    return [(str(c["image_path"]), case_caption(c, lang)) for c in cases]


def case_markdown(case: Mapping[str, Any], lang: Language) -> str:
    sex = SEX_NAMES.get(case.get("sex") or "unknown", SEX_NAMES["unknown"])[lang]
    lines = [
        t("case_title", lang, image_id=case["image_id"], dx=display_name(case["dx"], lang)),
        t("case_confirmed", lang, confirm=confirmation_name(case["dx_type"], lang)),
        t("case_who", lang, age=_age(case, lang), sex=sex, site=site_name(case.get("localization") or "unknown", lang)),
        t("case_similarity", lang, sim=case["similarity"], rank=case.get("rank") or "?"),
        t("case_lesion", lang, lesion_id=case.get("lesion_id", "?")),
    ]
    return "\n\n".join(lines)


def filters_text(filters: "CaseFilters | Mapping[str, Any] | None", lang: Language) -> str:
    items = CaseFilters.coerce(filters).describe(lang)
    return t("filters_on", lang, items=("、" if lang == "zh" else ", ").join(items)) if items else ""


# --- sources ------------------------------------------------------------------------------------------


def turn_sources(turn: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Everything the answer of one turn cites, keyed by ``source_key``: enough to show it later."""
    n = int(turn.get("turn") or 0)
    cases = {c["ref"]: c for c in turn.get("similar_cases") or []}
    passages = {p["ref"]: p for p in turn.get("passages") or []}
    out: dict[str, dict[str, Any]] = {}
    for c in turn.get("citations") or []:
        entry: dict[str, Any] = {"id": c["id"], "kind": c["kind"], "title": c["title"]}
        if c["kind"] == "case" and c["id"] in cases:
            entry["case"] = cases[c["id"]]
        elif c["kind"] == "knowledge" and c["id"] in passages:
            entry["passage"] = passages[c["id"]]
        elif c["kind"] == "prediction":
            entry["diagnosis"] = turn.get("diagnosis")
        elif c["kind"] == "features":
            entry["features"] = turn.get("features")
        out[source_key(n, c["id"])] = entry
    return out


def source_title(source: Mapping[str, Any], lang: Language) -> str:
    """A cited source's one-line title in the interface language (the graph's titles are English)."""
    if "case" in source:
        case = source["case"]
        title = f"{case['image_id']}: {display_name(case['dx'], lang)} ({confirmation_name(case['dx_type'], lang)})"
    elif "passage" in source:
        title = f"{source['passage']['title']} — {source['passage']['section']}"
    elif source["kind"] in ("prediction", "features"):
        title = t(f"{source['kind']}_title", lang)
    else:
        title = source["title"]
    return f"[{source['id']}] {title}"


def source_choices(sources: Mapping[str, Mapping[str, Any]], turn: int, lang: Language) -> list[tuple[str, str]]:
    prefix = f"{turn}:"
    return [(source_title(s, lang), key) for key, s in sources.items() if key.startswith(prefix)]


def passage_markdown(passage: Mapping[str, Any], lang: Language) -> str:
    refs = passage.get("references") or []
    parts = [f"#### {passage['title']} — {passage['section']}", passage["text"],
             f"_{t('passage_from', lang, doc_id=passage['doc_id'])}_"]
    if refs:
        parts.append(f"**{t('references', lang)}**\n\n" + "\n".join(f"1. {r}" for r in refs))
    return "\n\n".join(parts)


def source_view(source: Mapping[str, Any] | None, lang: Language) -> tuple[str, str | None]:
    """(markdown, image path or None) for one cited source."""
    if source is None:
        return t("source_gone", lang), None
    head = f"**{source_title(source, lang)}**\n\n"
    if "case" in source:
        return head + case_markdown(source["case"], lang), str(source["case"]["image_path"])
    if "passage" in source:
        return passage_markdown(source["passage"], lang), None
    if source["kind"] == "prediction":
        diagnosis = source.get("diagnosis") or {}
        top = ", ".join(f"{display_name(c, lang)} {percent(p)}" for c, p in
                        sorted((diagnosis.get("probabilities") or {}).items(), key=lambda kv: -kv[1])[:3])
        return head + t("prediction_source", lang) + (f"\n\n{top}" if top else ""), None
    if source["kind"] == "features":
        return head + t("features_source", lang) + "\n\n" + features_markdown(source.get("features"), lang), None
    return head, None


# --- comparing two images ------------------------------------------------------------------------------

FEATURE_NAMES: dict[str, dict[str, str]] = {
    "area_fraction": {"en": "area (share of the image)", "zh": "面积（占图像比例）"},
    "diameter_fraction": {"en": "longest diameter (share of the long side)", "zh": "最长径（占长边比例）"},
    "shape_asymmetry_max": {"en": "shape asymmetry", "zh": "形状不对称"},
    "colour_asymmetry_max": {"en": "colour asymmetry (ΔE)", "zh": "颜色不对称（ΔE）"},
    "asymmetric_axes": {"en": "asymmetric axes (0-2)", "zh": "不对称轴数（0-2）"},
    "compactness": {"en": "border irregularity (compactness)", "zh": "边界不规则（紧凑度）"},
    "concavity": {"en": "notches (concavity)", "zh": "凹陷（凹度）"},
    "abrupt_segments": {"en": "abrupt border segments (of 8)", "zh": "边缘突变段（共 8 段）"},
    "colour_count": {"en": "colours", "zh": "颜色数"},
    "variegation": {"en": "colour variation (ΔE)", "zh": "颜色变化（ΔE）"},
}


def comparison_markdown(comparison: Any, lang: Language) -> str:
    """``agents.compare.Comparison`` as a table and a plain sentence, in the interface language."""
    from agents.risk import RiskTier

    a, b = comparison.before, comparison.after
    for which, side in (("before", a), ("after", b)):
        if not side.accepted:
            name = t("compare_before" if which == "before" else "compare_after", lang)
            return t("compare_refused", lang, which=name.lower() if lang == "en" else name,
                     reason=side.reason_zh if lang == "zh" else side.reason)
    def fmt(v: float) -> str:
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"

    lines = [t("compare_head", lang), "|---|---:|---:|---:|",
             f"| {t('compare_estimate', lang)} | {display_name(a.label, lang)} | {display_name(b.label, lang)} | |",
             f"| {t('compare_mel', lang)} | {a.probs['mel']:.0%} | {b.probs['mel']:.0%} | "
             f"{comparison.mel_change * 100:+.0f} pt |",
             f"| {t('compare_tier', lang)} | {tier_name(RiskTier(a.tier), lang)} | {tier_name(RiskTier(b.tier), lang)} | "
             f"{ {'up': '↑', 'down': '↓', 'same': '='}[comparison.tier_change] } |"]
    for row in comparison.rows:
        mark = " ⚠️" if row["toward_warning_signs"] else ("" if row["beyond_noise"] else " ·")
        lines.append(f"| {FEATURE_NAMES[row['feature']][lang]} | {fmt(row['before'])} | {fmt(row['after'])} | "
                     f"{row['change']:+.2f}{mark} |")
    worrying = [FEATURE_NAMES[name][lang] for name in comparison.worrying]
    if comparison.mel_change is not None and comparison.mel_change >= 0.05:
        worrying.append(t("compare_mel", lang))
    sep = "、" if lang == "zh" else ", "
    verdict = t("compare_worrying", lang, items=sep.join(worrying)) if worrying else t("compare_stable", lang)
    return "\n".join(lines) + "\n\n" + verdict + "\n\n_" + t("compare_caveat", lang) + "_"

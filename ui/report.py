"""A consultation as a PDF (reportlab): what was shown, what was said, and where every statement came from.

    info = write_report(consult, "t1", Path("report.pdf"), lang="zh")   # dermagraph report t1 --out report.pdf

Contents: the date, the consultation id and the model versions (each artifact's manifest: created, config hash,
git commit); the disclaimer; the image, its lesion outline and the heat map of the most likely class; the
class probabilities, the tier with its reasons and advice; the measured features; the patient details given;
then every turn's question and answer with the sources it cited (knowledge passages with their references,
similar cases with their confirmation) and, last, all references. Every page carries the disclaimer line and
the page number. Chinese text uses an embedded CJK font (WenQuanYi Zen Hei or Noto Sans CJK when installed;
otherwise reportlab's built-in STSong-Light, which viewers draw with their own fonts).
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agents.session import Consultation, TurnResult
from knowledge.advice import disclaimer
from knowledge.taxonomy import CODES, Language, display_name

from ui.i18n import t

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITALIC = re.compile(r"(?<![\w*])_(.+?)_(?![\w*])")


@dataclass
class ReportInfo:
    path: Path
    pages: int
    turns: int
    seconds: float
    font: str


def _font() -> str:
    """The name of a registered font that covers Latin and CJK."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if "DermagraphCJK" in pdfmetrics.getRegisteredFontNames():
        return "DermagraphCJK"
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont("DermagraphCJK", path, subfontIndex=0))
                return "DermagraphCJK"
            except Exception:  # a font reportlab cannot embed: try the next
                continue
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _markup(text: str) -> str:
    """Answer markdown -> reportlab's paragraph markup: escaped, **bold** kept, line breaks kept."""
    escaped = ITALIC.sub(r"<i>\1</i>", BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False)))
    return escaped.replace("\n\n", "<br/><br/>").replace("\n", "<br/>")


def _heading(text: str) -> str:
    """A UI label as a report heading (the labels carry markdown's ``###``)."""
    return html.escape(text.lstrip("#").strip())


def model_versions() -> list[tuple[str, str]]:
    """(artifact, "created · config · commit") for every shipped model the consultation used."""
    from knowledge.artifacts import ArtifactError, read_manifest
    from knowledge.settings import get_settings

    out = []
    root = get_settings().artifacts_dir
    try:  # the ensemble's member encoders, as its head names them
        members = list(read_manifest(root / "classifier").config["head"]["members"])
    except (ArtifactError, FileNotFoundError, KeyError):
        members = ["encoder"]
    for name in ("classifier", *members, "segmenter", "intake", "intent"):
        try:
            m = read_manifest(root / name)
        except (ArtifactError, FileNotFoundError):
            continue
        out.append((name, f"{m.created[:10]} · config {m.config_hash[:10]} · commit {m.git_commit[:10]}"))
    return out


def _image_cell(path: str | None, width: float, height: float):
    from reportlab.platypus import Image as RLImage, Paragraph

    if not path or not Path(path).is_file():
        return Paragraph("—")
    from PIL import Image

    with Image.open(path) as img:
        w, h = img.size
    scale = min(width / w, height / h)
    return RLImage(path, width=w * scale, height=h * scale)


def write_report(consult: Consultation, thread_id: str, out: Path, lang: Language | None = None) -> ReportInfo:
    """Write the consultation ``thread_id`` to ``out`` (PDF); ``lang``: en or zh (default: the last answer's)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    started = time.perf_counter()
    turns = consult.turns(thread_id)
    if not turns:
        raise ValueError(f"consultation {thread_id!r} has no completed turn (or is no longer kept)")
    lang = lang or turns[-1][1].language  # type: ignore[assignment]
    if lang not in ("en", "zh"):
        raise ValueError(f"language must be en or zh, not {lang!r}")
    font = _font()
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13.5, wordWrap="CJK" if lang == "zh" else None)
    small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=colors.HexColor("#444444"))
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=21, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=3,
                        textColor=colors.HexColor("#1f3b57"))
    story: list[Any] = []
    now = datetime.now(timezone.utc)
    story.append(Paragraph(t("report_title", lang), h1))
    story.append(Paragraph(t("report_meta", lang, date=now.strftime("%Y-%m-%d %H:%M UTC"), thread=html.escape(thread_id),
                             turns=len(turns)), base))
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(f"<b>{html.escape(disclaimer(lang))}</b>", base))

    assessed = next((r for _, r in reversed(turns) if r.diagnosis is not None or r.intake is not None), None)
    state = consult.state(thread_id)
    if assessed is not None:
        story += _assessment(consult, state, assessed, lang, base, small, h2, mm)
    story.append(PageBreak())
    story.append(Paragraph(t("report_conversation", lang), h2))
    references: dict[str, None] = {}
    for n, (question, result) in enumerate(turns, start=1):
        block = [Paragraph(f"<b>{t('report_question', lang, n=n)}</b> {html.escape(question) or '—'}", base),
                 Spacer(1, 1.5 * mm), Paragraph(_markup(result.answer), base)]
        sources = _sources(result, lang, references)
        if sources:
            block += [Spacer(1, 1.5 * mm), Paragraph(t("report_sources", lang), small)]
            block += [Paragraph(line, small) for line in sources]
        story.append(KeepTogether(block[:3]))
        story += block[3:]
        story.append(Spacer(1, 4 * mm))
    if references:
        story.append(Paragraph(_heading(t("references", lang)), h2))
        story += [Paragraph(f"{i}. {html.escape(ref)}", small) for i, ref in enumerate(references, start=1)]
    story.append(Paragraph(t("report_versions", lang), h2))
    rows = [[Paragraph(name, small), Paragraph(text, small)] for name, text in model_versions()]
    if rows:
        table = Table(rows, colWidths=[35 * mm, 130 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb"))]))
        story.append(table)

    footer = disclaimer(lang)

    def on_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(15 * mm, 10 * mm, footer[:110] + ("…" if len(footer) > 110 else ""))
        canvas.drawRightString(195 * mm, 10 * mm, f"dermagraph · {thread_id[:24]} · {doc.page}")
        canvas.restoreState()

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=t("report_title", lang), author="dermagraph",
                            subject=thread_id)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    tmp.replace(out)
    return ReportInfo(path=out, pages=doc.page, turns=len(turns), seconds=time.perf_counter() - started, font=font)


def _assessment(consult: Consultation, state: dict, result: TurnResult, lang: Language, base, small, h2, mm) -> list:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    from agents.composer import triage_reasons
    from agents.explain import heat_map_file
    from knowledge.advice import RiskTier, tier_advice, tier_name

    out: list[Any] = [Paragraph(t("report_assessment", lang), h2)]
    image = state.get("image_path")
    diagnosis = result.diagnosis or {}
    refused = result.intake is not None and not result.intake.get("accepted", True)
    heat = None
    if image and not refused and diagnosis.get("label") and Path(image).is_file():
        try:
            heat = heat_map_file(consult.resources, image, diagnosis["label"])
        except ValueError:  # a backend without heat maps
            heat = None
    outline = (result.features or {}).get("overlay_path")
    cells = [_image_cell(image, 58 * mm, 44 * mm), _image_cell(outline, 58 * mm, 44 * mm), _image_cell(heat, 58 * mm, 44 * mm)]
    captions = [Paragraph(t("report_image", lang), small), Paragraph(t("features_image", lang), small),
                Paragraph(t("report_heat", lang, name=display_name(diagnosis["label"], lang)) if heat else "—", small)]
    table = Table([cells, captions], colWidths=[60 * mm] * 3)
    table.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    out.append(table)
    if heat:
        from agents.explain import NOTE

        out.append(Paragraph(html.escape(NOTE[lang]), small))
    out.append(Spacer(1, 3 * mm))
    if refused:
        reason = result.intake.get("reason_zh" if lang == "zh" else "reason") or result.intake.get("reason")
        out.append(Paragraph(t("report_refused", lang, reason=html.escape(str(reason))), base))
        return out
    probs = diagnosis.get("probabilities") or {}
    if probs:
        rows = [[Paragraph(t("report_class", lang), small), Paragraph(t("report_probability", lang), small)]]
        for code in sorted(CODES, key=lambda c: -probs.get(c, 0.0)):
            rows.append([Paragraph(f"{display_name(code, lang)} ({code})", base), Paragraph(f"{probs.get(code, 0.0):.1%}", base)])
        table = Table(rows, colWidths=[70 * mm, 30 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                                   ("BACKGROUND", (0, 1), (-1, 3), colors.HexColor("#eef3f8"))]))
        out.append(table)
        if diagnosis.get("abstained"):
            out.append(Paragraph(t("report_abstained", lang), base))
    triage = state.get("triage")
    if triage is not None:
        tier = RiskTier(triage.tier)
        out.append(Spacer(1, 2 * mm))
        out.append(Paragraph(f"<b>{t('report_tier', lang)}: {html.escape(tier_name(tier, lang))}</b>", base))
        out.append(Paragraph(html.escape(triage_reasons(triage, lang)), base))
        out.append(Paragraph(html.escape(tier_advice(tier, lang, triage.suspected, triage.sooner)), base))
    features = result.features or {}
    statements = features.get("statements_zh" if lang == "zh" else "statements_en") or []
    if statements:
        out.append(Paragraph(_heading(t("features", lang)), h2))
        out += [Paragraph(f"• {html.escape(s)}", base) for s in statements]
    patient = result.patient or {}
    given = {k: v for k, v in patient.items() if v not in (None, [], "", {})}
    if given:
        out.append(Paragraph(_heading(t("patient_details", lang)), h2))
        out.append(Paragraph(html.escape("; ".join(f"{k}: {v}" for k, v in given.items())), base))
    return out


def _sources(result: TurnResult, lang: Language, references: dict[str, None]) -> list[str]:
    """One line per citation of the answer; knowledge references are collected for the list at the end."""
    from knowledge.taxonomy import confirmation_name

    passages = {p.get("ref"): p for p in result.passages}
    cases = {c.get("ref"): c for c in result.similar_cases}
    lines = []
    for c in result.citations:
        cid = html.escape(str(c.get("id")))
        if c.get("kind") == "knowledge" and c.get("id") in passages:
            p = passages[c["id"]]
            refs = p.get("references") or []
            for ref in refs:
                references.setdefault(ref, None)
            lines.append(f"[{cid}] {html.escape(p.get('title', ''))} — {html.escape(p.get('section', ''))} "
                         f"({html.escape('; '.join(refs))})")
        elif c.get("kind") == "case" and c.get("id") in cases:
            case = cases[c["id"]]
            lines.append(f"[{cid}] {case['image_id']}: {html.escape(display_name(case['dx'], lang))}, "
                         f"{html.escape(confirmation_name(case['dx_type'], lang))} (HAM10000, CC BY-NC 4.0)")
        else:
            lines.append(f"[{cid}] {html.escape(str(c.get('title', '')))}")
    return lines

"""The app's event handlers: chat turns, restoring a tab's consultation, case queries, sources.

Each tab keeps a small *view* (``gr.State``): the last turn, the sources every answer cited, the
cases in the gallery and the query behind them. The conversation itself lives in the graph's SQLite
checkpoints (``agents.session.Consultation``), so a tab that comes back with its thread id, even after
a server restart, gets its chat and panels back. Handlers return plain values; ``ui.app`` wires them.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from agents.session import Consultation, check_thread_id, turn_result
from agents.session_store import ServiceUnavailable
from retrieval.text_search import search_by_text
from knowledge.cases import CaseFilters, FiltersLike
from knowledge.images import ImageError
from knowledge.patient import patient_from_fields
from knowledge.taxonomy import Language, display_name

from ui import panels
from ui.i18n import language_of, t

log = logging.getLogger("dermagraph.app")

STREAM_PAUSE_S = 0.04  # between streamed sentences: reads as typing, adds well under a second per answer
ANY = ""  # the "any" choice of a filter dropdown


def new_thread_id() -> str:
    return uuid.uuid4().hex[:16]


def new_view() -> dict[str, Any]:
    return {"turn": None, "image_path": None, "image_ok": False, "images": [], "sources": {}, "cases": [],
            "query": {"kind": None, "text": ""}, "filters": {}, "notice": "", "selected_case": None, "shown_source": None}


def _message_parts(message: Mapping[str, Any] | str | None) -> tuple[str, str | None]:
    """(question, image path) from the multimodal box's value."""
    if message is None:
        return "", None
    if isinstance(message, str):
        return message.strip(), None
    files = message.get("files") or []
    first = files[0] if files else None
    if isinstance(first, Mapping):
        first = first.get("path")
    return str(message.get("text") or "").strip(), (str(first) if first else None)


class AppHandlers:
    """Handlers bound to one ``Consultation`` (models loaded once, shared by every tab)."""

    def __init__(self, consult: Consultation, stream_pause_s: float = STREAM_PAUSE_S) -> None:
        self.consult = consult
        self.stream_pause_s = stream_pause_s

    # --- sessions ---------------------------------------------------------------------------------

    def restore(self, stored_thread: str | None, lang: str | None) -> tuple[str, str, list[dict], dict]:
        """A tab (re)opens: its stored thread's chat and panels, or a fresh thread."""
        lang = language_of(lang)
        try:
            thread_id = check_thread_id(stored_thread or "")
        except ValueError:
            return new_thread_id(), lang, [], new_view()
        turns = self.consult.turns(thread_id)
        if not turns:
            return thread_id, lang, [], new_view()
        chat: list[dict] = []
        for question, result in turns:  # each turn's image comes back with it while the upload is kept
            image = result.image_path if result.new_image else None
            if image and Path(image).is_file():
                chat.append({"role": "user", "content": {"path": image}})
            elif image:
                chat.append({"role": "user", "content": t("image_turn", lang)})  # removed by retention meanwhile
            if question and question != "[image]":
                chat.append({"role": "user", "content": question})
            chat.append({"role": "assistant", "content": panels.link_markers(result.answer, result.turn)})
        view = self._view_after_turn(new_view(), thread_id)
        return thread_id, lang, chat, view

    def new_consultation(self) -> tuple[str, list[dict], dict]:
        return new_thread_id(), [], new_view()

    # --- a chat turn ---------------------------------------------------------------------------------

    def respond(self, message: Mapping[str, Any] | str | None, history: list | None, thread_id: str | None,
                lang: str | None, view: dict | None, patient: Mapping[str, Any] | None = None) -> Iterator[tuple[list, str, dict, bool, str]]:
        """One turn, streamed: yields (chat, thread id, view, final?, notice) — panels are drawn from the view when final;
        a notice (empty input, an unreadable file, a question over the limit) leaves the chat and the input as they were.

        ``patient``: the optional age / sex / site / history fields (data for the triage rule)."""
        lang = language_of(lang)
        chat = list(history or [])
        view = view or new_view()
        question, image = _message_parts(message)
        try:
            thread_id = check_thread_id(thread_id or "")
        except ValueError:
            thread_id = new_thread_id()
        notice = self._input_problem(question, image, lang)
        if notice:  # said beside the input, which keeps the text; nothing is added to the conversation
            yield list(chat), thread_id, view, False, notice
            return
        if image:
            chat.append({"role": "user", "content": {"path": image}})
        if question:
            chat.append({"role": "user", "content": question})
        pending = {"role": "assistant", "content": "", "metadata": {"title": t("analysing", lang), "status": "pending"}}
        chat.append(pending)
        yield list(chat), thread_id, view, False, ""

        try:
            info = patient_from_fields(**{k: (v if v not in ("", None) else None) for k, v in (patient or {}).items()})
            # A typed question is answered in its own language; an image alone in the interface's.
            result = self.consult.ask(thread_id, question or None, image=image, language=None if question else lang,
                                      patient=None if info.is_empty() else info)
        except ImageError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {t('bad_image', lang, reason=str(exc))}"}
            yield list(chat), thread_id, view, False, ""
            return
        except ValueError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {t('bad_input', lang, reason=str(exc))}"}
            yield list(chat), thread_id, view, False, ""
            return
        except ServiceUnavailable as exc:  # Chroma or Postgres down: which one, and that nothing was half-recorded
            log.warning("turn refused on thread %s: %s", thread_id, exc)
            chat[-1] = {"role": "assistant", "content": f"⚠️ {t('service_unavailable', lang, reason=exc.service)}"}
            yield list(chat), thread_id, view, False, ""
            return
        except Exception as exc:  # never a traceback in the page; the log keeps it
            log.exception("turn failed on thread %s", thread_id)
            chat[-1] = {"role": "assistant", "content": f"⚠️ {t('internal_error', lang, kind=type(exc).__name__)}"}
            yield list(chat), thread_id, view, False, ""
            return

        text = ""
        for chunk in panels.answer_chunks(panels.link_markers(result.answer, result.turn)):
            text = f"{text}\n\n{chunk}" if text else chunk
            chat[-1] = {"role": "assistant", "content": text}
            yield list(chat), thread_id, view, False, ""
            time.sleep(self.stream_pause_s)
        view = self._view_after_turn(view, thread_id, result.model_dump())
        yield list(chat), thread_id, view, True, ""

    def _input_problem(self, question: str, image: str | None, lang: Language) -> str:
        """Why the input cannot be sent as it is ("" when it can)."""
        from knowledge.images import open_image

        if not question and not image:
            return t("empty_input", lang)
        limit = self.consult.settings.max_question_chars
        if len(question) > limit:
            return t("too_long", lang, n=len(question), limit=limit)
        if image:
            try:
                open_image(image)  # a 0-byte or broken file never reaches the chat as a broken picture
            except ImageError as exc:
                return t("bad_image", lang, reason=str(exc))
        return ""

    def _view_after_turn(self, view: dict, thread_id: str, turn: dict | None = None) -> dict:
        """The view once a turn is done: its findings, its sources, its cases and the filters behind them."""
        if turn is None:  # a reopened tab: the thread's last completed turn, from its checkpoint
            turn = turn_result(thread_id, self.consult.state(thread_id), []).model_dump()
        intake = turn.get("intake")
        same_image = view.get("image_path") == turn.get("image_path")  # heat maps belong to one image
        view = {**view, "turn": turn, "image_path": turn.get("image_path"), "images": self._images_after(view, turn, thread_id),
                "heat_paths": (view.get("heat_paths") or {}) if same_image else {},
                "image_layer": (view.get("image_layer") or "outline") if same_image else "outline",
                "image_ok": bool(intake and intake.get("accepted")),
                "sources": {**view.get("sources", {}), **panels.turn_sources(turn)},
                "cases": turn.get("similar_cases") or [],
                "query": {"kind": "image", "text": ""},
                "filters": dict(turn.get("case_filters") or {}), "notice": "",
                "selected_case": None, "shown_source": None}
        return view

    def _images_after(self, view: dict, turn: dict, thread_id: str) -> list[str]:
        """The consultation's images after a turn: the view's list plus this turn's new image (a reopened tab reads
        them from the checkpoints once, ``consultation_images``; a turn never walks the whole history)."""
        if view.get("turn") is None:
            return self.consultation_images(thread_id)
        images = list(view.get("images") or [])
        path = turn.get("image_path")
        if turn.get("new_image") and path and path not in images and Path(path).is_file():
            images.append(path)
        return images

    def consultation_images(self, thread_id: str) -> list[str]:
        """The consultation's images still kept, in the order they came (one entry per image)."""
        seen: dict[str, None] = {}
        for _, result in self.consult.turns(thread_id):
            if result.new_image and result.image_path and Path(result.image_path).is_file():
                seen.setdefault(result.image_path, None)
        return list(seen)

    # --- similar cases ------------------------------------------------------------------------------

    def search_cases(self, view: dict | None, text: str | None, filters: FiltersLike) -> dict:
        """The search box: cases like the text, or like the current image when the box is empty.

        Body sites, sexes, ages and confirmations in the words ("melanoma on the back of men over 60", "背部 女性")
        become filters (``agents.intents.read_filters``, the chat's own reader), where the dropdowns say nothing."""
        from agents.intents import read_filters

        text = (text or "").strip()
        chosen = CaseFilters.coerce(filters)
        return self._query_cases(view, "text" if text else "image", text, read_filters(text, []).merged(chosen) if text else chosen)

    def refilter_cases(self, view: dict | None, filters: FiltersLike) -> dict:
        """A filter changed: the gallery's current query again, with the new filters."""
        query = (view or {}).get("query") or {}
        return self._query_cases(view, query.get("kind") or "image", query.get("text") or "", CaseFilters.coerce(filters))

    def _query_cases(self, view: dict | None, kind: str, text: str, filters: CaseFilters) -> dict:
        view = view or new_view()
        query = {"kind": kind, "text": text}
        if view.get("cases") and view.get("query") == query and view.get("filters") == _filters_dump(filters):
            return view  # nothing changed (a dropdown re-sends its value on blur): keep the shown case
        view = {**view, "filters": _filters_dump(filters), "query": query, "selected_case": None}
        index, per_page = self.consult.resources.case_index, self.consult.settings.cases_per_page
        try:
            if kind == "text":  # the text tower's lesions, re-ranked by what the corpus says the words describe
                hits = search_by_text(index, self.consult.resources.knowledge_index, text, per_page, filters)
            elif view.get("image_path") and view.get("image_ok"):
                hits = index.search(Path(view["image_path"]), k=per_page, filters=filters, distinct_lesions=True)
            else:
                return {**view, "cases": [], "notice": "need_query"}
        except ValueError as exc:  # an empty age range, say: said in the panel, the gallery emptied
            return {**view, "cases": [], "notice": str(exc)}
        cases = [{**h.to_dict(), "rank": i + 1} for i, h in enumerate(hits)]
        return {**view, "cases": cases, "notice": "" if hits else "no_cases"}

    # --- heat maps -----------------------------------------------------------------------------------

    def show_layer(self, view: dict | None, layer: str | None) -> dict:
        """The image panel's layer: the outline, or the heat map of a class (made on first use, then kept)."""
        from agents.explain import heat_map_file

        view = view or new_view()
        layer = layer or "outline"
        if layer == "outline" or not view.get("image_path") or not view.get("image_ok"):
            return {**view, "image_layer": "outline"}
        paths = dict(view.get("heat_paths") or {})
        if layer not in paths:
            paths[layer] = heat_map_file(self.consult.resources, view["image_path"], layer)
        return {**view, "image_layer": layer, "heat_paths": paths}

    # --- two images of one lesion --------------------------------------------------------------------

    def compare(self, before: str | None, after: str | None, lang: Language) -> str:
        """The comparison table of two uploaded images (``agents.compare``), or what is missing."""
        from agents.compare import compare_images

        if not before or not after:
            return t("compare_need", lang)
        try:
            return panels.comparison_markdown(compare_images(self.consult.resources, before, after), lang)
        except ImageError as exc:
            return f"⚠️ {t('bad_image', lang, reason=str(exc))}"

    # --- report --------------------------------------------------------------------------------------

    def make_report(self, thread_id: str | None, lang: Language) -> tuple[str | None, str]:
        """(the consultation's PDF, kept in its uploads folder; a notice) for the download button."""
        from agents.retention import thread_upload_dir
        from ui.report import write_report

        if not thread_id or not self.consult.state(thread_id):
            return None, t("report_none", lang)
        folder = thread_upload_dir(self.consult.settings.uploads_dir, thread_id)
        info = write_report(self.consult, thread_id, folder / f"dermagraph-report-{lang}.pdf", lang=lang)
        return str(info.path), ""

    # --- batches -------------------------------------------------------------------------------------

    def run_batch(self, files: Sequence[str] | None, lang: Language,
                  on_image: Any = None) -> tuple[str, list[list[Any]], str | None]:
        """Uploaded images -> (status line, table rows, CSV path to download) through ``agents.batch``."""
        import shutil

        from agents.batch import run_batch

        files = [f for f in (files or []) if f]
        settings = self.consult.settings
        if not files:
            return t("batch_none", lang), [], None
        if len(files) > settings.max_batch_images:
            return t("batch_too_many", lang, n=len(files), limit=settings.max_batch_images), [], None
        root = settings.batch_dir / uuid.uuid4().hex[:12]
        images = root / "images"
        images.mkdir(parents=True)
        used: set[str] = set()
        for f in files:  # Gradio keeps each upload in a folder of its own: copy them side by side, names kept
            name = Path(f).name
            stem, suffix, n = Path(name).stem, Path(name).suffix, 1
            while name in used:
                n += 1
                name = f"{stem}-{n}{suffix}"
            used.add(name)
            shutil.copy(f, images / name)
        out = root / "results.csv"
        summary = run_batch(images, out, self.consult.resources, on_image=on_image)
        rows = batch_table(out, lang)
        return t("batch_done", lang, n=summary.images, refused=summary.refused, errors=summary.errors,
                 referred=summary.referred, seconds=summary.seconds), rows, str(out)

    # --- sources -------------------------------------------------------------------------------------

    def show_source(self, key: str | None, view: dict | None) -> dict:
        """Show a cited source (a choice in the sources list, or a marker clicked in an answer)."""
        return {**(view or new_view()), "shown_source": key or None}

    def show_case(self, index: int | Sequence[int] | None, view: dict | None) -> dict:
        """Show a case of the gallery (its position in the gallery)."""
        i = index[0] if isinstance(index, Sequence) else index
        return {**(view or new_view()), "selected_case": None if i is None else int(i)}


# --- the panels a view shows ------------------------------------------------------------------------


BATCH_HEADERS = ("batch_col_file", "batch_col_intake", "batch_col_top", "batch_col_p", "batch_col_mel", "batch_col_tier")


def batch_table(out: Path, lang: Language) -> list[list[Any]]:
    """The batch CSV as the app's table: file, intake, most likely class and its probability, melanoma, tier."""
    import csv

    from knowledge.advice import RiskTier, tier_name

    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    table = []
    for r in rows:
        if r["error"]:
            table.append([r["path"], f"⚠️ {r['error']}", "", "", "", ""])
            continue
        if r["intake_accepted"] != "yes":
            table.append([r["path"], t("batch_refused", lang), "", "", "", t("batch_refused_tier", lang)])
            continue
        label = r["label"]
        table.append([r["path"], t("batch_accepted", lang), display_name(label, lang), f"{float(r['p_' + label]):.0%}",
                      f"{float(r['p_mel']):.0%}", tier_name(RiskTier(r["tier"]), lang)])
    return table


def cases_panel(view: dict, lang: Language) -> list[Any]:
    """[status line, gallery items, case image, case details] for the gallery's current query."""
    cases = view.get("cases") or []
    notice = view.get("notice") or ""
    query = view.get("query") or {}
    if notice:
        status = t(notice, lang) if notice in ("need_query", "no_cases") else f"⚠️ {notice}"
    elif not cases:
        status = t("cases_hint", lang)
    elif query.get("kind") == "text":
        status = t("cases_for_text", lang, n=len(cases), text=query.get("text", ""),
                   filters=panels.filters_text(view.get("filters") or {}, lang), mix=panels.diagnosis_mix(cases, lang))
    else:
        status = t("cases_for_image", lang, n=len(cases), filters=panels.filters_text(view.get("filters") or {}, lang),
                   mix=panels.diagnosis_mix(cases, lang))
    i = view.get("selected_case")
    if i is not None and 0 <= i < len(cases):
        image, details = str(cases[i]["image_path"]), panels.case_markdown(cases[i], lang)
    else:
        image, details = None, t("pick_case", lang)
    return [status, panels.gallery_items(cases, lang), image, details]


def assessment_panel(view: dict, lang: Language) -> list[Any]:
    """[probabilities html, risk html, features image, features text, measured values, layer choice, layer note]."""
    from agents.explain import NOTE

    turn = view.get("turn") or {}
    diagnosis = turn.get("diagnosis")
    features = turn.get("features")
    image = view.get("image_path") if turn else None
    choices = panels.layer_choices(diagnosis, lang) if turn else []
    layer = view.get("image_layer") or "outline"
    heat = (view.get("heat_paths") or {}).get(layer) if layer in {v for _, v in choices} else None
    shown = heat or (panels.features_image(features, image) if view.get("image_ok") else None)  # never a refused image
    # data-turn tells a watcher (the browser test, a screen reader's live region) which turn the panels show
    return [
        f'<div data-turn="{int(turn.get("turn") or 0)}">{panels.probabilities_html(diagnosis, lang)}</div>',
        panels.risk_html(turn.get("risk_tier"), diagnosis, lang, turn.get("triage")),
        shown,
        panels.features_markdown(features, lang),
        panels.feature_values_markdown(features),
        {"__type__": "update", "choices": choices, "value": layer if heat else "outline", "visible": len(choices) > 1},
        NOTE[lang] if heat else "",
    ]


def sources_panel(view: dict, lang: Language) -> list[Any]:
    """[source choices, the chosen one (or None), its text, its image or None] for the last answer."""
    turn = view.get("turn") or {}
    sources = view.get("sources") or {}
    choices = panels.source_choices(sources, int(turn.get("turn") or 0), lang) if turn else []
    key = view.get("shown_source")
    if not key:
        return [choices, None, t("no_sources", lang), None]
    text, image = panels.source_view(sources.get(key), lang)
    return [choices, key if key in {v for _, v in choices} else None, text, image]


def _filters_dump(filters: FiltersLike) -> dict[str, Any]:
    """The view keeps filters as plain JSON (only the fields that are set)."""
    return CaseFilters.coerce(filters).model_dump(exclude_none=True)

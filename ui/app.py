"""The Gradio app: a multimodal chat beside the estimate, the measured features, the cited sources and
an inspectable gallery of similar confirmed cases.

``build_app(consult)`` lays out the page and wires the handlers of ``ui.handlers``;
``serve(...)`` loads the models once, warms them up and launches on 127.0.0.1. Every string comes
from ``ui.i18n`` and switches with the English / 中文 toggle. A tab keeps its thread id in the
browser's sessionStorage (one consultation per tab, surviving reloads and server restarts: the
turns themselves are in the SQLite checkpoints).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: it reads this at import time

import gradio as gr

from agents.session import Consultation
from agents.session_store import ServiceUnavailable
from knowledge.cases import Case, CaseFilters
from knowledge.settings import Settings, get_settings
from knowledge.taxonomy import BODY_SITES, CODES, CONFIRMATIONS, SEX_NAMES, SEXES, Language, confirmation_name, display_name, site_name

from ui import handlers as h
from ui.examples import example_records
from ui.i18n import LANGUAGES, disclaimer_banner, language_of, t

log = logging.getLogger(__name__)

STORAGE_KEY = "dermagraph.tab"
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "sans-serif"]


def theme() -> gr.themes.Base:
    # System fonts only: the default theme fetches web fonts, and the app must work offline.
    return gr.themes.Soft(primary_hue="teal", secondary_hue="amber", font=SYSTEM_FONTS,
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

CSS = """
.dg-hidden { display: none !important; }
.dg-disclaimer { background: #fff6e0; border: 1px solid #f2c46d; border-radius: 8px; padding: 2px 14px; color: #4a3b12; }
.dark .dg-disclaimer { background: #3a2f12; border-color: #8a6a1f; color: #f4e3b5; }
.dg-header { align-items: center; }
.dg-header h1 { margin: 0; }
.dg-probs { font-size: 0.93em; }
.dg-bar-row { display: grid; grid-template-columns: minmax(9em, 15em) 1fr 4.2em; gap: 8px; align-items: center;
              margin: 4px 0; color: var(--body-text-color-subdued); }
.dg-bar-row small { opacity: 0.7; }
.dg-bar-track { background: var(--neutral-200); border-radius: 4px; height: 12px; overflow: hidden; }
.dark .dg-bar-track { background: var(--neutral-700); }
.dg-bar-fill { display: block; height: 100%; background: var(--neutral-400); border-radius: 4px; }
.dg-bar-value { text-align: right; font-variant-numeric: tabular-nums; }
.dg-top { color: var(--body-text-color); font-weight: 600; }
.dg-top .dg-bar-fill { background: var(--color-accent); }
.dg-caption { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 6px; }
.dg-note { border-radius: 6px; padding: 6px 10px; margin-top: 8px; }
.dg-warn { background: rgba(255, 170, 0, 0.15); }
.dg-empty { color: var(--body-text-color-subdued); padding: 8px 0; }
.dg-risk { border-radius: 8px; padding: 8px 12px; margin-top: 4px; border-left: 6px solid; }
.dg-risk-tier { font-size: 1.05em; margin-bottom: 2px; }
.dg-risk-low { background: rgba(46, 160, 67, 0.12); border-color: #2ea043; }
.dg-risk-clinician { background: rgba(210, 180, 0, 0.15); border-color: #c9a400; }
.dg-risk-soon { background: rgba(240, 120, 0, 0.15); border-color: #e07000; }
.dg-risk-urgent { background: rgba(220, 40, 40, 0.15); border-color: #d22; }
#dg-chat a[href*="#cite-"] { text-decoration: none; font-weight: 600; }
#dg-search-button { align-self: flex-end; margin-bottom: 8px; }
"""

# Clicking a citation marker in an answer shows that source: the key goes to a hidden textbox and a
# hidden button sends it to the server (the same handler as choosing it in the sources list).
PAGE_JS = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href*="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const key = decodeURIComponent(link.getAttribute("href").split("#cite-")[1] || "");
    const box = document.querySelector("#dg-cite textarea, #dg-cite input");
    if (!box) return;
    box.value = key;
    box.dispatchEvent(new Event("input", { bubbles: true }));  // updates the textbox's bound value
    document.querySelector("#dg-cite-go")?.click();  // a Textbox's own input event follows keystrokes only
    document.getElementById("dg-sources")?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }, true);
}
"""

# The tab's thread id and language live in sessionStorage: per tab, kept across reloads.
LOAD_JS = f"""(thread, lang) => {{
  const saved = JSON.parse(sessionStorage.getItem("{STORAGE_KEY}") || "{{}}");
  const browser = (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
  return [saved.thread || "", saved.lang || browser];
}}"""
SAVE_JS = f"""(thread, lang) => {{
  sessionStorage.setItem("{STORAGE_KEY}", JSON.stringify({{ thread: thread, lang: lang }}));
  return [];
}}"""


def _dx_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("any", lang), h.ANY)] + [(display_name(c, lang), c) for c in CODES]


def _confirm_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("any", lang), h.ANY)] + [(confirmation_name(c, lang), c) for c in CONFIRMATIONS]


def _sex_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("any", lang), h.ANY)] + [(SEX_NAMES[s][lang], s) for s in SEXES]


def _site_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("any", lang), h.ANY)] + [(site_name(s, lang), s) for s in BODY_SITES]


def _patient_sex_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("not_given", lang), h.ANY)] + [(SEX_NAMES[s][lang], s) for s in SEXES]


def _patient_site_choices(lang: Language) -> list[tuple[str, str]]:
    return [(t("not_given", lang), h.ANY)] + [(site_name(s, lang), s) for s in BODY_SITES if s != "unknown"]


@dataclass
class _Labels:
    """Components whose text follows the language toggle, and how to relabel each."""

    entries: list[tuple[Any, Callable[[Language], dict]]] = field(default_factory=list)

    def add(self, component: Any, **keys: str | Callable[[Language], Any]) -> Any:
        def update(lang: Language) -> dict:
            return {attr: (key(lang) if callable(key) else t(key, lang)) for attr, key in keys.items()}

        self.entries.append((component, update))
        return component

    @property
    def components(self) -> list[Any]:
        return [c for c, _ in self.entries]

    def updates(self, lang: Language) -> dict[Any, dict]:
        return {c: gr.update(**update(lang)) for c, update in self.entries}


def _merge(*parts: dict[Any, Any]) -> dict[Any, Any]:
    """One update per component from several {component: value or gr.update} maps (later ones win)."""
    out: dict[Any, Any] = {}
    for part in parts:
        for component, value in part.items():
            new = value if isinstance(value, dict) and value.get("__type__") == "update" else gr.update(value=value)
            out[component] = {**out[component], **new} if component in out else new
    return out


def _example_items(records: list[Case]) -> list[tuple[str, str]]:
    return [(str(r.image_path), r.dx) for r in records]  # the confirmed class: compare it with the estimate


def build_app(consult: Consultation, examples: list[Case] | None = None,
              stream_pause_s: float = h.STREAM_PAUSE_S, concurrency: int | None = None) -> gr.Blocks:
    """The page: its layout (one function per part) and its events (``_wire``)."""
    handlers = h.AppHandlers(consult, stream_pause_s=stream_pause_s)
    labels = _Labels()
    examples = example_records() if examples is None else examples

    raw_age = get_settings().raw_upload_max_age_s  # Gradio's copies of uploads: ours are stored per consultation
    with gr.Blocks(title="dermagraph", analytics_enabled=False, fill_width=True, delete_cache=(raw_age, raw_age)) as demo:
        ui = SimpleNamespace()
        _header(ui, labels)
        with gr.Row():
            with gr.Column(scale=3, min_width=420):
                _chat_column(ui, labels, examples)
            with gr.Column(scale=2, min_width=360):
                _assessment_column(ui, labels)
        _cases_section(ui, labels)
        _tools_section(ui, labels)
        _wire(demo, ui, handlers, labels, examples, concurrency)
        _api_endpoints(handlers)
    return demo


def _keep(ui: SimpleNamespace, scope: dict[str, Any]) -> None:
    """Put a layout function's components on the page namespace the events are wired to."""
    vars(ui).update({name: value for name, value in scope.items() if isinstance(value, gr.blocks.Block)})


def _header(ui: SimpleNamespace, labels: _Labels) -> None:
    """The page's state and hidden fields, title, language switch, new-consultation button and disclaimer."""
    lang0: Language = "en"
    view = gr.State(h.new_view())
    thread_box = gr.Textbox(visible="hidden", elem_id="dg-thread", elem_classes=["dg-hidden"], container=False)
    cite_box = gr.Textbox(visible="hidden", elem_id="dg-cite", elem_classes=["dg-hidden"], container=False)
    cite_go = gr.Button(visible="hidden", elem_id="dg-cite-go", elem_classes=["dg-hidden"])

    with gr.Row(elem_classes=["dg-header"], equal_height=True):
        with gr.Column(scale=5):
            header = labels.add(gr.Markdown(f"# {t('title', lang0)}\n{t('subtitle', lang0)}"),
                                value=lambda lang: f"# {t('title', lang)}\n{t('subtitle', lang)}")
        with gr.Column(scale=2, min_width=260):
            language = gr.Radio(choices=list(LANGUAGES), value=lang0, show_label=False, elem_id="dg-language",
                                container=False)
            new_button = labels.add(gr.Button(t("new_consultation", lang0), variant="secondary", size="sm",
                                              elem_id="dg-new"), value="new_consultation")
    disclaimer = labels.add(gr.Markdown(disclaimer_banner(lang0), elem_classes=["dg-disclaimer"], elem_id="dg-disclaimer"),
                            value=disclaimer_banner)
    _keep(ui, locals())


def _chat_column(ui: SimpleNamespace, labels: _Labels, examples: list[Case]) -> None:
    """The chat, its input, the report button, the consultation's images, patient details, examples, sources."""
    lang0: Language = "en"
    chatbot = labels.add(gr.Chatbot(label=t("chat", lang0), show_label=False, elem_id="dg-chat", height=600,
                                    buttons=["copy"], feedback_options=None, layout="bubble"),
                         label="chat")
    message = labels.add(gr.MultimodalTextbox(file_types=["image"], file_count="single", sources=["upload"],
                                              placeholder=t("input_placeholder", lang0), show_label=False,
                                              elem_id="dg-input", autofocus=True),
                         placeholder="input_placeholder")
    with gr.Row(equal_height=True):
        report_go = labels.add(gr.Button(t("report_button", lang0), size="sm", variant="secondary",
                                         elem_id="dg-report", scale=1), value="report_button")
        report_file = gr.File(label="PDF", interactive=False, visible=False, elem_id="dg-report-file", scale=2)
        report_note = gr.Markdown("", elem_id="dg-report-note")
    thread_gallery = labels.add(gr.Gallery([], label=t("thread_images", lang0), columns=8, height=110,
                                           allow_preview=False, object_fit="cover", elem_id="dg-thread-images",
                                           interactive=False, buttons=[], visible=False), label="thread_images")
    with labels.add(gr.Accordion(t("patient_details", lang0), open=False, elem_id="dg-patient"), label="patient_details"):
        with gr.Row():
            p_age = labels.add(gr.Number(None, label=t("patient_age", lang0), minimum=0, maximum=120, precision=0,
                                         elem_id="dg-p-age", min_width=90), label="patient_age")
            p_sex = labels.add(gr.Dropdown(_patient_sex_choices(lang0), value=h.ANY, label=t("patient_sex", lang0),
                                           elem_id="dg-p-sex", min_width=110),
                               label="patient_sex", choices=_patient_sex_choices)
            p_site = labels.add(gr.Dropdown(_patient_site_choices(lang0), value=h.ANY, label=t("patient_site", lang0),
                                            elem_id="dg-p-site", min_width=150),
                                label="patient_site", choices=_patient_site_choices)
        p_history = labels.add(gr.Textbox(label=t("patient_history", lang0), placeholder=t("history_placeholder", lang0),
                                          max_lines=2, max_length=1000, elem_id="dg-p-history"),
                               label="patient_history", placeholder="history_placeholder")
    example_gallery = labels.add(gr.Gallery(_example_items(examples), label=t("examples", lang0), columns=7,
                                            height=150, allow_preview=False, object_fit="cover",
                                            elem_id="dg-examples", interactive=False, buttons=[],
                                            visible=bool(examples)), label="examples")
    with gr.Column(elem_id="dg-sources", variant="panel"):
        sources_title = labels.add(gr.Markdown(t("sources", lang0)), value="sources")
        source_pick = labels.add(gr.Radio(choices=[], label=t("sources_pick", lang0), elem_id="dg-source-pick"),
                                 label="sources_pick")
        source_text = gr.Markdown(t("no_sources", lang0), elem_id="dg-source-text")
        source_img = labels.add(gr.Image(label=t("source_image", lang0), interactive=False, height=200,
                                         visible=False, elem_id="dg-source-image", buttons=["fullscreen"]),
                                label="source_image")
    _keep(ui, locals())


def _assessment_column(ui: SimpleNamespace, labels: _Labels) -> None:
    """The probabilities and triage tier, the outline or heat map, the measured features."""
    lang0: Language = "en"
    assessment_title = labels.add(gr.Markdown(t("assessment", lang0)), value="assessment")
    probabilities = gr.HTML(h.assessment_panel(h.new_view(), lang0)[0], elem_id="dg-probabilities")
    risk = gr.HTML("", elem_id="dg-risk")
    features_title = labels.add(gr.Markdown(t("features", lang0)), value="features")
    features_img = labels.add(gr.Image(label=t("features_image", lang0), interactive=False, height=240,
                                       elem_id="dg-overlay", buttons=["fullscreen"]), label="features_image")
    layer_pick = labels.add(gr.Radio(choices=[], value=None, label=t("layer_pick", lang0), visible=False,
                                     elem_id="dg-layer"), label="layer_pick")
    layer_note = gr.Markdown("", elem_id="dg-layer-note")
    features_text = gr.Markdown(t("no_features", lang0), elem_id="dg-features")
    with labels.add(gr.Accordion(t("measured_values", lang0), open=False), label="measured_values"):
        feature_values = gr.Markdown("", elem_id="dg-feature-values")
    _keep(ui, locals())


def _cases_section(ui: SimpleNamespace, labels: _Labels) -> None:
    """Similar confirmed cases: filters, the search box, the gallery and the chosen case."""
    lang0: Language = "en"
    cases_title = labels.add(gr.Markdown(t("cases", lang0)), value="cases")
    with gr.Row(equal_height=True):
        dx = labels.add(gr.Dropdown(_dx_choices(lang0), value=h.ANY, label=t("filter_dx", lang0), elem_id="dg-f-dx"),
                        label="filter_dx", choices=_dx_choices)
        dx_type = labels.add(gr.Dropdown(_confirm_choices(lang0), value=h.ANY, label=t("filter_dx_type", lang0),
                                         elem_id="dg-f-dx-type"), label="filter_dx_type", choices=_confirm_choices)
        sex = labels.add(gr.Dropdown(_sex_choices(lang0), value=h.ANY, label=t("filter_sex", lang0), elem_id="dg-f-sex"),
                         label="filter_sex", choices=_sex_choices)
        site = labels.add(gr.Dropdown(_site_choices(lang0), value=h.ANY, label=t("filter_site", lang0), elem_id="dg-f-site"),
                          label="filter_site", choices=_site_choices)
        age_min = labels.add(gr.Number(None, label=t("age_min", lang0), minimum=0, maximum=120, precision=0,
                                       elem_id="dg-f-age-min"), label="age_min")
        age_max = labels.add(gr.Number(None, label=t("age_max", lang0), minimum=0, maximum=120, precision=0,
                                       elem_id="dg-f-age-max"), label="age_max")
    with gr.Row(equal_height=False):
        search_text = labels.add(gr.Textbox(label=t("search_text", lang0), placeholder=t("search_placeholder", lang0),
                                            scale=5, elem_id="dg-search"),
                                 label="search_text", placeholder="search_placeholder")
        search_button = labels.add(gr.Button(t("search_button", lang0), scale=1, min_width=120, size="lg",
                                             elem_id="dg-search-button"),
                                   value="search_button")
    cases_status = gr.Markdown(t("cases_hint", lang0), elem_id="dg-cases-status")
    with gr.Row():
        with gr.Column(scale=3):
            gallery = labels.add(gr.Gallery(label=t("cases_gallery", lang0), columns=5, height="auto", allow_preview=False,
                                            object_fit="contain", elem_id="dg-gallery", interactive=False),
                                 label="cases_gallery")
        with gr.Column(scale=1, min_width=260):
            case_img = labels.add(gr.Image(label=t("case_image", lang0), interactive=False, height=220,
                                           elem_id="dg-case-image", buttons=["fullscreen"]), label="case_image")
            case_text = gr.Markdown(t("pick_case", lang0), elem_id="dg-case-details")
    _keep(ui, locals())


def _tools_section(ui: SimpleNamespace, labels: _Labels) -> None:
    """Compare two images of one lesion; assess a batch of images."""
    lang0: Language = "en"
    with labels.add(gr.Accordion(t("compare", lang0), open=False, elem_id="dg-compare"), label="compare"):
        with gr.Row():
            cmp_before = labels.add(gr.Image(type="filepath", label=t("compare_before", lang0), height=200,
                                             sources=["upload"], elem_id="dg-compare-before"), label="compare_before")
            cmp_after = labels.add(gr.Image(type="filepath", label=t("compare_after", lang0), height=200,
                                            sources=["upload"], elem_id="dg-compare-after"), label="compare_after")
        cmp_go = labels.add(gr.Button(t("compare_run", lang0), elem_id="dg-compare-run"), value="compare_run")
        cmp_result = gr.Markdown("", elem_id="dg-compare-result")
    with labels.add(gr.Accordion(t("batch", lang0), open=False, elem_id="dg-batch"), label="batch"):
        batch_help = labels.add(gr.Markdown(t("batch_help", lang0)), value="batch_help")
        with gr.Row(equal_height=False):
            batch_files = labels.add(gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                             label=t("batch_files", lang0), elem_id="dg-batch-files", scale=3),
                                     label="batch_files")
            with gr.Column(scale=1, min_width=200):
                batch_go = labels.add(gr.Button(t("batch_run", lang0), variant="primary", elem_id="dg-batch-run"),
                                      value="batch_run")
                batch_csv = labels.add(gr.File(label=t("batch_csv", lang0), interactive=False, elem_id="dg-batch-csv"),
                                       label="batch_csv")
        batch_status = gr.Markdown("", elem_id="dg-batch-status")
        batch_table = gr.Dataframe(value=None, interactive=False, wrap=True, elem_id="dg-batch-table", visible=False)
    _keep(ui, locals())


def _wire(demo: gr.Blocks, ui: SimpleNamespace, handlers: h.AppHandlers, labels: _Labels, examples: list[Case],
          concurrency: int | None) -> None:
    """What each component does: turns, redraws, filters and searches, sources, heat maps, report, compare, batch."""
    filters = [ui.dx, ui.dx_type, ui.sex, ui.site, ui.age_min, ui.age_max]
    assessment_out = [ui.probabilities, ui.risk, ui.features_img, ui.features_text, ui.feature_values, ui.layer_pick,
                      ui.layer_note]
    cases_out = [ui.cases_status, ui.gallery, ui.case_img, ui.case_text]
    sources_out = [ui.source_pick, ui.source_text, ui.source_img]
    panels_out = [*assessment_out, *cases_out, *sources_out, *filters, ui.thread_gallery]
    page_out = list(dict.fromkeys([*panels_out, *labels.components]))  # every component a redraw may touch

    def draw(view_value: dict, lang: str) -> dict[Any, Any]:
        lang = language_of(lang)
        values = [*h.assessment_panel(view_value, lang), *h.cases_panel(view_value, lang),
                  *CaseFilters.coerce(view_value.get("filters")).widgets(h.ANY)]
        images = view_value.get("images") or []
        return {**dict(zip([*assessment_out, *cases_out, *filters], values)), **draw_sources(view_value, lang),
                ui.thread_gallery: gr.update(value=images, visible=bool(images))}

    def draw_sources(view_value: dict, lang: str) -> dict[Any, Any]:
        choices, chosen, text, img = h.sources_panel(view_value, language_of(lang))
        return {ui.source_pick: gr.update(choices=choices, value=chosen), ui.source_text: text,
                ui.source_img: gr.update(value=img, visible=img is not None)}

    def draw_cases(view_value: dict, lang: str) -> dict[Any, Any]:
        return {ui.view: view_value, **dict(zip(cases_out, h.cases_panel(view_value, language_of(lang))))}

    def respond(msg, history, thread_id, lang, view_value, age=None, sex=None, site=None, story=None):
        patient = {"age": age, "sex": sex, "site": site, "history": story}
        for chat, thread_id, view_value, final, notice in handlers.respond(msg, history, thread_id, lang, view_value,
                                                                         patient):
            if notice:  # the input stays as it was (nothing typed is lost), the chat too
                gr.Warning(notice)
                yield {ui.thread_box: thread_id}
                return
            update = {ui.chatbot: chat, ui.message: gr.update(value=None), ui.thread_box: thread_id, ui.view: view_value}
            yield _merge(update, draw(view_value, lang)) if final else update

    def restore(stored_thread, lang):
        thread_id, lang, chat, view_value = handlers.restore(stored_thread, lang)
        return _merge({ui.thread_box: thread_id, ui.language: lang, ui.view: view_value}, labels.updates(lang),
                      {ui.chatbot: chat}, draw(view_value, lang))

    def start_new(lang):
        thread_id, chat, view_value = handlers.new_consultation()
        fresh = {ui.thread_box: thread_id, ui.chatbot: chat, ui.view: view_value, ui.search_text: "", ui.report_note: "",
                 ui.report_file: gr.update(value=None, visible=False)}  # nothing of the old consultation stays
        return _merge(fresh, draw(view_value, lang))

    def switch_language(lang, view_value):
        return _merge(labels.updates(language_of(lang)), draw(view_value, lang))

    def refilter(view_value, lang, *values):
        return draw_cases(handlers.refilter_cases(view_value, CaseFilters.from_widgets(*values)), lang)

    def search(view_value, text, lang, *values):
        view_value = handlers.search_cases(view_value, text, CaseFilters.from_widgets(*values))
        # the filters read from the words show in the dropdowns
        widgets = dict(zip(filters, CaseFilters.coerce(view_value.get("filters")).widgets(h.ANY)))
        return {**draw_cases(view_value, lang), **widgets}

    def use_thread_image(view_value, lang, evt: gr.SelectData):
        images = view_value.get("images") or []
        if not 0 <= evt.index < len(images):
            return gr.update()
        return {"text": t("about_this_image", language_of(lang)), "files": [images[evt.index]]}

    def use_example(lang, evt: gr.SelectData):
        record = examples[evt.index]
        return {"text": t("example_question", language_of(lang)), "files": [str(record.image_path)]}

    def show_case(view_value, lang, evt: gr.SelectData):
        return draw_cases(handlers.show_case(evt.index, view_value), lang)

    def show_source(key, view_value, lang):
        view_value = handlers.show_source(key, view_value)
        return {ui.view: view_value, **draw_sources(view_value, lang)}

    def show_layer(view_value, layer, lang):
        view_value = handlers.show_layer(view_value, layer)
        return {ui.view: view_value, **dict(zip(assessment_out, h.assessment_panel(view_value, language_of(lang))))}

    def make_report(thread_id, lang):
        path, note = handlers.make_report(thread_id, language_of(lang))
        return {ui.report_file: gr.update(value=path, visible=path is not None), ui.report_note: note}

    def run_batch(files, lang, progress=gr.Progress()):
        lang = language_of(lang)
        status, rows, csv_path = handlers.run_batch(
            files, lang, on_image=lambda i, n, path: progress((i, n), desc=path.name))
        import pandas as pd

        table = pd.DataFrame(rows, columns=[t(key, lang) for key in h.BATCH_HEADERS])
        return {ui.batch_status: status, ui.batch_table: gr.update(value=table, visible=bool(rows)), ui.batch_csv: csv_path}

    def save_tab(event):
        return event.then(None, [ui.thread_box, ui.language], None, js=SAVE_JS)

    # turns and case queries share one limit: the models share the CPU cores (settings.serve_concurrency)
    models = {"concurrency_id": "models", "concurrency_limit": concurrency or get_settings().serve_concurrency}
    private = {"api_visibility": "private"}
    turn_out = list(dict.fromkeys([ui.chatbot, ui.message, ui.thread_box, ui.view, *panels_out]))
    turn_in = [ui.message, ui.chatbot, ui.thread_box, ui.language, ui.view, ui.p_age, ui.p_sex, ui.p_site, ui.p_history]
    save_tab(ui.message.submit(respond, turn_in, turn_out, api_name="chat", **models))
    save_tab(demo.load(restore, [ui.thread_box, ui.language], [ui.thread_box, ui.language, ui.view, *page_out], js=LOAD_JS,
                       **private))
    for trigger in (ui.new_button.click, ui.chatbot.clear):  # the chat's own clear button also starts afresh
        fresh_out = list(dict.fromkeys([ui.thread_box, ui.view, ui.search_text, ui.report_file, ui.report_note, *page_out]))
        save_tab(trigger(start_new, [ui.language], fresh_out, **private))
    save_tab(ui.language.input(switch_language, [ui.language, ui.view], page_out, **private))
    for widget in filters:
        widget.input(refilter, [ui.view, ui.language, *filters], [ui.view, *cases_out], **private, **models)
    search_inputs = [ui.view, ui.search_text, ui.language, *filters]
    ui.search_button.click(search, search_inputs, [ui.view, *cases_out, *filters], api_name="search_cases", **models)
    ui.search_text.submit(search, search_inputs, [ui.view, *cases_out, *filters], **private, **models)
    ui.example_gallery.select(use_example, [ui.language], [ui.message], **private)
    ui.thread_gallery.select(use_thread_image, [ui.view, ui.language], [ui.message], **private)
    ui.gallery.select(show_case, [ui.view, ui.language], [ui.view, *cases_out], **private)
    ui.source_pick.input(show_source, [ui.source_pick, ui.view, ui.language], [ui.view, *sources_out], **private)
    ui.cite_go.click(show_source, [ui.cite_box, ui.view, ui.language], [ui.view, *sources_out], **private)
    ui.layer_pick.input(show_layer, [ui.view, ui.layer_pick, ui.language], [ui.view, *assessment_out], **private, **models)
    ui.report_go.click(make_report, [ui.thread_box, ui.language], [ui.report_file, ui.report_note], **private, **models)
    ui.cmp_go.click(lambda a, b, lang: handlers.compare(a, b, language_of(lang)), [ui.cmp_before, ui.cmp_after, ui.language],
                    ui.cmp_result, **private, **models)
    ui.batch_go.click(run_batch, [ui.batch_files, ui.language], [ui.batch_status, ui.batch_table, ui.batch_csv], api_name="batch",
                      **models)


def _api_endpoints(handlers: h.AppHandlers) -> None:
    """Named endpoints for programmatic use (gradio_client): one consultation turn as JSON."""
    with gr.Group(visible=False):
        thread = gr.Textbox()
        question = gr.Textbox()
        image = gr.File(type="filepath")  # not gr.Image: our open_image explains a bad file, Gradio would just fail
        lang = gr.Textbox()  # "en", "zh", or empty: the question's language
        result = gr.JSON()
        go = gr.Button()

    def consult(thread_id: str, question_text: str, image_path: str | None, language: str | None) -> dict:
        """One turn of consultation ``thread_id`` (new when empty): the graph's TurnResult as JSON."""
        if language not in (None, "", "en", "zh"):
            raise gr.Error(f"language must be en, zh or empty (the question's), not {language!r}", print_exception=False)
        try:
            turn = handlers.consult.ask(thread_id or h.new_thread_id(), question_text or None, image=image_path,
                                        language=language or None)
        except ValueError as exc:  # bad image, thread id or question: the caller gets the reason, not "Error"
            log.info("consult API refused a request: %s", exc)  # the caller's mistake: one line, no traceback
            raise gr.Error(str(exc), print_exception=False) from None
        except ServiceUnavailable as exc:  # a server down: say which, and that the turn was not recorded
            log.warning("consult API: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None
        return turn.model_dump()

    go.click(consult, [thread, question, image, lang], result, api_name="consult",
             concurrency_id="models")


# --- serving -----------------------------------------------------------------------------------------


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:password`` (the flag or DERMAGRAPH_AUTH) -> Gradio's auth tuple; empty means no login."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("auth must be USER:PASSWORD (both non-empty), e.g. --auth clinician:s3cret")
    return user, password


def warm_up(consult: Consultation, records: list[Case]) -> None:
    """Run each model once at start-up, so lazy loads happen before the first request, not during it."""
    from knowledge.images import open_image

    r = consult.resources
    if not records:
        return
    img = open_image(records[0].image_path)
    r.classifier.classify(img)
    r.analyse_lesion(img)
    r.case_index.search(img, k=1)
    r.knowledge_index.search("melanoma dermoscopy", k=1)


def set_torch_threads(threads: int) -> None:
    """Intra-op threads of every model call (process-wide in torch): concurrent turns x threads ~ cores."""
    import torch

    torch.set_num_threads(max(1, threads))


def serve(host: str | None = None, port: int | None = None, classifier: str | None = None,
          classifier_options: dict[str, Any] | None = None, auth: str | None = None, share: bool = False,
          concurrency: int | None = None, settings: Settings | None = None, block: bool = True,
          on_ready: Callable[[str], None] | None = None, on_status: Callable[[str], None] | None = None) -> gr.Blocks:
    """Load the models, build the app and launch it; ``on_ready(url)`` once it listens; blocks unless ``block=False``.

    Before anyone connects, the retention policy is applied (``agents.retention``: ``on_status`` gets
    its summary). Turns run ``concurrency`` at a time (default ``settings.serve_concurrency``), each
    with ``settings.torch_threads`` threads; ``settings.queue_size`` more wait in the queue.
    """
    from agents.retention import clean_sessions

    settings = settings or get_settings()
    concurrency = concurrency or settings.serve_concurrency
    credentials = parse_auth(auth)
    # Gradio keeps raw uploads in its cache: under var/ (one place to guard and clean), emptied hourly and at start.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.upload_cache_dir))
    cleaned = clean_sessions(settings, raw_cache_age_s=0)  # nothing is in flight yet: Gradio's cache is emptied
    if on_status is not None:
        on_status(f"sessions: {cleaned.summary()}")
    consult = Consultation(classifier=classifier, settings=settings, **(classifier_options or {}))
    records = example_records()
    warm_up(consult, records)
    set_torch_threads(settings.torch_threads)  # after warm-up: loading the text encoder sets its own
    demo = build_app(consult, records, concurrency=concurrency)
    demo.queue(default_concurrency_limit=concurrency, max_size=settings.queue_size)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    settings.batch_dir.mkdir(parents=True, exist_ok=True)
    demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=credentials,
        share=share,
        max_file_size=settings.max_upload_bytes,
        allowed_paths=[str(settings.data_dir), str(settings.uploads_dir), str(settings.batch_dir)],
        footer_links=["api"],
        show_error=False,
        ssr_mode=False,
        prevent_thread_lock=True,
        quiet=True,  # Gradio's own banner would suggest launch(share=True); the CLI prints its own line
        theme=theme(),
        css=CSS,
        js=PAGE_JS,
    )
    if on_ready is not None:
        on_ready(demo.share_url or demo.local_url)
    if block:
        demo.block_thread()  # until Ctrl-C
    return demo

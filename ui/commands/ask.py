"""`dermagraph ask IMAGE [--question ...] [--thread ID] [--json]`: one turn of a consultation."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import ClassifierOption, JsonOption, classifier_spec, console, err_console, print_json, user_errors


def ask(
    image: Optional[Path] = typer.Argument(None, help="Dermoscopy image (omit for a follow-up on --thread)."),
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Your question (English or 中文)."),
    thread: Optional[str] = typer.Option(None, "--thread", "-t", help="Conversation id; reuse it for follow-ups."),
    language: Optional[str] = typer.Option(None, "--lang", help="Answer language: en or zh (default: the question's)."),
    classifier: Optional[str] = ClassifierOption,
    base: Optional[str] = typer.Option(None, "--base", help="Shorthand for --classifier qwen2vl:base=ID|DIR."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="Shorthand for --classifier qwen2vl:adapter=DIR."),
    composer: str = typer.Option("auto", "--composer", help="auto, template or llm (llm needs a generative backend)."),
    age: Optional[float] = typer.Option(None, "--age", help="Patient's age in years (optional; used by the triage rule)."),
    sex: Optional[str] = typer.Option(None, "--sex", help="male or female (optional)."),
    site: Optional[str] = typer.Option(None, "--site", help="Body site, e.g. back, face, lower extremity (optional)."),
    history: Optional[str] = typer.Option(None, "--history", help='What the lesion did, e.g. "grew, bled" or "变大，出血".'),
    as_json: bool = JsonOption,
) -> None:
    """Ask about a dermoscopy image, or follow up on a thread. Decision support, not a diagnosis."""
    from agents.session import Consultation

    if image is None and not question:
        raise typer.BadParameter("give an IMAGE, a --question, or both")
    if language not in (None, "en", "zh"):
        raise typer.BadParameter("--lang must be en or zh", param_hint="--lang")
    thread_id = thread or uuid.uuid4().hex[:12]
    spec = classifier_spec(classifier, base, adapter)
    with user_errors():
        from agents.session import check_thread_id
        from knowledge.images import open_image

        from knowledge.patient import patient_from_fields

        check_thread_id(thread_id)
        patient = patient_from_fields(age, sex, site, history)  # an impossible age or unknown site: a clear error
        if image is not None:
            open_image(image)  # a bad file or thread id fails in a second, not after the models load
        result = Consultation(classifier=spec, composer=composer).ask(thread_id, question, image=image, language=language,
                                                                    patient=None if patient.is_empty() else patient)
    if as_json:
        print_json(result.model_dump(exclude={"passages"}))
        return
    from agents.templates import T
    from knowledge.tokenize import to_traditional, writes_traditional

    lang = "zh" if result.language == "zh" else "en"
    script = to_traditional if lang == "zh" and writes_traditional(result.answer) else str  # the answer's own script
    console.print(result.answer, markup=False, highlight=False, soft_wrap=True)  # no breaks inside "11%" or Chinese lines
    if result.citations:
        console.print(f"\n[bold]{script(T['sources'][lang])}[/]")
        for c in result.citations:
            console.print(f"  [{c['id']}] {c['title']}", markup=False, highlight=False)
    hint = script(T["follow_up_hint"][lang]).format(thread=thread_id, command=f'dermagraph ask --thread {thread_id} -q "..."')
    err_console.print(f"\n[dim]{hint}[/]", markup=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)

"""`dermagraph report THREAD --out report.pdf`: a consultation as a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import console, user_errors


def report(
    thread: str = typer.Argument(..., help="Consultation id (the --thread of `dermagraph ask`, or the app's)."),
    out: Path = typer.Option(..., "--out", "-o", help="PDF to write."),
    language: Optional[str] = typer.Option(None, "--lang", help="en or zh (default: the language of the last answer)."),
) -> None:
    """Write a consultation as a PDF: images, outline and heat map, estimate, tier, features, answers and sources."""
    from agents.session import Consultation, check_thread_id
    from ui.report import write_report

    if language not in (None, "en", "zh"):
        raise typer.BadParameter("--lang must be en or zh", param_hint="--lang")
    if out.suffix.lower() != ".pdf":
        raise typer.BadParameter("--out must be a .pdf file", param_hint="--out")
    with user_errors():
        check_thread_id(thread)
        consult = Consultation()
        try:
            info = write_report(consult, thread, out, lang=language)  # type: ignore[arg-type]
        finally:
            consult.close()
    console.print(f"{info.path}: {info.pages} page(s), {info.turns} turn(s), {info.seconds:.1f} s", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)

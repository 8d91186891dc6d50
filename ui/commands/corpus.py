"""`dermagraph corpus check|review`: the knowledge corpus's review record (only reviewed documents are indexed)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ui.commands._common import console, err_console, user_errors

corpus_app = typer.Typer(help="Check and record reviews of the knowledge corpus (EN and ZH documents).", no_args_is_help=True)


@corpus_app.command("check")
def check() -> None:
    """List the documents the index build would refuse (not reviewed, or changed since their review); exit 1 if any."""
    from knowledge.corpus import load_bilingual_corpus
    from knowledge.corpus_review import review_file_for, verify_corpus

    with user_errors():
        docs = load_bilingual_corpus()  # format and EN/ZH twin checks first
        problems = verify_corpus()
    if problems:
        for p in problems:
            err_console.print(f"[red]refused:[/] {escape(p)}", highlight=False)
        raise typer.Exit(code=1)
    console.print(f"{len(docs['en'])} documents, each in English and Chinese, all reviewed as they are "
                  f"({review_file_for().name})")


@corpus_app.command("review")
def review(
    reviewer: str = typer.Option(..., "--reviewer", help="Who read the new or changed documents (recorded with the date)."),
    files: Optional[List[Path]] = typer.Argument(None, help="Only these documents (default: every new or changed one)."),
) -> None:
    """Record that a person has read the new or changed documents, so the index may use them."""
    from knowledge.corpus import load_bilingual_corpus
    from knowledge.corpus_review import record_review

    with user_errors():
        load_bilingual_corpus()
        changed = record_review(reviewer, paths=files or None)
    console.print(f"recorded {len(changed)} review(s)" + (": " + ", ".join(changed) if changed else " (nothing new or changed)"))


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")

"""`dermagraph kb search "question"`: search the dermatology knowledge corpus."""

from __future__ import annotations

from dataclasses import asdict
from typing import List, Optional

import typer
from rich.markup import escape

from ui.commands._common import JsonOption, console, print_json, user_errors

kb_app = typer.Typer(help="Search the dermatology knowledge corpus.", no_args_is_help=True)


@kb_app.command("search")
def search(
    question: str = typer.Argument(..., help="A question in English or Chinese, e.g. 'is this mole cancer'."),
    k: int = typer.Option(5, "--k", min=1, max=50, help="How many passages to return."),
    classes: Optional[List[str]] = typer.Option(None, "--class", help="Only documents about this class code (repeatable)."),
    topics: Optional[List[str]] = typer.Option(None, "--topic", help="Only documents on this topic (repeatable)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Passages in en or zh (default: the question's language)."),
    as_json: bool = JsonOption,
) -> None:
    """Hybrid (dense + BM25) search; prints the best passages with their sources."""
    from retrieval.knowledge_index import KnowledgeIndex

    with user_errors():
        hits = KnowledgeIndex.open().search(question, k=k, classes=classes, topics=topics, lang=lang)
    if as_json:
        print_json({"question": question, "passages": [asdict(h) for h in hits]})
        return
    if not hits:
        console.print("no passages match these filters")
        return
    for rank, hit in enumerate(hits, start=1):
        console.print(f"[bold]{rank}. {escape(hit.title)}[/] — {escape(hit.section)}  [dim]{hit.passage_id}  score {hit.score:.4f}[/]")
        console.print(escape(hit.text), highlight=False)
        if hit.references:
            console.print(f"[dim]source: {escape(hit.references[0])}[/]", highlight=False)
        console.print()


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")

"""`dermagraph search IMAGE | --text "..." [--k N] [--filter key=value] [--json]`: similar confirmed cases."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ui.commands._common import JsonOption, console, print_json, user_errors


def search(
    image: Optional[Path] = typer.Argument(None, help="Dermoscopy image file (or a HAM10000 image id such as ISIC_0024306)."),
    text: Optional[str] = typer.Option(None, "--text", help='Text query, e.g. "melanoma on the back of older men".'),
    k: int = typer.Option(10, "--k", min=1, max=200, help="How many cases to return."),
    filters: Optional[List[str]] = typer.Option(None, "--filter", help="key=value: dx, dx_type, sex, localization, age=LO-HI (repeatable)."),
    as_json: bool = JsonOption,
) -> None:
    """Find the most similar confirmed HAM10000 cases (train+val) to an image or a text."""
    from knowledge.taxonomy import display_name
    from knowledge.cases import CaseFilters
    from knowledge.settings import get_settings
    from retrieval.cases import find_similar_cases

    with user_errors():
        chosen = CaseFilters.from_pairs(filters or [])
        knowledge = None
        if text is not None and image is None:  # as the app's search box: words become filters, the corpus re-ranks
            from agents.intents import read_filters
            from retrieval.knowledge_index import KnowledgeIndex

            chosen = read_filters(text, []).merged(chosen)  # a --filter wins over the words
            knowledge = KnowledgeIndex.open()
        result = find_similar_cases(image=image, text=text, k=k, filters=chosen, knowledge_index=knowledge)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("#", "image", "diagnosis", "confirmed by", "age", "sex", "site", "similarity", title=f"Similar cases: {result.query}")
    for rank, c in enumerate(result.cases, 1):
        table.add_row(str(rank), c.image_id, display_name(c.dx), c.dx_type, "?" if c.age is None else f"{c.age:g}", c.sex,
                      c.localization, f"{c.similarity:.3f}")
    console.print(table)
    if result.excluded_lesion:
        console.print(f"(the query's own lesion {result.excluded_lesion} is left out)")
    vote = ", ".join(f"{code} {share:.0%}" for code, share in sorted(result.vote.items(), key=lambda kv: -kv[1]) if share)
    console.print(f"kNN vote of the top {get_settings().knn_k}: {vote or 'no cases'}")


def register(app: typer.Typer) -> None:
    app.command("search")(search)

"""`dermagraph compare BEFORE AFTER`: two images of one lesion, the change in features, estimate and tier."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from typing import Optional

import typer

from ui.commands._common import ClassifierOption, JsonOption, classifier_spec, console, print_json, user_errors


def compare(
    before: Path = typer.Argument(..., help="The earlier image."),
    after: Path = typer.Argument(..., help="The later image of the same lesion."),
    classifier: Optional[str] = ClassifierOption,
    language: str = typer.Option("en", "--lang", help="en or zh."),
    as_json: bool = JsonOption,
) -> None:
    """Compare two images of one lesion: each measured feature, the estimate and the tier. Not a diagnosis."""
    from agents.compare import compare_images
    from agents.resources import load_resources
    from knowledge.images import open_image
    from ui.panels import comparison_markdown

    if language not in ("en", "zh"):
        raise typer.BadParameter("--lang must be en or zh", param_hint="--lang")
    with user_errors():
        open_image(before), open_image(after)  # bad files fail before the models load
        result = compare_images(load_resources(classifier_spec(classifier)), before, after)
    if as_json:
        print_json(asdict(result))
        return
    console.print(comparison_markdown(result, language), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)

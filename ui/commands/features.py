"""`dermagraph features IMAGE`: outline the lesion, measure it, describe it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import JsonOption, console, path_or_none, print_json, user_errors


def features_command(
    image: Path = typer.Argument(..., help="Dermoscopy image (JPEG or PNG)."),
    as_json: bool = JsonOption,
    overlay_out: Optional[Path] = typer.Option(None, "--overlay", help="Write the image with the lesion outline here (PNG)."),
    lang: str = typer.Option("en", "--lang", help="Language of the description: en or zh."),
) -> None:
    """Segment the lesion and report measured asymmetry, border, colours and size, each traced to its numbers."""
    from models.features import analyse_lesion, overlay, summarise

    if lang not in ("en", "zh"):
        raise typer.BadParameter("use en or zh", param_hint="--lang")
    with user_errors():
        from knowledge.images import open_image

        img = open_image(image)
        analysis = analyse_lesion(img)
        written = None
        if overlay_out is not None and analysis.delineated:
            written = path_or_none(overlay_out)
            written.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            overlay(img, analysis.mask).save(written, format="PNG")  # type: ignore[arg-type]
    if as_json:
        payload = analysis.model_dump(mode="json", exclude={"mask"})
        payload.update(image=str(image), width=img.width, height=img.height, overlay=str(written) if written else None,
                       description=summarise(analysis.statements, lang) if analysis.delineated else None)  # type: ignore[arg-type]
        print_json(payload)
        return
    if not analysis.delineated:
        reason = analysis.reason_zh if lang == "zh" else analysis.reason
        console.print(f"[yellow]could not delineate the lesion:[/] {reason}", highlight=False)
        if overlay_out is not None:
            console.print("no overlay written: there is no outline to draw")
        return
    for statement in analysis.statements:
        text = statement.text_zh if lang == "zh" else statement.text_en
        console.print(f"- [bold]{statement.key}[/]: {text}", highlight=False)
    if written:
        console.print(f"outline drawn on {written}")


def register(app: typer.Typer) -> None:
    app.command("features")(features_command)

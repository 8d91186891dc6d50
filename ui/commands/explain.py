"""`dermagraph explain IMAGE --out map.png`: the heat map of where the classifier's score came from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import ClassifierOption, JsonOption, classifier_spec, console, err_console, print_json, user_errors


def explain(
    image: Path = typer.Argument(..., help="Dermoscopy image."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG to write: the image with the heat map laid over it."),
    code: Optional[str] = typer.Option(None, "--class", help="Class to explain (akiec, bcc, bkl, df, mel, nv, vasc); "
                                                             "default: the most likely one."),
    classifier: Optional[str] = ClassifierOption,
    language: str = typer.Option("en", "--lang", help="Language of the note: en or zh."),
    as_json: bool = JsonOption,
) -> None:
    """Write a heat map (LayerCAM) of where the classifier's score for a class came from. Not a diagnosis."""
    from agents.explain import NOTE, explain_image
    from agents.resources import load_resources
    from knowledge.images import open_image
    from knowledge.taxonomy import CODES, display_name

    if language not in ("en", "zh"):
        raise typer.BadParameter("--lang must be en or zh", param_hint="--lang")
    if code is not None and code not in CODES:
        raise typer.BadParameter(f"--class must be one of {', '.join(CODES)}", param_hint="--class")
    if out.suffix.lower() != ".png":
        raise typer.BadParameter("--out must be a .png file", param_hint="--out")
    with user_errors():
        img = open_image(image)  # a bad file fails before the models load
        resources = load_resources(classifier_spec(classifier))
        prediction = resources.classifier.classify(img)
        result = explain_image(resources, img, code, prediction=prediction)
        out.parent.mkdir(parents=True, exist_ok=True)
        result.overlay.save(out)
    payload = {"image": str(image), "out": str(out), "class": result.code, "name": display_name(result.code, language),
               "probability": prediction.probs[result.code], "peak": {"x": result.peak[0], "y": result.peak[1]},
               "width": img.width, "height": img.height, "note": NOTE[language]}
    if as_json:
        print_json(payload)
        return
    console.print(f"heat map of {payload['name']} ({payload['probability']:.0%}) written to {out}; peak at "
                  f"x={result.peak[0]}, y={result.peak[1]}", highlight=False)
    err_console.print(f"[dim]{NOTE[language]}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)

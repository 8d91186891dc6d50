"""`dermagraph batch FOLDER --out results.csv`: every image of a folder, one CSV row each (resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import ClassifierOption, classifier_spec, console, err_console, user_errors


def batch(
    folder: Path = typer.Argument(..., help="Folder of images (searched recursively: jpg, png, bmp, tif, webp)."),
    out: Path = typer.Option(..., "--out", "-o", help="CSV to write; an existing one is resumed (images already in it "
                                                      "with the same content are skipped)."),
    classifier: Optional[str] = ClassifierOption,
    age: Optional[float] = typer.Option(None, "--age", help="One patient's age for every image (optional)."),
    sex: Optional[str] = typer.Option(None, "--sex", help="male or female (optional)."),
    site: Optional[str] = typer.Option(None, "--site", help="Body site for every image (optional)."),
) -> None:
    """Assess a folder of dermoscopy images: intake verdict, probabilities, tier, abstention, features. Not a diagnosis."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from agents.batch import list_images, run_batch
    from knowledge.patient import patient_from_fields

    with user_errors():
        images = list_images(folder)  # a missing folder fails before the models load
        if not images:
            raise ValueError(f"no images in {folder} (looked for .jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp)")
        patient = patient_from_fields(age, sex, site, None)
        from agents.resources import load_resources

        err_console.print(f"[dim]{len(images)} image(s); loading models…[/]")
        resources = load_resources(classifier_spec(classifier))
        columns = (TextColumn("[cyan]batch"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"))
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("", total=len(images))
            summary = run_batch(folder, out, resources, None if patient.is_empty() else patient, images=images,
                                on_image=lambda i, n, path: progress.update(task, completed=i, description=path.name))
    console.print(summary.text(), highlight=False)
    console.print(f"results: {summary.out} (what the columns mean: {summary.out.name}.README.txt)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)

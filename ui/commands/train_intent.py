"""`dermagraph train intent`: the follow-up intent model (seconds on a CPU) from the labelled EN/ZH questions."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ui.commands._common import console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("intent")
def train_intent_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/intent)."),
    data: Optional[List[Path]] = typer.Option(None, "--data", help="Labelled question files (YAML; default: the shipped "
                                              "training sets; the held-out set is never used)."),
) -> None:
    """Train the intent model; cross-validated accuracy and the chosen settings go into its manifest."""
    from training.intent import train_intent

    with user_errors():
        manifest = train_intent(train_files=data or None, artifact_dir=path_or_none(out), log=console.print)
    console.print(f"CV accuracy {manifest.metrics['cv']['best']['cv_accuracy']:.3f} on {manifest.metrics['n_train']} questions")


def register(app: typer.Typer) -> None:
    pass

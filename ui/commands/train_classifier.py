"""`dermagraph train classifier`: fit the ensemble head (member weights, metadata, calibration) on val."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import SplitFileOption, console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("classifier")
def train_classifier_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/classifier)."),
    artifacts: Optional[Path] = typer.Option(None, "--artifacts", help="Folder holding the member encoders "
                                             "(encoder/, encoder_lesion/; default: artifacts/)."),
    split_file: Optional[Path] = SplitFileOption,
) -> None:
    """Fit how the whole-image and lesion-view encoders and patient metadata combine (val only; minutes)."""
    from training.encoder.ensemble import train_classifier

    with user_errors():
        train_classifier(artifacts_dir=path_or_none(artifacts), out=path_or_none(out), split_file=path_or_none(split_file),
                         log=console.print)


def register(app: typer.Typer) -> None:
    pass

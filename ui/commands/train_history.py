"""`dermagraph train history`: the learned lesion-history reader (a minute or two on a CPU) from labelled EN/ZH messages."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ui.commands._common import console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("history")
def train_history_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/history)."),
    data: Optional[List[Path]] = typer.Option(None, "--data", help="Labelled message files (YAML items: text, lang, signs; "
                                              "default: the shipped training sets; the held-out set is never used)."),
) -> None:
    """Train the history reader; cross-validated figures and each sign's threshold go into its manifest."""
    from training.history import train_history

    with user_errors():
        manifest = train_history(train_files=data or None, artifact_dir=path_or_none(out), log=console.print)
    console.print(f"CV mean average precision {manifest.metrics['cv']['best']['cv_mean_average_precision']:.3f} "
                  f"on {manifest.metrics['n_train']} messages")


def register(app: typer.Typer) -> None:
    pass

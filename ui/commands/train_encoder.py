"""`dermagraph train encoder`: train the dermoscopy dual encoder and write artifacts/encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import SplitFileOption, console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("encoder")
def train_encoder_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/encoder)."),
    tower: Optional[str] = typer.Option(None, "--tower", help="Image tower (default: the shipped config's)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs (default: the shipped config's)."),
    split_file: Optional[Path] = SplitFileOption,
    restart: bool = typer.Option(False, "--restart", help="Ignore a checkpoint of this config and start over."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="full (whole network, ~2 h on 2 cores), lesion (the "
                                         "ensemble's lesion-view member), lite2_robust (its Lite2 member), fast "
                                         "(cached trunk, top blocks only, ~20 min), or an experimental recipe of "
                                         "docs/encoder.md (full_robust, lesion_lite2, lite2, lite2_partial, lite2_robust_bn); "
                                         "default: the shipped artifact's."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N (the full recipe)."),
    text_steps: Optional[int] = typer.Option(None, "--text-steps", help="CLIP steps of the text side (default: the "
                                             "recipe's; 0 skips it, e.g. for a quick check)."),
) -> None:
    """Train the image-text encoder (resumable; progress bars); writes weights, case embeddings, manifest."""
    from training.encoder.train import train_default_encoder

    with user_errors():
        result = train_default_encoder(artifact_dir=path_or_none(out), tower=tower, epochs=epochs,
                                       split_file=path_or_none(split_file), restart=restart, log=console.print,
                                       recipe=recipe, device=device, text_steps=text_steps)
    val = result.metrics["val"]
    console.print(f"wrote {result.artifact_dir} in {result.seconds / 60:.1f} min: val balanced accuracy "
                  f"{val['balanced_accuracy']:.3f}, accuracy {val['accuracy']:.3f}, P@10 {val.get('p_at_10', float('nan')):.3f}")


def register(app: typer.Typer) -> None:  # the command is attached to the `train` group above
    pass

"""`dermagraph train segmenter`: train the lesion segmentation model and write artifacts/segmenter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import SplitFileOption, console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("segmenter")
def train_segmenter_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/segmenter)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs (default: the shipped recipe's)."),
    split_file: Optional[Path] = SplitFileOption,
    threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads (default: free cores, at least 1)."),
    restart: bool = typer.Option(False, "--restart", help="Ignore a checkpoint of this config and start over."),
) -> None:
    """Train the U-Net lesion segmenter on the train split (resumable; progress bars); val picks epoch and threshold."""
    from knowledge.ham10000 import load_dataset
    from knowledge.splits import load_split
    from training.segmenter.config import SegmenterTrainConfig
    from training.segmenter.train import train_segmenter

    with user_errors():
        cfg = SegmenterTrainConfig()
        if epochs is not None:
            if epochs < 1:
                raise ValueError("--epochs must be at least 1")
            cfg = replace(cfg, epochs=epochs)
        dataset = load_dataset()
        assignment = load_split(path_or_none(split_file), dataset)
        result = train_segmenter(cfg, artifact_dir=path_or_none(out), dataset=dataset, assignment=assignment,
                                 threads=threads, restart=restart, log=console.print)
    m = result.metrics
    console.print(f"wrote {result.artifact_dir}: val Dice {m['val_dice']:.4f}, Jaccard {m['val_jaccard']:.4f} "
                  f"(threshold {m['threshold']}), {m['train_minutes']:.1f} min of training")


def register(app: typer.Typer) -> None:  # the command is attached to the `train` group above
    pass

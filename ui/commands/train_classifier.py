"""`dermagraph train classifier`: fit the ensemble head (member weights, metadata, calibration) on val."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from knowledge.input_range import DEFAULT_INPUT_RANGE
from ui.commands._common import SplitFileOption, console, path_or_none, user_errors
from ui.commands.train import train_app


@train_app.command("classifier")
def train_classifier_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Artifact folder (default: artifacts/classifier)."),
    artifacts: Optional[Path] = typer.Option(None, "--artifacts", help="Folder holding the member encoders "
                                             "(encoder/, encoder_lesion/, encoder_lite2/; default: artifacts/)."),
    split_file: Optional[Path] = SplitFileOption,
    members: Optional[str] = typer.Option(None, "--members", help="Comma-separated member encoder artifacts under "
                                          "--artifacts, the whole-image one first (default: encoder,encoder_lesion,encoder_lite2)."),
    stacked: bool = typer.Option(False, "--stacked", help="Also fit the stacked head (a logistic regression over the "
                                 "members' log-softmax) and let it make the probabilities. Off by default: on val it "
                                 "gained on clean images but lost under corruptions (docs/encoder.md)."),
    exposure_floor: bool = typer.Option(
        "exposure_floor" in DEFAULT_INPUT_RANGE, "--exposure-floor/--no-exposure-floor",
        help="Lift photos darker or flatter than the training split's 5th percentile to it before the members see them "
             "(on by default: steadier under under-exposure and low contrast, clean images unchanged; docs/encoder.md)."),
    deblock: bool = typer.Option(
        "deblocker" in DEFAULT_INPUT_RANGE, "--deblock/--no-deblock",
        help="Smooth photos whose JPEG block grid is stronger than the training split's 95th percentile before the "
             "members see them (on by default: steadier under heavy JPEG compression; docs/encoder.md)."),
    denoise: bool = typer.Option(
        "denoiser" in DEFAULT_INPUT_RANGE, "--denoise/--no-denoise",
        help="Wiener-filter photos noisier than every training photo (noise level above 0.05 at least) before the "
             "members see them (on by default: steadier under sensor noise; docs/encoder.md)."),
    sharpen: bool = typer.Option(
        "sharpener" in DEFAULT_INPUT_RANGE, "--sharpen/--no-sharpen",
        help="Unsharp-mask photos less sharp than every training photo before the members see them, harder the "
             "blurrier they are (docs/encoder.md)."),
    hair: bool = typer.Option(
        "hair" in DEFAULT_INPUT_RANGE, "--hair-removal/--no-hair-removal",
        help="Fill the hair strands of photos hairier than 90% of the training split before the members see them. Off "
             "by default: on val it lowered NLL under synthetic hair but not the named class's accuracy (docs/encoder.md)."),
) -> None:
    """Fit how the member encoders and patient metadata combine (val only; minutes)."""
    from models.encoder.ensemble import DEFAULT_MEMBERS
    from training.encoder.ensemble import train_classifier

    names = tuple(m.strip() for m in members.split(",") if m.strip()) if members else DEFAULT_MEMBERS
    with user_errors():
        train_classifier(artifacts_dir=path_or_none(artifacts), out=path_or_none(out), split_file=path_or_none(split_file),
                         log=console.print, members=names, stacked=stacked,
                         input_checks=[key for key, on in (("exposure_floor", exposure_floor), ("deblocker", deblock),
                                                           ("denoiser", denoise), ("sharpener", sharpen),
                                                           ("hair", hair)) if on])


def register(app: typer.Typer) -> None:
    pass

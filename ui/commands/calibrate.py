"""`dermagraph calibrate <backend>`: the group; each backend's module adds its command to ``calibrate_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

calibrate_app = typer.Typer(help="Fit a classifier backend's temperature and triage cut-offs on the val split.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(calibrate_app, name="calibrate")


@calibrate_app.command("encoder")
def calibrate_encoder_command(
    out: Optional[Path] = typer.Option(None, "--artifact", help="Encoder artifact folder (default: artifacts/encoder)."),
    split_file: Optional[Path] = typer.Option(None, "--split-file", help="CSV image_id,split (default: the shipped split)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Choose the triage cut-offs (melanoma, malignant) on val and store them in the encoder's manifest."""
    from ui.commands._common import console, path_or_none, print_json, user_errors

    from models.classifiers.encoder import calibrate_encoder_triage

    with user_errors():
        result = calibrate_encoder_triage(path_or_none(out), path_or_none(split_file), progress=not as_json)
    if as_json:
        print_json(result)
        return
    console.print(f"triage cut-offs at val sensitivity {result['target_sensitivity']:.3f} (floor {result['floor_sensitivity']:.2f}, "
                  f"naevus-referral budget {result.get('nv_referral_budget', float('nan')):.0%}): melanoma "
                  f"{result['mel_threshold']:.4f} (val melanoma sensitivity {result['val_mel_sensitivity']:.3f}), malignant "
                  f"{result['malignant_threshold']:.4f} (val sensitivity {result['val_malignant_sensitivity']:.3f}); "
                  f"val naevi referred {result['val_nv_referral_rate']:.1%}")

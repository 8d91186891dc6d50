"""`dermagraph calibrate <backend>`: the group; each backend's module adds its command to ``calibrate_app``."""

from __future__ import annotations

import typer

calibrate_app = typer.Typer(help="Fit a classifier backend's temperature on the val split.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(calibrate_app, name="calibrate")

"""`dermagraph export <format>`: the group; each exporter's module adds its command to ``export_app``."""

from __future__ import annotations

import typer

export_app = typer.Typer(help="Export training data for external trainers (LLaMA-Factory).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")

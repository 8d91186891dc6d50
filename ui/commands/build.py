"""`dermagraph build`: build every missing or stale artifact the app needs."""

from __future__ import annotations

from typing import List, Optional

import typer

from ui.commands._common import console, user_errors


def build(
    force: bool = typer.Option(False, "--force", help="Rebuild even when up to date."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Build only these steps."),
) -> None:
    """Check each artifact (split, encoder, indexes, ...) and build what is missing or stale."""
    from ui.build import build_all

    with user_errors():
        build_all(force=force, only=only, console=console)


def register(app: typer.Typer) -> None:
    app.command("build")(build)

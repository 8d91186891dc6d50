"""`dermagraph index build`: build the search indexes (similar cases, knowledge text)."""

from __future__ import annotations

from typing import List, Optional

import typer

from ui.commands._common import console, user_errors

index_app = typer.Typer(help="Build the search indexes.", no_args_is_help=True)


@index_app.command("build")
def build_indexes(
    force: bool = typer.Option(False, "--force", help="Rebuild even when up to date."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Only these indexes."),
) -> None:
    """Build every index that is missing or stale (idempotent)."""
    from ui.build import STEPS, build_all

    names = [s.name for s in STEPS if s.index and (not only or s.name in only)]
    if not names:
        console.print("no index build steps registered" + (f" matching {only}" if only else ""))
        raise typer.Exit(code=2)
    with user_errors():
        build_all(force=force, only=names, console=console)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")

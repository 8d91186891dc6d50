"""`dermagraph sessions clean`: delete idle consultations and their uploaded images (the retention policy)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

import typer

from ui.commands._common import JsonOption, console, print_json, user_errors

sessions_app = typer.Typer(help="Stored consultations (SQLite checkpoints) and their uploaded images.", no_args_is_help=True)


@sessions_app.command("clean")
def clean(
    older_than: Optional[float] = typer.Option(None, "--older-than", min=0,
                                               help="Delete consultations idle this many days (default 30; env DERMAGRAPH_RETENTION_DAYS)."),
    keep: Optional[int] = typer.Option(None, "--keep", min=1,
                                       help="Images kept per consultation, newest first (default 20; env DERMAGRAPH_MAX_UPLOADS_PER_THREAD)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    as_json: bool = JsonOption,
) -> None:
    """Apply the retention policy now (the server also applies it at start-up)."""
    from agents.retention import clean_sessions

    with user_errors():
        report = clean_sessions(retention_days=older_than, keep_per_thread=keep, dry_run=dry_run)
    if as_json:
        print_json({**asdict(report), "summary": report.summary()})
        return
    console.print(report.summary(), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")

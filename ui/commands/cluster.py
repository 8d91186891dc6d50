"""`dermagraph cluster` (``make serve-cluster``): a Chroma server, a Postgres server and N app replicas on one machine.

Everything listens on 127.0.0.1 and lives under ``--dir`` (default var/cluster): the Chroma store, a
throw-away Postgres cluster (Debian's initdb/pg_ctl), the uploads folder every replica shares, and one
var folder per replica (its Gradio cache and log). The indexes are built into the Chroma server first
when missing or stale. A consultation started on one replica goes on on any other (same thread id).
docs/deploy.md says how to run the same with managed services behind a load balancer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import err_console, user_errors


def cluster(
    replicas: int = typer.Option(2, "--replicas", min=1, max=8, help="App processes to start."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port of the first replica; the others follow it."),
    folder: Optional[Path] = typer.Option(None, "--dir", help="Where the servers keep their data (default var/cluster)."),
    chroma_port: int = typer.Option(0, "--chroma-port", min=0, max=65535, help="Chroma server port (0: a free one)."),
    postgres_port: int = typer.Option(0, "--postgres-port", min=0, max=65535, help="Postgres port (0: a free one)."),
) -> None:
    """Start Chroma, Postgres and N replicas of the app on this machine (Ctrl-C stops them all)."""
    from evals.servers import LocalCluster, ServerError
    from knowledge.settings import get_settings

    root = (folder or get_settings().var_dir / "cluster").resolve()
    root.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(root, replicas, port=port, chroma_port=chroma_port or None,
                           postgres_port=postgres_port or None, postgres_root=root / "postgres")
    with user_errors():
        try:
            cluster.start(on_status=lambda line: err_console.print(line, highlight=False), quiet=False)
            err_console.print(f"{replicas} replica(s) share one Chroma and one Postgres; Ctrl-C stops everything")
            while cluster.alive():
                time.sleep(1)
            err_console.print("[red]a server stopped; stopping the others[/]")
        except KeyboardInterrupt:
            err_console.print("stopping…")
        except ServerError as exc:
            raise ValueError(str(exc)) from None
        finally:
            cluster.stop()  # the Postgres cluster under --dir is kept for the next start


def register(app: typer.Typer) -> None:
    app.command("cluster")(cluster)

"""`dermagraph cluster` (``make serve-cluster``): a Chroma server, a Postgres server and N app replicas on one machine.

Everything listens on 127.0.0.1 and lives under ``--dir`` (default var/cluster): the Chroma store, a
throw-away Postgres cluster (Debian's initdb/pg_ctl), the uploads folder every replica shares, and one
var folder per replica (its Gradio cache and log). The indexes are built into the Chroma server first
when missing or stale. A consultation started on one replica goes on on any other (same thread id).
docs/deploy.md says how to run the same with managed services behind a load balancer.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    from evals.live_server import AppServer
    from evals.servers import ChromaServer, PostgresServer, ServerError
    from knowledge.settings import get_settings

    root = (folder or get_settings().var_dir / "cluster").resolve()
    root.mkdir(parents=True, exist_ok=True)
    started: list = []
    with user_errors():
        try:
            chroma = ChromaServer(root / "chroma", port=chroma_port or None).start()
            started.append(chroma)
            err_console.print(f"chroma   {chroma.url}  (store {chroma.path}, log {chroma.log_path})", highlight=False)
            postgres = PostgresServer(root / "postgres", port=postgres_port or None).start()
            started.append(postgres)
            err_console.print(f"postgres {postgres.url}  (cluster {postgres.data}, log {postgres.log_path})", highlight=False)
            env = {"DERMAGRAPH_CHROMA_URL": chroma.url, "DERMAGRAPH_SESSIONS_URL": postgres.url,
                   "DERMAGRAPH_UPLOADS": str(root / "uploads")}
            err_console.print("[dim]building the indexes into the Chroma server where missing or stale…[/]")
            build = subprocess.run([str(Path(sys.executable).with_name("dermagraph")), "index", "build"],
                                   env={**os.environ, **env})
            if build.returncode:
                raise ServerError(f"`dermagraph index build` against {chroma.url} failed (exit {build.returncode})")
            for i in range(replicas):
                var = root / f"replica-{i + 1}"
                var.mkdir(exist_ok=True)
                err_console.print(f"[dim]starting replica {i + 1} on port {port + i} (models load once)…[/]")
                app = AppServer(var, port=port + i, env=env).start()
                started.append(app)
                err_console.print(f"replica {i + 1}: [bold]{app.url}[/]  (log {app.log_path})", highlight=False)
            err_console.print(f"{replicas} replica(s) share one Chroma and one Postgres; Ctrl-C stops everything")
            while all(s.proc is None or s.proc.poll() is None for s in started if hasattr(s, "proc")):
                time.sleep(1)
            err_console.print("[red]a server stopped; stopping the others[/]")
        except KeyboardInterrupt:
            err_console.print("stopping…")
        except ServerError as exc:
            raise ValueError(str(exc)) from None
        finally:
            for server in reversed(started):
                server.stop()


def register(app: typer.Typer) -> None:
    app.command("cluster")(cluster)

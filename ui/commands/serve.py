"""`dermagraph serve`: the Gradio app on 127.0.0.1:7860 (models loaded once, before the first request)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ui.commands._common import ClassifierOption, classifier_spec, err_console, use_servers, user_errors


def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1, this machine only; env DERMAGRAPH_HOST)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default 7860; env DERMAGRAPH_PORT)."),
    classifier: Optional[str] = ClassifierOption,
    base: Optional[str] = typer.Option(None, "--base", help="Shorthand for --classifier qwen2vl:base=ID|DIR."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="Shorthand for --classifier qwen2vl:adapter=DIR."),
    auth: Optional[str] = typer.Option(None, "--auth", envvar="DERMAGRAPH_AUTH", show_envvar=True,
                                       help="Require a login: USER:PASSWORD."),
    share: bool = typer.Option(False, "--share", help="Also open a public Gradio share link (off by default; needs internet)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, max=16,
                                              help="Turns and case searches run at once (default 2: they share the CPU; env DERMAGRAPH_CONCURRENCY)."),
    chroma_url: Optional[str] = typer.Option(None, "--chroma-url", help="Read the case and knowledge indexes from a Chroma "
                                             "server, http://HOST:PORT (default: embedded under var/index; env DERMAGRAPH_CHROMA_URL)."),
    sessions_url: Optional[str] = typer.Option(None, "--sessions-url", help="Keep consultations in Postgres, postgresql://... "
                                               "(default: SQLite at var/sessions.sqlite; env DERMAGRAPH_SESSIONS_URL)."),
    uploads_dir: Optional[Path] = typer.Option(None, "--uploads-dir", help="Folder for uploaded images, shared by every "
                                               "replica (default var/uploads; env DERMAGRAPH_UPLOADS)."),
) -> None:
    """Serve the app: multimodal chat, probabilities, measured features, similar cases. Not a diagnosis."""
    from ui.app import parse_auth, serve as serve_app

    spec = classifier_spec(classifier, base, adapter)
    use_servers(chroma_url, sessions_url, uploads_dir)
    with user_errors():
        parse_auth(auth)  # a malformed --auth fails before minutes of model loading
        err_console.print("[dim]loading models (once, before the first request)…[/]")
        serve_app(host=host, port=port, classifier=spec, auth=auth, share=share,
                  on_ready=lambda url: err_console.print(f"dermagraph is serving on [bold]{url}[/] (Ctrl-C to stop)"),
                  on_status=lambda line: err_console.print(f"[dim]{line}[/]", highlight=False),
                  **({"concurrency": concurrency} if concurrency else {}))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

"""Options and error handling shared by every CLI command."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

DataDirOption = typer.Option(
    None, "--data-dir", envvar="DERMAGRAPH_DATA", help="HAM10000 folder (compact copy or official layout)."
)
SplitFileOption = typer.Option(
    None, "--split-file", envvar="DERMAGRAPH_SPLIT_FILE", help="CSV with columns image_id,split to use instead of the shipped split."
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")
# One spelling of "which classifier" for ask, serve, eval, compare, batch and explain (models/classifiers/_variant.py).
ClassifierOption = typer.Option(
    None, "--classifier", "--variant",
    help="Classifier BACKEND[:KEY=VALUE,...]: ensemble (default: two whole-image encoders and a lesion-view one), encoder, "
         "qwen2vl:base=ID|DIR,adapter=DIR; options abstain=P, tta=on|off (encoder), metadata=on|off (ensemble).")


def path_or_none(value: Optional[Path]) -> Optional[Path]:
    return Path(value).expanduser() if value is not None else None


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's expected errors into one red line and exit code 2, never a traceback."""
    from agents.session_store import ServiceUnavailable, SessionStoreError
    from knowledge.artifacts import ArtifactError
    from knowledge.ham10000 import DataError
    from knowledge.images import ImageError
    from knowledge.splits import SplitError

    try:
        yield
    except (DataError, ImageError, SplitError, ArtifactError, SessionStoreError, ServiceUnavailable, FileNotFoundError,
            KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def use_servers(chroma_url: str | None = None, sessions_url: str | None = None, uploads_dir: Path | None = None) -> None:
    """Command-line flags for the deployment settings: they act as the environment variables would."""
    import os

    from knowledge.settings import get_settings

    for name, value in (("DERMAGRAPH_CHROMA_URL", chroma_url), ("DERMAGRAPH_SESSIONS_URL", sessions_url),
                        ("DERMAGRAPH_UPLOADS", uploads_dir)):
        if value:
            os.environ[name] = str(value)
    get_settings.cache_clear()


def classifier_spec(classifier: Optional[str], base: Optional[str] = None, adapter: Optional[Path] = None) -> str:
    """The --classifier spelling with the --base/--adapter shorthand folded in, checked before anything loads."""
    from models.classifiers import DEFAULT_BACKEND, parse_variant

    spec = (classifier or DEFAULT_BACKEND).strip()
    extra = [f"{key}={value}" for key, value in (("base", base), ("adapter", adapter)) if value is not None]
    if extra:
        spec = f"{spec}{',' if ':' in spec else ':'}{','.join(extra)}"
    try:
        parse_variant(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--classifier") from None
    return spec

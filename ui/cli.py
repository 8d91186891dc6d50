"""The `dermagraph` command line: thin wrappers, one library call per command.

Each module in ``ui/commands/`` defines ``register(app)``; they are discovered here, so adding a
command never touches this file. Heavy libraries are imported inside commands, which keeps
``dermagraph --help`` fast.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

import typer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars on every start
# OpenMP threads that spin while waiting starve everything else when cores are shared (a server with
# concurrent requests, or a busy machine): measured 3-20x slower small-model forwards; passive waits cost ~nothing.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(
    name="dermagraph",
    help="Decision support for dermoscopy images (research and teaching; never a diagnosis).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    import ui.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ui.commands.{info.name}")
        module.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

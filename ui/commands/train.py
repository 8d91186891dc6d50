"""`dermagraph train <model>`: the group; each model's module adds its own command to ``train_app``.

Usage from another command module::

    from ui.commands.train import train_app

    @train_app.command("encoder")
    def train_encoder(...): ...
"""

from __future__ import annotations

import typer

train_app = typer.Typer(help="Train models (encoder, classifier, intent, segmenter, qwen2vl).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")

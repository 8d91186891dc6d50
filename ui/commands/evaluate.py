"""`dermagraph eval` and `dermagraph bench`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ui.commands._common import ClassifierOption, SplitFileOption, console, err_console, path_or_none, user_errors


def eval_command(
    suite: List[str] = typer.Option(["all"], "--suite", help="Suite name(s), or 'all'."),
    out: Path = typer.Option(Path("reports/eval"), "--out", help="Folder for JSON, markdown and plots."),
    split: str = typer.Option("test", "--split", help="HAM10000 split to evaluate on."),
    split_file: Optional[Path] = SplitFileOption,
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV (image_id or path, dx) of an external labelled set."),
    images_dir: Optional[Path] = typer.Option(None, "--images-dir", help="Folder of the external images."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Evaluate a stratified sample of about N items."),
    compare: Optional[List[str]] = typer.Option(
        None, "--compare", help="Two variants side by side: --compare encoder --compare encoder:tta=on (see --variant)."),
    variant: Optional[str] = ClassifierOption,
) -> None:
    """Run eval suites and write reports (JSON + markdown + PNG plots)."""
    from evals.harness import EvalContext, SuitesFailed, run_suites

    if compare and len(compare) != 2:
        raise typer.BadParameter("--compare takes exactly two variants", param_hint="--compare")
    with user_errors():
        ctx = EvalContext(out_dir=out, split=split, split_file=path_or_none(split_file), labels_csv=path_or_none(labels),
                          images_dir=path_or_none(images_dir), sample=sample, variant=variant)
        try:
            index = run_suites(suite, ctx, tuple(compare) if compare else None,
                               progress=lambda m: console.print(f"[cyan]▶[/] {m}"))
        except SuitesFailed as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
    console.print(f"reports written to {out} ({index['wall_time_s']:.1f} s)")


def bench_command(
    out: Path = typer.Option(Path("reports/bench"), "--out", help="Folder for the result files."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Run only these benchmarks."),
    quick: bool = typer.Option(False, "--quick", help="Fewer repetitions."),
) -> None:
    """Run the speed and memory benchmarks; results go to files."""
    from evals.bench import run_benchmarks

    with user_errors():
        results = run_benchmarks(out, only, quick, progress=lambda m: console.print(f"[cyan]▶[/] {m}"))
    for name, res in results.items():
        console.print(f"{name}: {res.get('summary', '')}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("bench")(bench_command)

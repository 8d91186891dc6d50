"""`dermagraph data check|split`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ui.commands._common import DataDirOption, JsonOption, SplitFileOption, console, path_or_none, print_json, user_errors

data_app = typer.Typer(help="Inspect the HAM10000 data and rebuild the lesion-disjoint split.", no_args_is_help=True)


@data_app.command("check")
def check(
    data_dir: Optional[Path] = DataDirOption,
    split_file: Optional[Path] = SplitFileOption,
    as_json: bool = JsonOption,
    no_decode: bool = typer.Option(False, "--no-decode", help="Skip decoding every image (faster)."),
) -> None:
    """Count images, lesions, classes and splits; list every problem found."""
    from knowledge.data_check import check_dataset
    from knowledge.taxonomy import CODES

    with user_errors():
        report = check_dataset(path_or_none(data_dir), path_or_none(split_file), decode=not no_decode, progress=not as_json)
    if as_json:
        print_json({**asdict(report), "ok": report.ok})
    else:
        console.print(f"[bold]{report.root}[/] ({report.layout} layout)")
        console.print(f"images {report.images:,}  lesions {report.lesions:,}  masks {report.masks:,}")
        table = Table("split", "images", *CODES)
        table.add_row("all", f"{report.images:,}", *(f"{report.class_counts[c]:,}" for c in CODES))
        for name, counts in report.split_counts.items():
            table.add_row(name, f"{counts['images']:,}", *(f"{counts[c]:,}" for c in CODES))
        console.print(table)
        if report.problems:
            console.print(f"[bold red]{len(report.problems)} problem(s):[/]")
            for p in report.problems:
                console.print(f"  - {p}", highlight=False, markup=False)
        else:
            console.print("[green]no problems found[/]")
    if not report.ok:
        raise typer.Exit(code=1)


@data_app.command("split")
def split(
    data_dir: Optional[Path] = DataDirOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the CSV (default: the shipped split file)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the group order."),
) -> None:
    """Rebuild the lesion-disjoint train/val/test split (deterministic)."""
    from knowledge.settings import get_settings
    from knowledge.splits import SPLITS, leaks, make_split, write_split
    from knowledge.ham10000 import load_dataset

    settings = get_settings()
    with user_errors():
        dataset = load_dataset(path_or_none(data_dir))
        assignment = make_split(dataset, seed=seed if seed is not None else settings.split_seed, fractions=settings.split_fractions)
        assert not leaks(dataset, assignment)
        path = write_split(assignment, out or settings.split_file)
    counts = {s: sum(v == s for v in assignment.values()) for s in SPLITS}
    console.print(f"wrote {path}: " + ", ".join(f"{s} {n:,}" for s, n in counts.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")

"""The eval harness: named suites, one context, JSON + markdown + PNG plots per suite.

A suite is a function ``(ctx: EvalContext) -> SuiteResult`` registered with ``@suite("name")``
in a module of ``evals/suites/``. ``run_suites`` loads them, runs the ones asked for (``all`` runs
every registered suite), and writes ``DIR/<suite>.json``, ``DIR/<suite>.md`` and the suite's
plots; ``all`` adds ``DIR/index.md`` with wall times. ``--compare A B`` runs each suite once per
variant (a classifier backend or config name the suite understands) and writes a side-by-side
table.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import pkgutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from knowledge.artifacts import atomic_write_text
from knowledge.ham10000 import DataError, HamDataset, load_dataset
from knowledge.settings import Settings, get_settings
from knowledge.splits import SPLITS, load_split
from knowledge.taxonomy import CODES


@dataclass(frozen=True)
class EvalItem:
    """One labelled image: a HAM10000 record or a row of an external labels CSV."""

    image_id: str
    dx: str
    image_path: Path
    lesion_id: str | None = None
    dx_type: str | None = None
    age: float | None = None
    sex: str | None = None
    localization: str | None = None
    mask_path: Path | None = None


@dataclass
class EvalContext:
    out_dir: Path
    settings: Settings = field(default_factory=get_settings)
    split: str = "test"
    split_file: Path | None = None
    labels_csv: Path | None = None
    images_dir: Path | None = None
    sample: int | None = None  # evaluate a stratified sample of this many items (CI's fast subset)
    variant: str | None = None  # e.g. a classifier backend name under --compare
    seed: int = 0
    _dataset: HamDataset | None = field(default=None, repr=False)
    _assignment: dict[str, str] | None = field(default=None, repr=False)

    @property
    def dataset(self) -> HamDataset:
        if self._dataset is None:
            self._dataset = load_dataset(self.settings.data_dir)
        return self._dataset

    @property
    def assignment(self) -> dict[str, str]:
        if self._assignment is None:
            self._assignment = load_split(self.split_file, self.dataset)
        return self._assignment

    @property
    def external(self) -> bool:
        return self.labels_csv is not None

    def items(self, split: str | None = None) -> list[EvalItem]:
        """The items to evaluate: the split asked for, or the external labelled folder."""
        if self.external:
            items = read_labels(self.labels_csv, self.images_dir)  # type: ignore[arg-type]
        else:
            name = split or self.split
            if name not in SPLITS:
                raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
            items = [
                EvalItem(r.image_id, r.dx, r.image_path, r.lesion_id, r.dx_type, r.age, r.sex, r.localization, r.mask_path)
                for r in self.dataset
                if self.assignment.get(r.image_id) == name
            ]
        return stratified_sample(items, self.sample, self.seed) if self.sample else items

    def plot_path(self, suite_name: str, name: str) -> Path:
        tag = f".{self.variant}" if self.variant else ""
        path = self.out_dir / f"{suite_name}{tag}.{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class SuiteResult:
    metrics: dict[str, Any]
    markdown: str
    plots: list[Path] = field(default_factory=list)


SuiteFn = Callable[[EvalContext], SuiteResult]
_SUITES: dict[str, SuiteFn] = {}


def suite(name: str) -> Callable[[SuiteFn], SuiteFn]:
    def register(fn: SuiteFn) -> SuiteFn:
        if name in _SUITES and _SUITES[name] is not fn:
            raise ValueError(f"suite {name!r} registered twice")
        _SUITES[name] = fn
        return fn

    return register


def available_suites() -> list[str]:
    import evals.suites as suites_pkg

    for info in pkgutil.iter_modules(suites_pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"evals.suites.{info.name}")
    return sorted(_SUITES)


def read_labels(labels_csv: Path, images_dir: Path | None) -> list[EvalItem]:
    """External labelled images: CSV with image_id or path, and dx (one of the seven codes)."""
    labels_csv = Path(labels_csv)
    if not labels_csv.is_file():
        raise DataError(f"{labels_csv}: labels file not found")
    base = Path(images_dir) if images_dir else labels_csv.parent
    items = []
    with labels_csv.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or ())
        if "dx" not in cols or not cols & {"image_id", "path"}:
            raise DataError(f"{labels_csv}: needs a dx column and an image_id or path column; found {sorted(cols)}")
        for line_no, row in enumerate(reader, start=2):
            dx = (row.get("dx") or "").strip()
            if dx not in CODES:
                raise DataError(f"{labels_csv.name} row {line_no}: dx {dx!r} is not one of {', '.join(CODES)}")
            if row.get("path"):
                path = base / row["path"].strip()
                image_id = row.get("image_id") or path.stem
            else:
                image_id = row["image_id"].strip()
                matches = [p for p in (base / f"{image_id}{ext}" for ext in (".jpg", ".jpeg", ".png")) if p.is_file()]
                if not matches:
                    raise DataError(f"{labels_csv.name} row {line_no}: no image {image_id}.jpg/.png in {base}")
                path = matches[0]
            if not path.is_file():
                raise DataError(f"{labels_csv.name} row {line_no}: image {path} not found")
            items.append(EvalItem(image_id=image_id, dx=dx, image_path=path))
    if not items:
        raise DataError(f"{labels_csv}: no rows")
    return items


def stratified_sample(items: list[EvalItem], n: int, seed: int = 0) -> list[EvalItem]:
    """About ``n`` items keeping every class present (at least 2 each where available)."""
    import random

    if n >= len(items):
        return items
    rng = random.Random(seed)
    by_class: dict[str, list[EvalItem]] = {}
    for it in items:
        by_class.setdefault(it.dx, []).append(it)
    chosen: list[EvalItem] = []
    for code in sorted(by_class):
        pool = by_class[code]
        k = max(min(2, len(pool)), round(n * len(pool) / len(items)))
        chosen += rng.sample(pool, min(k, len(pool)))
    return sorted(chosen, key=lambda it: it.image_id)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return value


def _write_result(ctx: EvalContext, name: str, result: SuiteResult, seconds: float) -> dict[str, Any]:
    tag = f".{ctx.variant}" if ctx.variant else ""
    payload = {
        "suite": name,
        "variant": ctx.variant,
        "split": None if ctx.external else ctx.split,
        "external_labels": str(ctx.labels_csv) if ctx.labels_csv else None,
        "sample": ctx.sample,
        "wall_time_s": round(seconds, 2),
        **_json_safe(result.metrics),
        "plots": [p.name for p in result.plots],
    }
    atomic_write_text(ctx.out_dir / f"{name}{tag}.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    plots_md = "\n".join(f"![{p.stem}]({p.name})" for p in result.plots)
    atomic_write_text(ctx.out_dir / f"{name}{tag}.md", f"{result.markdown.rstrip()}\n\n{plots_md}\n")
    return payload


def _scalar_metrics(payload: dict[str, Any]) -> dict[str, float]:
    skip = {"wall_time_s", "sample"}
    return {k: v for k, v in payload.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip}


def run_suites(
    names: list[str],
    ctx: EvalContext,
    compare: tuple[str, str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the named suites (``all`` for every one) and write their reports; returns an index."""
    registered = available_suites()
    wanted = registered if names == ["all"] or "all" in names else names
    unknown = [n for n in wanted if n not in _SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {', '.join(unknown)}; available: {', '.join(registered)}")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"suites": {}, "compare": list(compare) if compare else None}
    started = time.perf_counter()
    for name in wanted:
        variants = list(compare) if compare else [ctx.variant]
        results = {}
        for variant in variants:
            vctx = EvalContext(**{**ctx.__dict__, "variant": variant})
            progress(f"suite {name}" + (f" [{variant}]" if variant else ""))
            t0 = time.perf_counter()
            result = _SUITES[name](vctx)
            results[variant or name] = _write_result(vctx, name, result, time.perf_counter() - t0)
        if compare:
            a, b = compare
            ma, mb = _scalar_metrics(results[a]), _scalar_metrics(results[b])
            rows = [f"| {k} | {ma[k]:.4g} | {mb[k]:.4g} | {mb[k] - ma[k]:+.4g} |" for k in sorted(set(ma) & set(mb))]
            table = f"# {name}: {a} vs {b}\n\n| metric | {a} | {b} | {b} - {a} |\n|---|---:|---:|---:|\n" + "\n".join(rows)
            atomic_write_text(ctx.out_dir / f"{name}.compare.md", table + "\n")
        index["suites"][name] = {k: {"wall_time_s": v["wall_time_s"]} for k, v in results.items()}
    index["wall_time_s"] = round(time.perf_counter() - started, 2)
    if len(wanted) > 1:
        lines = ["# dermagraph evaluation", "", f"Total wall time: {index['wall_time_s']:.1f} s", "",
                 "| suite | report | wall time (s) |", "|---|---|---:|"]
        for name, runs in index["suites"].items():
            for key, info in runs.items():
                tag = "" if key == name else f".{key}"
                lines.append(f"| {name}{'' if not tag else ' [' + key + ']'} | [{name}{tag}.md]({name}{tag}.md) | {info['wall_time_s']:.1f} |")
        atomic_write_text(ctx.out_dir / "index.md", "\n".join(lines) + "\n")
        atomic_write_text(ctx.out_dir / "index.json", json.dumps(index, indent=2) + "\n")
    return index

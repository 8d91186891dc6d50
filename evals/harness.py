"""The eval harness: named suites, one context, JSON + markdown + PNG plots per suite.

A suite is a function ``(ctx: EvalContext) -> SuiteResult`` registered with ``@suite("name")``
in a module of ``evals/suites/``. ``run_suites`` loads them, runs the ones asked for (``all`` runs
every registered suite), and writes ``DIR/<suite>.json``, ``DIR/<suite>.md`` and the suite's
plots; ``all`` adds ``DIR/index.md`` with wall times. ``--compare A B`` runs each suite once per
variant (a classifier backend or config, ``models.classifiers``) and writes a side-by-side table;
suites registered with ``variants=False`` do not depend on the classifier and run once.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from knowledge.artifacts import atomic_write_text
from knowledge.ham10000 import DataError, HamDataset, load_dataset
from knowledge.registry import Registry
from knowledge.settings import Settings, get_settings
from knowledge.splits import SPLITS, load_split
from knowledge.cases import Case
from knowledge.taxonomy import CODES


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

    def items(self, split: str | None = None) -> list[Case]:
        """The items to evaluate: the split asked for, or the external labelled folder."""
        if self.external:
            items = read_labels(self.labels_csv, self.images_dir)  # type: ignore[arg-type]
        else:
            name = split or self.split
            if name not in SPLITS:
                raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
            items = [r for r in self.dataset if self.assignment.get(r.image_id) == name]
        return stratified_sample(items, self.sample, self.seed) if self.sample else items

    def ham_items(self, split: str) -> list[Case]:
        """A HAM10000 split even when evaluating an external set (what fits a temperature or threshold: val)."""
        return EvalContext(**{**self.__dict__, "labels_csv": None, "images_dir": None}).items(split)

    @property
    def tag(self) -> str:
        """The variant as a file-name part ("" without one): ``encoder:abstain=0.6`` -> ``.encoder-abstain-0.6``."""
        return f".{variant_tag(self.variant)}" if self.variant else ""

    def plot_path(self, suite_name: str, name: str) -> Path:
        path = self.out_dir / f"{suite_name}{self.tag}.{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class SuiteResult:
    metrics: dict[str, Any]
    markdown: str
    plots: list[Path] = field(default_factory=list)
    summary: str = ""  # one line of headline figures for the index


SuiteFn = Callable[[EvalContext], SuiteResult]
_SUITES: Registry[SuiteFn] = Registry("suite", "evals.suites")  # listing imports every suite module
_CLASSIFIER_FREE: set[str] = set()  # suites whose results do not depend on the variant


def suite(name: str, variants: bool = True) -> Callable[[SuiteFn], SuiteFn]:
    """Register a suite; ``variants=False``: it does not use the classifier, so ``--compare`` runs it once."""

    def register(fn: SuiteFn) -> SuiteFn:
        _SUITES.register(name)(fn)
        if not variants:
            _CLASSIFIER_FREE.add(name)
        return fn

    return register


def variant_tag(variant: str) -> str:
    """A variant spelled safely for file names and markdown links."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", variant).strip("-")


def available_suites() -> list[str]:
    return _SUITES.names()


def read_labels(labels_csv: Path, images_dir: Path | None) -> list[Case]:
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
            items.append(Case(image_id=image_id, dx=dx, image_path=path))
    if not items:
        raise DataError(f"{labels_csv}: no rows")
    return items


def _by_class(items: list[Case]) -> dict[str, list[Case]]:
    by_class: dict[str, list[Case]] = {}
    for it in items:
        by_class.setdefault(it.dx, []).append(it)
    return by_class


def balanced_sample(items: list[Case], n: int, seed: int = 0) -> list[Case]:
    """About ``n`` items split as evenly over the classes as their sizes allow (small classes whole).

    For suites that report balanced accuracy on a few hundred images (robustness, safety): equal
    class counts give every class's recall the same precision instead of 3 df images in 300.
    """
    if n >= len(items):
        return items
    rng, by_class = random.Random(seed), _by_class(items)
    quota, remaining, chosen = {}, n, []
    # Water-filling: classes smaller than an even share are taken whole, the rest share what is left.
    for code in sorted(by_class, key=lambda c: len(by_class[c])):
        share = remaining // (len(by_class) - len(quota))
        quota[code] = min(len(by_class[code]), share)
        remaining -= quota[code]
    for code in sorted(by_class):
        chosen += rng.sample(by_class[code], quota[code])
    return sorted(chosen, key=lambda it: it.image_id)


def stratified_sample(items: list[Case], n: int, seed: int = 0) -> list[Case]:
    """About ``n`` items keeping every class present (at least 2 each where available)."""
    if n >= len(items):
        return items
    rng, by_class = random.Random(seed), _by_class(items)
    chosen: list[Case] = []
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
    tag = ctx.tag
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


def _scalar_metrics(payload: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in a report, nested keys dotted (``recall_per_class.mel``); lists are left out."""
    skip = {"wall_time_s", "sample"}
    out: dict[str, float] = {}
    for k, v in payload.items():
        if k in skip and not prefix:
            continue
        if isinstance(v, dict):
            out.update(_scalar_metrics(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


# For suites that give no summary line: the first of these figures they report, in this order.
HEADLINE_FIGURES = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("auc_macro", "macro AUC"),
                    ("segmentation.dice", "Dice"), ("delineated_share", "delineated"), ("p_at_10", "P@10"),
                    ("map_at_10", "mAP@10"), ("recall_at_5", "recall@5"), ("mrr_at_10", "MRR@10"),
                    ("latency_p50_ms", "p50 ms"), ("n", "n"))


def default_summary(payload: dict[str, Any], most: int = 4) -> str:
    figures = _scalar_metrics(payload)
    parts = [f"{label} {figures[key]:,}" if isinstance(figures[key], int) else f"{label} {figures[key]:.3f}"
             for key, label in HEADLINE_FIGURES if key in figures]
    return "; ".join(parts[:most])


def _compare_table(name: str, a: str, b: str, ra: dict[str, Any], rb: dict[str, Any]) -> str:
    ma, mb = _scalar_metrics(ra), _scalar_metrics(rb)
    keys = [k for k in ma if k in mb]
    # Two runs of the same model differ in the last float bits (batching); that is not a difference.
    same = {k for k in keys if math.isclose(ma[k], mb[k], rel_tol=1e-6, abs_tol=1e-9)}
    rows = [f"| {k} | {ma[k]:.4g} | {mb[k]:.4g} | {'0' if k in same else f'{mb[k] - ma[k]:+.4g}'} |" for k in keys]
    changed = len(keys) - len(same)
    return (f"# {name}: {a} vs {b}\n\n{changed} of {len(keys)} figures differ.\n\n"
            f"| metric | {a} | {b} | {b} - {a} |\n|---|---:|---:|---:|\n" + "\n".join(rows))


def run_suites(
    names: list[str],
    ctx: EvalContext,
    compare: tuple[str, str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the named suites (``all`` for every one) and write their reports; returns an index.

    With several suites, one that fails is recorded in the index and the rest still run; the call
    then raises, naming the failures, so ``make eval`` exits non-zero without losing the others.
    """
    registered = available_suites()
    wanted = registered if names == ["all"] or "all" in names else names
    _SUITES.require(wanted)
    if compare and len(set(compare)) != 2:
        raise ValueError(f"--compare needs two different variants, got {list(compare)}")
    from models.classifiers import parse_variant

    for variant in [ctx.variant, *(compare or ())]:
        if variant:
            parse_variant(variant)  # a misspelt variant fails here, once, not in every suite
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"suites": {}, "compare": list(compare) if compare else None}
    failures: dict[str, str] = {}
    started = time.perf_counter()
    for name in wanted:
        variants = list(compare) if compare and name not in _CLASSIFIER_FREE else [ctx.variant]
        results: dict[str, dict[str, Any]] = {}
        for variant in variants:
            vctx = EvalContext(**{**ctx.__dict__, "variant": variant})
            progress(f"suite {name}" + (f" [{variant}]" if variant else ""))
            t0 = time.perf_counter()
            try:
                result = _SUITES[name](vctx)
            except Exception as exc:  # noqa: BLE001 - recorded, and re-raised at the end (alone: at once)
                if len(wanted) == 1:
                    raise
                failures[f"{name}{vctx.tag}"] = f"{type(exc).__name__}: {exc}"
                atomic_write_text(ctx.out_dir / f"{name}{vctx.tag}.error.txt", traceback.format_exc())
                progress(f"suite {name} failed: {type(exc).__name__}: {exc} (traceback in {name}{vctx.tag}.error.txt)")
                continue
            results[variant or name] = _write_result(vctx, name, result, time.perf_counter() - t0)
            if _checks_claims(vctx):
                from evals.claims import drift

                index.setdefault("claims", {})[name] = drift(name, result.metrics)
            results[variant or name]["_summary"] = result.summary or default_summary(results[variant or name])
        if compare and len(results) == 2:
            a, b = compare
            atomic_write_text(ctx.out_dir / f"{name}.compare.md", _compare_table(name, a, b, results[a], results[b]) + "\n")
        index["suites"][name] = {k: {"wall_time_s": v["wall_time_s"], "summary": v["_summary"]} for k, v in results.items()}
    index["wall_time_s"] = round(time.perf_counter() - started, 2)
    index["failures"] = failures
    index["context"] = _context(ctx, compare)
    previous = _previous_index(ctx.out_dir, index["context"])
    if previous is not None:  # re-running some suites into a full report keeps the others' rows
        rerun = set(wanted)
        index["suites"] = {**previous["suites"], **{k: v for k, v in index["suites"].items() if v}}
        index["failures"] = {**{k: v for k, v in previous.get("failures", {}).items() if k.split(".")[0] not in rerun}, **failures}
        index["wall_time_s"] = round(sum(run["wall_time_s"] for runs in index["suites"].values() for run in runs.values()), 2)
        index["merged"] = True
    if len(wanted) > 1 or previous is not None:
        _write_index(ctx, index, compare)
    if failures:
        raise SuitesFailed(failures, ctx.out_dir)
    return index


def _checks_claims(ctx: EvalContext) -> bool:
    """The README's figures are full runs on the test split with the default classifier."""
    from models.classifiers import DEFAULT_BACKEND

    return ctx.split == "test" and not ctx.sample and not ctx.external and ctx.split_file is None \
        and (ctx.variant or DEFAULT_BACKEND) == DEFAULT_BACKEND


class SuitesFailed(RuntimeError):
    """Some suites of a multi-suite run failed; the others' reports were written."""

    def __init__(self, failures: dict[str, str], out_dir: Path) -> None:
        self.failures = failures
        super().__init__(f"{len(failures)} suite(s) failed ({'; '.join(f'{k}: {v}' for k, v in failures.items())}); "
                         f"the other reports are in {out_dir}, tracebacks in <suite>.error.txt")


def _context(ctx: EvalContext, compare: tuple[str, str] | None) -> dict[str, Any]:
    """What makes two runs' reports comparable rows of one index."""
    return {"split": None if ctx.external else ctx.split, "split_file": str(ctx.split_file) if ctx.split_file else None,
            "external_labels": str(ctx.labels_csv) if ctx.labels_csv else None, "sample": ctx.sample,
            "variant": ctx.variant, "compare": list(compare) if compare else None}


def _previous_index(out_dir: Path, context: dict[str, Any]) -> dict[str, Any] | None:
    path = out_dir / "index.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return previous if previous.get("context") == context and isinstance(previous.get("suites"), dict) else None


def _write_index(ctx: EvalContext, index: dict[str, Any], compare: tuple[str, str] | None) -> None:
    where = f"external set {ctx.labels_csv}" if ctx.external else f"HAM10000 {ctx.split} split"
    total = (f"Sum of the suites' wall times: {index['wall_time_s']:.1f} s (some suites were re-run on their own)."
             if index.get("merged") else f"Total wall time: {index['wall_time_s']:.1f} s.")
    lines = ["# dermagraph evaluation", "", f"On the {where}" + (f", sample of about {ctx.sample}" if ctx.sample else "")
             + f". {total}", "",
             "| suite | report | headline | wall time (s) |", "|---|---|---|---:|"]
    for name, runs in index["suites"].items():
        for key, info in runs.items():
            tag = "" if key == name else f".{variant_tag(key)}"
            label = name if key == name else f"{name} [{key}]"
            lines.append(f"| {label} | [{name}{tag}.md]({name}{tag}.md) | {info['summary']} | {info['wall_time_s']:.1f} |")
        if compare and len(runs) == 2:
            lines.append(f"| {name} ({compare[0]} vs {compare[1]}) | [{name}.compare.md]({name}.compare.md) | | |")
    for key, error in index["failures"].items():
        lines.append(f"| {key} | **failed** | {error} | |")
    moved = [m for ms in index.get("claims", {}).values() for m in ms]
    if index.get("claims"):
        lines += ["", "## README figures (evals/claims.yaml)", ""]
        lines += [f"- {m}" for m in moved] or ["Every figure the README states for these suites holds within its tolerance."]
    atomic_write_text(ctx.out_dir / "index.md", "\n".join(lines) + "\n")
    atomic_write_text(ctx.out_dir / "index.json", json.dumps(index, indent=2, ensure_ascii=False) + "\n")

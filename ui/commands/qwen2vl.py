"""Qwen2-VL commands: `export llamafactory`, `train qwen2vl`, `calibrate qwen2vl`, and the
`qwen2vl` group (`make-tiny`, `classify`, `generate`) for smoke runs without real weights."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ui.commands._common import DataDirOption, JsonOption, SplitFileOption, console, path_or_none, print_json, user_errors
from ui.commands.calibrate import calibrate_app
from ui.commands.export import export_app
from ui.commands.train import train_app

qwen2vl_app = typer.Typer(help="Qwen2-VL utilities: a tiny local model, classify or describe one image.", no_args_is_help=True)

BaseOption = typer.Option(None, "--base", help="Base model: hub id (e.g. Qwen/Qwen2-VL-2B-Instruct) or local folder.")
AdapterOption = typer.Option(None, "--adapter", help="PEFT LoRA adapter folder.")
MergedOption = typer.Option(None, "--merged", help="Folder of merged weights (instead of --base + --adapter).")
TaskOption = typer.Option(None, "--task", help="Task(s): identify, describe, advise, medical_qa (default: all available).")
LimitOption = typer.Option(None, "--limit", help="About N images per split, every class represented (smoke runs).")


@export_app.command("llamafactory")
def export_llamafactory_command(
    out: Path = typer.Option(..., "--out", help="Folder for the JSON files, dataset_info.json and the yaml."),
    split_file: Optional[Path] = SplitFileOption,
    data_dir: Optional[Path] = DataDirOption,
    limit: Optional[int] = LimitOption,
    task: Optional[List[str]] = TaskOption,
    base: str = typer.Option("Qwen/Qwen2-VL-2B-Instruct", "--base", help="model_name_or_path written into the yaml."),
    as_json: bool = JsonOption,
) -> None:
    """Write HAM10000 as LLaMA-Factory sharegpt multimodal data plus a LoRA training yaml."""
    from rich.progress import Progress

    from training.qwen2vl.export import export_llamafactory

    with user_errors(), Progress(console=console, disable=as_json) as bar:
        bars: dict[str, object] = {}

        def progress(split: str, done: int, total: int) -> None:
            if split not in bars:
                bars[split] = bar.add_task(f"{split} images", total=total)
            bar.update(bars[split], completed=done)

        summary = export_llamafactory(out, path_or_none(split_file), path_or_none(data_dir), limit, task or None, base,
                                      progress=progress)
    if as_json:
        print_json({"out_dir": summary.out_dir, "samples": summary.counts, "tasks": summary.tasks,
                    "task_counts": summary.task_counts, "max_tokens": summary.max_tokens, "cutoff_len": summary.cutoff_len})
        return
    console.print(f"wrote {out}: " + ", ".join(f"{s} {n:,} samples" for s, n in summary.counts.items()))
    console.print(f"tasks {', '.join(summary.tasks)}; longest sample {summary.max_tokens} tokens (cutoff_len {summary.cutoff_len})")
    console.print(f"train with: scripts/train.sh {out}/qwen2vl_lora_sft.yaml")


@train_app.command("qwen2vl")
def train_qwen2vl_command(
    base: str = typer.Option(..., "--base", help="Base model: hub id or local folder."),
    adapter_out: Path = typer.Option(..., "--adapter-out", help="Folder for the adapter, checkpoints and log."),
    epochs: float = typer.Option(3.0, "--epochs"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    batch_size: int = typer.Option(4, "--batch-size", help="Per-device batch size."),
    grad_accum: int = typer.Option(1, "--grad-accum"),
    learning_rate: float = typer.Option(5e-5, "--lr"),
    lora_rank: int = typer.Option(8, "--lora-rank"),
    lora_alpha: int = typer.Option(16, "--lora-alpha"),
    train_merger: bool = typer.Option(False, "--train-merger", help="Also put LoRA on the vision-to-text merger."),
    gradient_checkpointing: bool = typer.Option(True, "--gradient-checkpointing/--no-gradient-checkpointing"),
    save_every: int = typer.Option(500, "--save-every", help="Checkpoint every N steps (resume by rerunning)."),
    restart: bool = typer.Option(False, "--restart", help="Ignore checkpoints in --adapter-out and start over."),
    num_workers: int = typer.Option(0, "--num-workers", help="Dataloader workers (JPEG decoding)."),
    limit: Optional[int] = LimitOption,
    task: Optional[List[str]] = TaskOption,
    split_file: Optional[Path] = SplitFileOption,
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """LoRA fine-tuning with transformers + PEFT (several GPUs: `accelerate launch -m ui.cli train qwen2vl ...`)."""
    from training.qwen2vl.train import TrainConfig, train_qwen2vl

    config = TrainConfig(
        base=base, adapter_out=adapter_out, split_file=path_or_none(split_file), data_dir=path_or_none(data_dir),
        tasks=tuple(task) if task else None, limit=limit, epochs=epochs, max_steps=max_steps, per_device_batch=batch_size,
        grad_accum=grad_accum, learning_rate=learning_rate, lora_rank=lora_rank, lora_alpha=lora_alpha,
        train_merger=train_merger, gradient_checkpointing=gradient_checkpointing, save_every=save_every,
        resume=not restart, num_workers=num_workers,
    )
    with user_errors():
        result = train_qwen2vl(config)
    if not result.main_process:
        return
    resumed = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
    loss = f"; loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}" if result.losses else ""
    console.print(f"wrote {result.adapter_dir}: {result.steps} steps on {result.samples:,} samples{resumed}{loss}, "
                  f"{result.seconds / 60:.1f} min")


@calibrate_app.command("qwen2vl")
def calibrate_qwen2vl_command(
    base: Optional[str] = BaseOption,
    adapter: Optional[Path] = AdapterOption,
    merged: Optional[Path] = MergedOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for calibration.json (default: the adapter folder)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use about N val images (default: all)."),
    scoring: str = typer.Option("sum", "--scoring", help="sum (sentence log-likelihood) or mean (per token)."),
    split_file: Optional[Path] = SplitFileOption,
    data_dir: Optional[Path] = DataDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Fit the temperature on the val split and write calibration.json next to the adapter."""
    from rich.progress import Progress

    from models.classifiers.qwen2vl import calibrate

    if scoring not in ("sum", "mean"):
        raise typer.BadParameter("--scoring must be sum or mean", param_hint="--scoring")
    with user_errors(), Progress(console=console, disable=as_json) as bar:
        task = bar.add_task("scoring val images", total=None)
        record = calibrate(base=base, adapter=path_or_none(adapter), merged=path_or_none(merged), out_dir=path_or_none(out),
                           split_file=path_or_none(split_file), data_dir=path_or_none(data_dir), limit=limit,
                           scoring=scoring, progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        print_json(record)
        return
    console.print(f"wrote {record['path']}: temperature {record['temperature']:.3f} on {record['images']} val images; "
                  f"NLL {record['nll_before']:.3f} -> {record['nll_after']:.3f}, ECE {record['ece_before']:.3f} -> "
                  f"{record['ece_after']:.3f}, accuracy {record['accuracy']:.3f}")


@qwen2vl_app.command("make-tiny")
def make_tiny_command(
    out: Path = typer.Option(..., "--out", help="Folder for the tiny random-weight checkpoint."),
) -> None:
    """Write a tiny random-weight Qwen2-VL (real Qwen tokenizer, hub file layout) for CPU smoke runs."""
    from training.qwen2vl.tiny import build_tiny_qwen2vl

    with user_errors():
        folder = build_tiny_qwen2vl(out)
    console.print(f"wrote {folder}")


@qwen2vl_app.command("classify")
def classify_command(
    image: Path = typer.Argument(..., help="Dermoscopy image (JPEG/PNG)."),
    base: Optional[str] = BaseOption,
    adapter: Optional[Path] = AdapterOption,
    merged: Optional[Path] = MergedOption,
    as_json: bool = JsonOption,
) -> None:
    """Class probabilities for one image from the qwen2vl backend."""
    from models.classifiers import get_classifier
    from knowledge.images import open_image

    with user_errors():
        classifier = get_classifier("qwen2vl", base=base, adapter=adapter, merged=merged)
        prediction = classifier.classify(open_image(image))
    if as_json:
        print_json(prediction.model_dump())
        return
    top = ", ".join(f"{code} {p:.1%}" for code, p in prediction.top_k(3))
    console.print(f"{prediction.label} ({top}); temperature {prediction.temperature:.3f}"
                  + (f"; abstained: {prediction.abstain_reason}" if prediction.abstained else ""))


@qwen2vl_app.command("generate")
def generate_command(
    image: Path = typer.Argument(..., help="Dermoscopy image (JPEG/PNG)."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Question (default: the describe question)."),
    base: Optional[str] = BaseOption,
    adapter: Optional[Path] = AdapterOption,
    merged: Optional[Path] = MergedOption,
    max_new_tokens: int = typer.Option(200, "--max-new-tokens"),
) -> None:
    """Free-text answer about one image."""
    from models.classifiers import get_classifier
    from knowledge.images import open_image
    from knowledge.prompts import question

    with user_errors():
        classifier = get_classifier("qwen2vl", base=base, adapter=adapter, merged=merged)
        text = classifier.generate(open_image(image), prompt or question("describe"), max_new_tokens)
    console.print(text, markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(qwen2vl_app, name="qwen2vl")

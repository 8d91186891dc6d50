"""Plot helpers shared by the suites (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def confusion_matrix_plot(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str], path: Path,
                          title: str = "Confusion matrix (rows: truth, normalised)") -> Path:
    n = len(class_names)
    cm = np.zeros((n, n), dtype=int)
    for t, p in zip(labels, preds):
        cm[t, p] += 1
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.0 * n + 1.5, 1.0 * n + 1))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), class_names)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def _draw_reliability(ax, bins: Sequence[Mapping[str, float]], title: str) -> None:
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    if bins:
        centers = [(b["lo"] + b["hi"]) / 2 for b in bins]
        width = bins[0]["hi"] - bins[0]["lo"]
        ax.bar(centers, [b["accuracy"] for b in bins], width=width * 0.9, alpha=0.7, label="accuracy")
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", ms=3, color="C1", label="accuracy at the bin's mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=7)


def reliability_diagram(bins: Sequence[Mapping[str, float]], path: Path, title: str = "Reliability (top label)") -> Path:
    """``bins`` as from ``knowledge.calibration.reliability_bins``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    _draw_reliability(ax, bins, title)
    return _save(fig, path)


def reliability_panels(panels: Mapping[str, Sequence[Mapping[str, float]]], path: Path) -> Path:
    """Reliability diagrams side by side (e.g. before and after temperature scaling); keys are titles."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0), squeeze=False)
    for ax, (title, bins) in zip(axes[0], panels.items()):
        _draw_reliability(ax, bins, title)
    return _save(fig, path)


def risk_coverage_plot(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: Path,
                       marks: Sequence[tuple[float, float, str]] = (), title: str = "Risk-coverage") -> Path:
    """Accuracy of the answered images against the share answered; ``marks``: (coverage, accuracy, label) points."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, (coverage, acc) in curves.items():
        ax.plot(coverage, acc, lw=1.5, label=name)
    for cov, acc, label in marks:
        ax.plot([cov], [acc], "o", color="black", ms=4)
        ax.annotate(label, (cov, acc), textcoords="offset points", xytext=(4, -12), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("coverage (share of images answered, most confident first)")
    ax.set_ylabel("accuracy on answered images")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def heatmap(values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], path: Path, title: str,
            colorbar: str, fmt: str = "{:+.2f}", cmap: str = "Reds", center: float | None = None) -> Path:
    """A labelled matrix plot with each cell's value written in it (NaN cells left blank)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.0 * len(col_labels) + 2.5, 0.42 * len(row_labels) + 1.6))
    finite = values[np.isfinite(values)]
    vmax = float(np.abs(finite).max()) if finite.size else 1.0
    kwargs = {"vmin": -vmax, "vmax": vmax} if center is not None else {"vmin": min(0.0, float(finite.min()) if finite.size else 0.0), "vmax": vmax}
    im = ax.imshow(values, cmap=cmap, aspect="auto", **kwargs)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if abs(values[i, j]) > 0.6 * vmax else "black")
    ax.set_xticks(range(len(col_labels)), col_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=colorbar, shrink=0.8)
    return _save(fig, path)


def per_class_bars(series: Mapping[str, Sequence[float]], class_names: Sequence[str], path: Path, title: str,
                   ylabel: str = "recall") -> Path:
    """Grouped bars: one series per model/baseline, one group per class."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(class_names))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width, np.nan_to_num(np.asarray(values, dtype=float)), width, label=name)
    ax.set_xticks(x + width * (len(series) - 1) / 2, class_names)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def precision_at_k_plot(curves: Mapping[str, Sequence[float]], path: Path, title: str = "Precision@k (same diagnosis)") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("precision@k")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)

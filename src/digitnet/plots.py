"""PNG images for the PR report: the confusion matrix and the training curves (matplotlib, Agg, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Curves as read from DVCLive's TSVs: {"loss": {"train": [(step, value), ...], "val": [...]}, "accuracy": {...}}
Curves = Mapping[str, Mapping[str, Sequence[tuple[float, float]]]]
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: the same inputs give the same bytes
DPI = 100


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path


def confusion_counts(pairs: Sequence[Mapping[str, str]]) -> tuple[list[str], np.ndarray]:
    """Class names (natural order) and the count matrix [actual, predicted] from DVCLive's confusion records."""
    names = sorted({p["actual"] for p in pairs} | {p["predicted"] for p in pairs}, key=_natural_key)
    index = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for pair in pairs:
        counts[index[pair["actual"]], index[pair["predicted"]]] += 1
    return names, counts


def render_confusion_matrix(pairs: Sequence[Mapping[str, str]], path: Path) -> Path:
    """Write the confusion matrix as a PNG heat map with the counts in the cells."""
    names, counts = confusion_counts(pairs)
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(names)), names)
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix (test split)")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def render_training_curves(curves: Curves, path: Path) -> Path:
    """Write one panel per metric (loss, accuracy, ...) with a line per split (train, val)."""
    metrics = list(curves)
    figure = Figure(figsize=(5 * max(len(metrics), 1), 3.8))
    for position, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(1, max(len(metrics), 1), position)
        for split, points in curves[metric].items():
            steps = [step for step, _ in points]
            values = [value for _, value in points]
            axes.plot(steps, values, marker="o", markersize=3, label=split)
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    return _save(figure, path)


def _natural_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)

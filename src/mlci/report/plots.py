"""PNG images for the report (matplotlib, Agg, no pyplot state): the confusion matrix or the predicted-vs-actual
scatter from the per-row predictions, and the line plots `dvc.yaml` defines, drawn from their data files."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mlci.dvcfiles import PlotSpec

logger = logging.getLogger(__name__)

PNG_METADATA = {"Software": None}  # no matplotlib version in the file: the same inputs give the same bytes
DPI = 100
LINE_TEMPLATES = (None, "linear", "simple", "smooth", "scatter")  # DVC templates drawn as lines of y against x
MAX_PANELS = 6  # line plots drawn in the curves image; more are listed as skipped

# One line of a plot: its label and its (x, y) points.
Series = tuple[str, Sequence[tuple[float, float]]]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path


def render_confusion_matrix(labels: Sequence[str], counts: np.ndarray, path: Path) -> Path:
    """Write a confusion matrix [actual, predicted] as a PNG heat map with the counts in the cells."""
    size = max(4.0, min(12.0, 1.5 + 0.45 * len(labels)))
    figure = Figure(figsize=(size + 0.5, size))
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90 if max(map(len, labels), default=0) > 3 else 0)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def render_regression_scatter(actual: np.ndarray, predicted: np.ndarray, path: Path) -> Path:
    """Write predicted against actual values, with the line where they are equal."""
    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=8, alpha=0.5)
    finite = np.concatenate([actual, predicted])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        axes.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
    axes.set_xlabel("actual")
    axes.set_ylabel("predicted")
    axes.set_title("Predicted vs actual")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def render_confusion_difference(labels: Sequence[str], difference: np.ndarray, path: Path) -> Path:
    """Write this branch's confusion counts minus the base's [actual, predicted] as a PNG.

    Colour says better or worse, the cell the signed change: more rows on the diagonal (right) is blue, more rows off
    it (mistakes) is red.
    """
    size = max(4.0, min(12.0, 1.5 + 0.45 * len(labels)))
    figure = Figure(figsize=(size + 0.5, size))
    axes = figure.add_subplot()
    goodness = -difference.astype(np.float64)
    np.fill_diagonal(goodness, np.diag(difference))
    limit = max(float(np.abs(goodness).max()) if goodness.size else 0.0, 1.0)
    axes.imshow(goodness, cmap="RdBu", vmin=-limit, vmax=limit)
    axes.set_xticks(range(len(labels)), labels, rotation=90 if max(map(len, labels), default=0) > 3 else 0)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix, this PR − base\nblue: better, red: worse")
    for (row, column), change in np.ndenumerate(difference):
        if change:
            colour = "white" if abs(goodness[row, column]) > limit / 2 else "black"
            axes.text(column, row, f"{change:+d}", ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return _save(figure, path)


def render_line_plots(
    panels: Sequence[tuple[str, str, Sequence[Series]]],
    path: Path,
    base: Mapping[str, Sequence[Series]] | None = None,
) -> Path:
    """Write one panel per plot (title, x label, lines), side by side; `base` (title -> lines) is drawn under each
    panel's lines, dashed and faint, in the same colours."""
    count = max(len(panels), 1)
    figure = Figure(figsize=(5 * count, 3.8))
    for position, (title, x_label, lines) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, count, position)
        colours = {}
        for label, points in lines:
            (drawn,) = axes.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3, label=label)
            colours[label] = drawn.get_color()
        base_lines = (base or {}).get(title, ())
        for label, points in base_lines:
            axes.plot(
                [x for x, _ in points],
                [y for _, y in points],
                linestyle="--",
                alpha=0.5,
                color=colours.get(label),
                label=f"base {label}",
                zorder=1,
            )
        axes.set_xlabel(x_label)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        if len(lines) + len(base_lines) > 1:
            axes.legend()
    figure.tight_layout()
    return _save(figure, path)


# ------------------------------------------------------------------------------------------------------- plot data
def read_plot_data(path: Path) -> pd.DataFrame | None:
    """A plot's data file (TSV, CSV or a JSON list of records) as a frame; None when absent or unreadable."""
    if not path.is_file():
        return None
    return plot_data_from_text(path.read_text(encoding="utf-8"), path)


def plot_data_from_text(text: str, path: Path | str) -> pd.DataFrame | None:
    """A plot data file's text (from the workspace or `git show`) as a frame; None when unreadable."""
    import io

    path = Path(path)
    try:
        if path.suffix == ".tsv":
            return pd.read_csv(io.StringIO(text), sep="\t")
        if path.suffix == ".csv":
            return pd.read_csv(io.StringIO(text))
        if path.suffix == ".json":
            records = json.loads(text)
            if isinstance(records, Mapping):  # {"key": [records]}: DVC accepts one list under a key
                records = next((v for v in records.values() if isinstance(v, list)), [])
            return pd.DataFrame(records) if isinstance(records, list) else None
    except (ValueError, pd.errors.ParserError) as error:
        logger.warning("plot data %s is unreadable: %s", path, error)
    return None


def _line_labels(paths: Sequence[str]) -> list[str]:
    """Short labels that tell the files apart: their paths without the shared leading and trailing parts."""
    if len(paths) == 1:
        return [Path(paths[0]).stem]
    parts = [Path(p).with_suffix("").parts for p in paths]
    head = len(os.path.commonprefix(parts))
    tail = len(os.path.commonprefix([tuple(reversed(p)) for p in parts]))
    labels = ["/".join(p[head : len(p) - tail] if len(p) - tail > head else p[head:]) for p in parts]
    return [label or Path(path).stem for label, path in zip(labels, paths)]


def line_panels(
    root: Path, specs: Sequence[PlotSpec], read: Callable[[str], pd.DataFrame | None] | None = None
) -> list[tuple[str, str, list[Series]]]:
    """The line plots among `specs` whose data files exist, as (title, x label, lines) panels.

    A spec with no y fields draws every numeric column but x; x defaults to `step`, else the row number. `read`
    reads a data file by its path (default: from the workspace under `root`; the base's come from `git show`).
    """
    read = read or (lambda file: read_plot_data(Path(root) / file))
    panels = []
    for spec in specs:
        if spec.template not in LINE_TEMPLATES:
            continue
        frames = {file: read(file) for file in spec.files}
        frames = {file: frame for file, frame in frames.items() if frame is not None and not frame.empty}
        lines: list[Series] = []
        x_label = spec.x or "step"
        for label, (file, frame) in zip(_line_labels(list(frames)), frames.items()):
            x_name = spec.x if spec.x in frame.columns else ("step" if "step" in frame.columns else None)
            xs = frame[x_name].to_numpy(dtype=np.float64) if x_name else np.arange(len(frame), dtype=np.float64)
            fields = list(spec.files[file]) or [
                c for c in frame.columns if c != x_name and pd.api.types.is_numeric_dtype(frame[c])
            ]
            for name in fields:
                if name not in frame.columns:
                    continue
                ys = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
                line_label = label if len(fields) == 1 else f"{label} {name}"
                lines.append((line_label, list(zip(xs.tolist(), ys.tolist()))))
            x_label = x_name or "row"
        if lines:
            panels.append((spec.title, x_label, lines))
    if len(panels) > MAX_PANELS:
        logger.warning("%d line plots in dvc.yaml: the report draws the first %d", len(panels), MAX_PANELS)
    return panels[:MAX_PANELS]

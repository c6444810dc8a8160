"""The pipeline's metrics as tables (`mlci metrics [--markdown]`): plain text for a terminal, Markdown for a CI summary.

What is shown comes from files only: the scalars of every metrics file `dvc.yaml` lists (nested keys dotted), then the
per-class scores computed from the per-row predictions (classification) or the residual statistics (regression),
then the named slices of any metrics file that has them. Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mlci.contract import DataContract, load_contract
from mlci.dvcfiles import metrics_files
from mlci.errors import UserFacingError
from mlci.files import CONTRACT, PREDICTION_TARGET, PREDICTION_VALUE, PREDICTIONS

NESTED_SECTIONS = ("per_class", "slices")  # mappings in a metrics file that get their own table, not dotted rows


class MetricsError(UserFacingError):
    """A metrics or predictions file cannot be read."""


# ------------------------------------------------------------------------------------------------------- reading
def read_json(path: Path) -> Mapping | list | None:
    """A JSON file's content, None when it is absent; a MetricsError names a file that is not valid JSON."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MetricsError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None


def flatten(tree: Mapping | None, prefix: str = "") -> dict:
    """Nested mappings to one level with dotted keys: {"train": {"loss": 0.1}} -> {"train.loss": 0.1}."""
    flat: dict = {}
    for key, value in (tree or {}).items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def scalar_metrics(metrics: Mapping | None) -> dict:
    """A metrics file's scalars, dotted, without the per-class and slice tables (and lists, which are not scalars)."""
    body = {k: v for k, v in (metrics or {}).items() if k not in NESTED_SECTIONS}
    return {k: v for k, v in flatten(body).items() if not isinstance(v, list)}


def read_predictions(path: Path, contract: DataContract) -> pd.DataFrame | None:
    """The per-row predictions file, with target and prediction as text (classification) or numbers (regression)."""
    if not path.is_file():
        return None
    return predictions_from_text(path.read_text(encoding="utf-8"), contract, str(path))


def predictions_from_text(text: str, contract: DataContract, where: str = PREDICTIONS) -> pd.DataFrame:
    """Parse a predictions CSV (as read from the workspace or from `git show`)."""
    import io

    kind = str if contract.target.is_classification else float
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={PREDICTION_TARGET: kind, PREDICTION_VALUE: kind})
    except (ValueError, pd.errors.ParserError) as error:
        raise MetricsError(f"{where} is not a readable predictions CSV: {error}") from None
    missing = [c for c in (PREDICTION_TARGET, PREDICTION_VALUE) if c not in frame.columns]
    if missing:
        raise MetricsError(f"{where} has no column {', '.join(missing)} (columns: {', '.join(frame.columns)})")
    return frame


# ------------------------------------------------------------------------------------------------------- scoring
def class_labels(contract: DataContract, predictions: pd.DataFrame) -> list[str]:
    """The contract's classes as text, then any other label the predictions hold (none is dropped)."""
    from mlci.drift import natural_key

    classes = [str(c) for c in contract.target.classes or ()]
    seen = set(predictions[PREDICTION_TARGET].dropna()) | set(predictions[PREDICTION_VALUE].dropna())
    return classes + sorted(seen - set(classes), key=natural_key)


def confusion_matrix(predictions: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """Counts [actual, predicted] over `labels`."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for actual, predicted in zip(predictions[PREDICTION_TARGET], predictions[PREDICTION_VALUE]):
        if actual in index and predicted in index:
            counts[index[actual], index[predicted]] += 1
    return counts


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def per_class_metrics(predictions: pd.DataFrame, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class (0 where undefined), from the per-row predictions."""
    counts = confusion_matrix(predictions, labels)
    scores = {}
    for i, label in enumerate(labels):
        true_positive = counts[i, i]
        precision = _ratio(true_positive, counts[:, i].sum())
        recall = _ratio(true_positive, counts[i, :].sum())
        scores[label] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(_ratio(2 * precision * recall, precision + recall), 6),
            "support": int(counts[i, :].sum()),
        }
    return scores


def residual_metrics(predictions: pd.DataFrame) -> dict[str, float]:
    """MAE, RMSE and R² of a regression's predictions, and the number of rows they cover (nulls left out)."""
    rows = predictions[[PREDICTION_TARGET, PREDICTION_VALUE]].dropna()
    actual = rows[PREDICTION_TARGET].to_numpy(dtype=np.float64)
    residual = rows[PREDICTION_VALUE].to_numpy(dtype=np.float64) - actual
    if not len(rows):
        return {"mae": math.nan, "rmse": math.nan, "r2": math.nan, "rows": 0}
    total = float(((actual - actual.mean()) ** 2).sum())
    return {
        "mae": round(float(np.abs(residual).mean()), 6),
        "rmse": round(float(np.sqrt((residual**2).mean())), 6),
        "r2": round(1 - float((residual**2).sum()) / total, 6) if total else math.nan,
        "rows": len(rows),
    }


def slices_of(metrics_by_file: Mapping[str, Mapping | None]) -> dict[str, dict]:
    """The named slices of every metrics file that has a `slices` mapping (later files win on a clash)."""
    slices: dict[str, dict] = {}
    for metrics in metrics_by_file.values():
        if isinstance(metrics, Mapping) and isinstance(metrics.get("slices"), Mapping):
            slices.update({str(k): dict(v) for k, v in metrics["slices"].items() if isinstance(v, Mapping)})
    return slices


# ------------------------------------------------------------------------------------------------------- the tables
def _value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _cell(value) -> str:
    return _value(value).replace("|", "\\|").replace("\n", " ")


def _tables(root: Path) -> list[tuple[str, list[str], list[list]]]:
    """(title, header, rows) of each table `mlci metrics` shows, read from the workspace."""
    root = Path(root)
    files = metrics_files(root)
    metrics_by_file = {path: read_json(root / path) for path in files}
    tables: list[tuple[str, list[str], list[list]]] = []
    for path, metrics in metrics_by_file.items():
        if not isinstance(metrics, Mapping):
            tables.append((path, ["metric", "value"], [["(not found: run `dvc repro`)", ""]]))
            continue
        tables.append((path, ["metric", "value"], [[k, v] for k, v in scalar_metrics(metrics).items()]))
    contract = load_contract(root / CONTRACT) if (root / CONTRACT).is_file() else None
    predictions = read_predictions(root / PREDICTIONS, contract) if contract else None
    if predictions is not None and contract.target.is_classification:
        scores = per_class_metrics(predictions, class_labels(contract, predictions))
        rows = [[label, s["precision"], s["recall"], s["f1"], s["support"]] for label, s in scores.items()]
        tables.append((f"per class ({PREDICTIONS})", ["class", "precision", "recall", "f1", "support"], rows))
    elif predictions is not None:
        residuals = residual_metrics(predictions)
        tables.append((f"residuals ({PREDICTIONS})", ["metric", "value"], [[k, v] for k, v in residuals.items()]))
    slices = slices_of(metrics_by_file)
    if slices:
        fields = list(dict.fromkeys(field for scores in slices.values() for field in scores))
        rows = [[name, *(scores.get(f, "") for f in fields)] for name, scores in slices.items()]
        tables.append(("slices", ["slice", *fields], rows))
    return tables


def format_metrics(root: Path) -> str:
    """A plain-text table per metrics file, then per class (or residuals), then slices."""
    blocks = []
    for title, header, rows in _tables(root):
        cells = [header, *([_value(v) for v in row] for row in rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        lines = [title]
        for row in cells:
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks) if blocks else "no metrics files in dvc.yaml"


def format_metrics_markdown(root: Path) -> str:
    """The same tables as Markdown, for a CI job summary."""
    blocks = []
    for title, header, rows in _tables(root):
        lines = [
            f"**{_cell(title)}**",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "_No metrics files in `dvc.yaml`._"

"""YOURS to replace: score the model on held-out data. Metrics, per-class scores, named slices, per-row predictions.

The contract's `target.task` decides the metrics: accuracy, macro-F1 and per-class scores for a classification; MAE,
RMSE and R² for a regression. The per-row predictions (id, target, prediction, and a classification's class
probabilities) are what the template's report and quality gate read; keep writing them in that shape when you
change the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from digitnet.model import SavedModel
from digitnet.predict import predict
from mlci.contract import DataContract

# Slices: named subsets of the test data where a model may do worse than on average.
# Add your own here: a name and a function from the raw frame to a boolean mask.
FAINT_INK_THRESHOLD = 285  # total ink below this is about the faintest quarter of the digits
OFF_CENTRE_PIXELS = 0.45  # horizontal centre of ink this far from the image centre: about 15%
IMAGE_SIDE = 8


def _ink(frame: pd.DataFrame) -> np.ndarray:
    pixels = [column for column in frame.columns if str(column).startswith("pixel_")]
    return frame[pixels].to_numpy(dtype=np.float64).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def faint_ink(frame: pd.DataFrame) -> np.ndarray:
    """Digits written with little ink (thin or short strokes)."""
    return _ink(frame).sum(axis=(1, 2)) < FAINT_INK_THRESHOLD


def off_centre(frame: pd.DataFrame) -> np.ndarray:
    """Digits whose ink is shifted left or right of the image centre."""
    ink = _ink(frame)
    column_mass = ink.sum(axis=1)
    total = np.maximum(column_mass.sum(axis=1), 1e-9)
    centre = (column_mass * np.arange(IMAGE_SIDE)).sum(axis=1) / total
    return np.abs(centre - (IMAGE_SIDE - 1) / 2) > OFF_CENTRE_PIXELS


SLICES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "faint_ink": faint_ink,
    "off_centre": off_centre,
}


@dataclass(frozen=True)
class Evaluation:
    """The metrics as written to metrics.json (rounded, so the file is stable and readable: the task's scalar
    metrics first, then a classification's `per_class`, then `slices`) and the per-row predictions."""

    metrics: dict
    predictions: pd.DataFrame

    def summary(self) -> dict:
        return self.metrics

    def headline(self) -> dict[str, float]:
        """The scalar metrics, for the log line."""
        return {name: value for name, value in self.metrics.items() if isinstance(value, float)}


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts indexed [actual, predicted] of class indexes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def per_class_metrics(matrix: np.ndarray, classes: tuple) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class from a confusion matrix."""
    result = {}
    for position, label in enumerate(classes):
        true_positive = matrix[position, position]
        precision = _ratio(true_positive, matrix[:, position].sum())
        recall = _ratio(true_positive, matrix[position, :].sum())
        f1 = _ratio(2 * precision * recall, precision + recall)
        result[str(label)] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": int(matrix[position, :].sum()),
        }
    return result


def _slices(frame: pd.DataFrame, name: str, per_row: np.ndarray) -> dict[str, dict[str, float]]:
    """Each slice's mean of `per_row` (1 for a right row, or a row's absolute error) as `name`, and its row count."""
    slices = {}
    for slice_name, select in SLICES.items():
        mask = select(frame)
        slices[slice_name] = {name: round(_ratio(per_row[mask].sum(), mask.sum()), 6), "support": int(mask.sum())}
    return slices


def _classification_metrics(saved: SavedModel, frame: pd.DataFrame, scored: pd.DataFrame, target: str) -> dict:
    classes = saved.preprocessor.classes
    index = {label: position for position, label in enumerate(classes)}
    labels = frame[target].map(index).to_numpy(dtype=np.int64)
    predicted = scored["prediction"].map(index).to_numpy(dtype=np.int64)
    per_class = per_class_metrics(confusion_matrix(labels, predicted, len(classes)), classes)
    correct = predicted == labels
    return {
        "accuracy": round(_ratio(correct.sum(), len(labels)), 6),
        "macro_f1": round(float(np.mean([row["f1"] for row in per_class.values()])), 6),
        "per_class": per_class,
        "slices": _slices(frame, "accuracy", correct),
    }


def _regression_metrics(frame: pd.DataFrame, scored: pd.DataFrame, target: str) -> dict:
    actual = frame[target].to_numpy(dtype=np.float64)
    error = scored["prediction"].to_numpy(dtype=np.float64) - actual
    spread = float(((actual - actual.mean()) ** 2).sum()) if len(actual) else 0.0
    return {
        "mae": round(float(np.abs(error).mean()) if len(error) else 0.0, 6),
        "rmse": round(float(np.sqrt((error**2).mean())) if len(error) else 0.0, 6),
        "r2": round(1.0 - float((error**2).sum()) / spread if spread else 0.0, 6),
        "slices": _slices(frame, "mae", np.abs(error)),
    }


def evaluate(saved: SavedModel, frame: pd.DataFrame, contract: DataContract, batch_size: int = 512) -> Evaluation:
    """Score `saved` on `frame` (raw rows with the target)."""
    target = contract.target.name
    scored = predict(saved, frame, batch_size)
    if not saved.preprocessor.classes:  # a regression
        metrics = _regression_metrics(frame, scored, target)
    else:
        metrics = _classification_metrics(saved, frame, scored, target)
    ids = frame[contract.id] if contract.id else pd.Series(range(len(frame)))
    predictions = pd.concat([pd.DataFrame({"id": ids.to_numpy(), "target": frame[target].to_numpy()}), scored], axis=1)
    return Evaluation(metrics=metrics, predictions=predictions)

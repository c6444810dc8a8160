"""YOURS to replace: score the model on held-out data. Metrics, per-class scores, named slices, per-row predictions.

The per-row predictions (id, target, prediction, class probabilities) are what the template's report and quality
gate read; keep writing them in that shape when you change the metrics.
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
    """The metrics (as written to metrics.json) and the per-row predictions (as written to predictions.csv)."""

    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    slices: dict[str, dict[str, float]]
    predictions: pd.DataFrame

    def summary(self) -> dict:
        """The metrics as written to metrics.json (rounded, so the file is stable and readable)."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "slices": self.slices,
        }


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


def evaluate(saved: SavedModel, frame: pd.DataFrame, contract: DataContract, batch_size: int = 512) -> Evaluation:
    """Score `saved` on `frame` (raw rows with the target)."""
    classes = saved.preprocessor.classes
    index = {label: position for position, label in enumerate(classes)}
    scored = predict(saved, frame, batch_size)
    labels = frame[contract.target.name].map(index).to_numpy(dtype=np.int64)
    predicted = scored["prediction"].map(index).to_numpy(dtype=np.int64)
    per_class = per_class_metrics(confusion_matrix(labels, predicted, len(classes)), classes)
    correct = predicted == labels
    slices = {}
    for name, select in SLICES.items():
        mask = select(frame)
        slices[name] = {"accuracy": round(_ratio(correct[mask].sum(), mask.sum()), 6), "support": int(mask.sum())}
    ids = frame[contract.id] if contract.id else pd.Series(range(len(frame)))
    predictions = pd.concat(
        [pd.DataFrame({"id": ids.to_numpy(), "target": frame[contract.target.name].to_numpy()}), scored], axis=1
    )
    return Evaluation(
        accuracy=round(_ratio(correct.sum(), len(labels)), 6),
        macro_f1=round(float(np.mean([row["f1"] for row in per_class.values()])), 6),
        per_class=per_class,
        slices=slices,
        predictions=predictions,
    )

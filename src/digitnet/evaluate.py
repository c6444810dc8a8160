"""Evaluate a model on held-out data: accuracy, macro-F1, per-class metrics, named slices, confusion matrix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from digitnet.data import IMAGE_SIDE, NUM_CLASSES, PIXEL_COLUMNS, to_tensors

# Slices: named subsets of the test data where a model may do worse than on average.
# Add your own here: a name and a function from the raw frame to a boolean mask.
FAINT_INK_THRESHOLD = 285  # total ink below this is about the faintest quarter of the digits
OFF_CENTRE_PIXELS = 0.45  # horizontal centre of ink this far from the image centre: about 15%


def _ink(frame: pd.DataFrame) -> np.ndarray:
    return frame[PIXEL_COLUMNS].to_numpy(dtype=np.float64).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


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
class Metrics:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    slices: dict[str, dict[str, float]]
    labels: list[int]
    predictions: list[int]

    def summary(self) -> dict:
        """The metrics as written to metrics.json (rounded, so the file is stable and readable)."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "slices": self.slices,
        }


def predict(model: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Return the predicted class of each image."""
    model.eval()
    with torch.no_grad():
        chunks = [
            model(images[start : start + batch_size]).argmax(dim=1) for start in range(0, len(images), batch_size)
        ]
    return torch.cat(chunks) if chunks else torch.empty(0, dtype=torch.long)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Counts indexed [actual, predicted]."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def per_class_metrics(matrix: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class from a confusion matrix."""
    result = {}
    for label in range(NUM_CLASSES):
        true_positive = matrix[label, label]
        precision = _ratio(true_positive, matrix[:, label].sum())
        recall = _ratio(true_positive, matrix[label, :].sum())
        f1 = _ratio(2 * precision * recall, precision + recall)
        result[str(label)] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": int(matrix[label, :].sum()),
        }
    return result


def evaluate(model: nn.Module, frame: pd.DataFrame, batch_size: int = 512) -> Metrics:
    """Score `model` on `frame` (raw rows with labels)."""
    images, labels_tensor = to_tensors(frame)
    predictions = predict(model, images, batch_size).numpy()
    labels = labels_tensor.numpy()
    matrix = confusion_matrix(labels, predictions)
    per_class = per_class_metrics(matrix)
    correct = predictions == labels
    slices = {}
    for name, select in SLICES.items():
        mask = select(frame)
        slices[name] = {
            "accuracy": round(_ratio(correct[mask].sum(), mask.sum()), 6),
            "support": int(mask.sum()),
        }
    return Metrics(
        accuracy=round(_ratio(correct.sum(), len(labels)), 6),
        macro_f1=round(float(np.mean([row["f1"] for row in per_class.values()])), 6),
        per_class=per_class,
        slices=slices,
        labels=labels.tolist(),
        predictions=predictions.tolist(),
    )

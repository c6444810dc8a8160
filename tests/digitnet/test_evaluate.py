import numpy as np
import pandas as pd
import torch
from torch import nn

from digitnet.data import PIXEL_COLUMNS
from digitnet.evaluate import (
    SLICES,
    confusion_matrix,
    evaluate,
    faint_ink,
    off_centre,
    per_class_metrics,
)


def test_confusion_matrix_counts_actual_by_predicted():
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]))
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 1] == 1 and matrix[2, 1] == 1
    assert matrix.sum() == 4


def test_per_class_metrics_from_a_known_matrix():
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]))
    metrics = per_class_metrics(matrix)
    assert metrics["0"] == {"precision": 1.0, "recall": 0.5, "f1": 0.666667, "support": 2}
    assert metrics["1"] == {"precision": 0.333333, "recall": 1.0, "f1": 0.5, "support": 1}
    assert metrics["2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["9"]["support"] == 0


def _frame_with_ink(columns_with_ink: list[int], value: int) -> pd.DataFrame:
    pixels = np.zeros((1, 64), dtype=np.int64)
    for row in range(8):
        for col in columns_with_ink:
            pixels[0, row * 8 + col] = value
    return pd.DataFrame(pixels, columns=PIXEL_COLUMNS)


def test_slices_select_faint_and_off_centre_digits():
    centred_bold = _frame_with_ink([2, 3, 4, 5], 16)
    left_faint = _frame_with_ink([0, 1], 2)
    assert not faint_ink(centred_bold)[0] and faint_ink(left_faint)[0]
    assert not off_centre(centred_bold)[0] and off_centre(left_faint)[0]


class _AlwaysPredicts(nn.Module):
    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(images), 10)
        logits[:, self.label] = 1.0
        return logits


def test_evaluate_scores_a_constant_model(digits):
    frame = digits.head(200)
    metrics = evaluate(_AlwaysPredicts(3), frame, batch_size=64)
    share_of_threes = round(float((frame["label"] == 3).mean()), 6)
    assert metrics.accuracy == share_of_threes
    assert metrics.per_class["3"]["recall"] == 1.0
    assert set(metrics.slices) == set(SLICES)
    assert sum(row["support"] for row in metrics.per_class.values()) == 200
    assert set(metrics.summary()) == {"accuracy", "macro_f1", "per_class", "slices"}

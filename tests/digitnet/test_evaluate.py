"""Evaluation: metrics from a confusion matrix, the named slices, and the per-row predictions the template reads."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from digitnet.evaluate import SLICES, confusion_matrix, evaluate, faint_ink, off_centre, per_class_metrics
from digitnet.model import ModelSpec, SavedModel

CLASSES = tuple(range(10))


def test_confusion_matrix_counts_actual_by_predicted():
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), num_classes=10)
    assert matrix.shape == (10, 10)
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 1] == 1 and matrix[2, 1] == 1
    assert matrix.sum() == 4


def test_per_class_metrics_from_a_known_matrix():
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), num_classes=10)
    metrics = per_class_metrics(matrix, CLASSES)
    assert metrics["0"] == {"precision": 1.0, "recall": 0.5, "f1": 0.666667, "support": 2}
    assert metrics["1"] == {"precision": 0.333333, "recall": 1.0, "f1": 0.5, "support": 1}
    assert metrics["2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["9"]["support"] == 0


def _frame_with_ink(columns_with_ink: list[int], value: int, features: list[str]) -> pd.DataFrame:
    pixels = np.zeros((1, 64), dtype=np.int64)
    for row in range(8):
        for col in columns_with_ink:
            pixels[0, row * 8 + col] = value
    return pd.DataFrame(pixels, columns=features)


def test_slices_select_faint_and_off_centre_digits(contract):
    centred_bold = _frame_with_ink([2, 3, 4, 5], 16, contract.feature_names)
    left_faint = _frame_with_ink([0, 1], 2, contract.feature_names)
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


@pytest.fixture
def constant_model(preprocessor) -> SavedModel:
    return SavedModel(_AlwaysPredicts(3), ModelSpec(channels=8, depth=2, dropout=0.0), preprocessor)


def test_evaluate_scores_a_constant_model(constant_model, digits, contract):
    frame = digits.head(200)
    evaluation = evaluate(constant_model, frame, contract, batch_size=64)
    assert evaluation.accuracy == round(float((frame["label"] == 3).mean()), 6)
    assert evaluation.per_class["3"]["recall"] == 1.0
    assert set(evaluation.slices) == set(SLICES)
    assert sum(row["support"] for row in evaluation.per_class.values()) == 200
    assert set(evaluation.summary()) == {"accuracy", "macro_f1", "per_class", "slices"}


def test_predictions_have_one_row_per_input_row_with_id_target_and_probabilities(constant_model, digits, contract):
    frame = digits.head(200)
    predictions = evaluate(constant_model, frame, contract, batch_size=64).predictions
    assert list(predictions.columns) == ["id", "target", "prediction", *(f"proba_{label}" for label in CLASSES)]
    assert predictions["id"].tolist() == frame["id"].tolist()
    assert predictions["target"].tolist() == frame["label"].tolist()
    assert (predictions["prediction"] == 3).all()
    probabilities = predictions[[f"proba_{label}" for label in CLASSES]]
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities.idxmax(axis=1) == "proba_3").all()

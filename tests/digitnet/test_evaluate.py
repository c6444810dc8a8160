"""Evaluation: metrics from a confusion matrix, the named slices, and the per-row predictions the template reads."""

import numpy as np
import pytest
import torch
from torch import nn

from digitnet.config import TrainConfig
from digitnet.evaluate import SLICES, confusion_matrix, evaluate, per_class_metrics
from digitnet.model import SavedModel

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


class _AlwaysPredicts(nn.Module):
    """Always the class at `index` (one-hot logits), or with one output (a regression) always 0: the training
    split's mean once the preprocessor turns it back into the target's units."""

    def __init__(self, index: int, outputs: int) -> None:
        super().__init__()
        self.index = index
        self.head = nn.Linear(1, outputs)  # predict() reads the output width from the last linear layer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(inputs), self.head.out_features)
        if self.head.out_features > 1:
            logits[:, self.index] = 1.0
        return logits


# A sample of the data, of any size the contract allows (a small data set may have fewer rows than this).
SAMPLE_ROWS = 200


@pytest.fixture
def constant_model(preprocessor, spec_for) -> SavedModel:
    """A model that always predicts the second class (a regression: the training mean)."""
    spec = spec_for(TrainConfig(channels=8, depth=2, dropout=0.0))
    return SavedModel(_AlwaysPredicts(1, len(preprocessor.classes) or 1), spec, preprocessor)


def test_evaluate_scores_a_constant_model(constant_model, raw_data, contract):
    frame = raw_data.head(SAMPLE_ROWS)
    evaluation = evaluate(constant_model, frame, contract, batch_size=64)
    assert set(evaluation.metrics["slices"]) == set(SLICES)
    if not contract.target.is_classification:
        error = (frame[contract.target.name] - constant_model.preprocessor.target_mean).abs()
        assert evaluation.metrics["mae"] == pytest.approx(error.mean(), abs=1e-5)
        assert list(evaluation.summary()) == ["mae", "rmse", "r2", "slices"]
        return
    label = constant_model.preprocessor.classes[1]
    assert evaluation.metrics["accuracy"] == round(float((frame[contract.target.name] == label).mean()), 6)
    assert evaluation.metrics["per_class"][str(label)]["recall"] == 1.0
    assert sum(row["support"] for row in evaluation.metrics["per_class"].values()) == len(frame)
    assert list(evaluation.summary()) == ["accuracy", "macro_f1", "per_class", "slices"]


def test_every_slice_selects_a_boolean_mask_of_the_rows(raw_data):
    frame = raw_data.head(SAMPLE_ROWS)
    for name, select in SLICES.items():
        mask = np.asarray(select(frame))
        assert mask.dtype == bool and mask.shape == (len(frame),), name


def test_predictions_have_one_row_per_input_row_with_id_target_and_probabilities(constant_model, raw_data, contract):
    frame = raw_data.head(SAMPLE_ROWS)
    classes = constant_model.preprocessor.classes
    predictions = evaluate(constant_model, frame, contract, batch_size=64).predictions
    probabilities = [f"proba_{label}" for label in classes]
    assert list(predictions.columns) == ["id", "target", "prediction", *probabilities]
    assert predictions["id"].tolist() == frame[contract.id].tolist()
    assert predictions["target"].tolist() == frame[contract.target.name].tolist()
    if not classes:  # a regression: the training mean in every row
        assert np.allclose(predictions["prediction"], constant_model.preprocessor.target_mean, atol=1e-5)
        return
    assert (predictions["prediction"] == classes[1]).all()
    assert np.allclose(predictions[probabilities].sum(axis=1), 1.0, atol=1e-5)
    assert (predictions[probabilities].idxmax(axis=1) == f"proba_{classes[1]}").all()

"""YOURS to replace: the one function that turns rows into predictions, used by evaluate and by the model server.

Rows follow the data contract's feature schema (extra columns, such as the id or the target, are ignored).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from digitnet.model import SavedModel
from mlci.errors import DataError

# Probabilities and values are written rounded, so the predictions file is stable across platforms and readable.
PROBABILITY_DECIMALS = 6


def _batched(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int, transform=None) -> torch.Tensor:
    """The network's outputs (N, outputs), computed batch by batch without gradients, each batch transformed."""
    model.eval()
    with torch.no_grad():
        chunks = [model(inputs[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
        chunks = [transform(chunk) for chunk in chunks] if transform else chunks
    return torch.cat(chunks) if chunks else torch.empty(0, model_outputs(model))


def class_probabilities(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Softmax probabilities (N, classes), computed batch by batch without gradients."""
    return _batched(model, inputs, batch_size, transform=lambda logits: logits.softmax(dim=1))


def model_outputs(model: torch.nn.Module) -> int:
    last = [module for module in model.modules() if isinstance(module, torch.nn.Linear)][-1]
    return last.out_features


def predict(saved: SavedModel, rows: pd.DataFrame, batch_size: int = 512) -> pd.DataFrame:
    """One row per input row: `prediction` (a class label) and `proba_<class>` for every class; for a regression,
    `prediction` (a value in the target's units) alone."""
    missing = [column for column in saved.preprocessor.features if column not in rows.columns]
    if missing:
        raise DataError(f"missing feature column(s): {', '.join(missing)}")
    inputs = saved.preprocessor.inputs(rows)
    if not saved.preprocessor.classes:  # a regression
        values = saved.preprocessor.values(_batched(saved.model, inputs, batch_size).numpy())
        return pd.DataFrame({"prediction": values.round(PROBABILITY_DECIMALS)})
    probabilities = class_probabilities(saved.model, inputs, batch_size).numpy()
    classes = saved.preprocessor.classes
    predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)] if len(rows) else []
    # One frame from one array (not a column at a time): this runs on every request the model server answers.
    frame = pd.DataFrame(
        probabilities.round(PROBABILITY_DECIMALS).reshape(len(rows), len(classes)),
        columns=[f"proba_{label}" for label in classes],
    )
    frame.insert(0, "prediction", list(predicted))
    return frame

"""YOURS to replace: the project's side of the model server (`mlci serve`), registered in pyproject.toml as

    [project.entry-points."mlci"]
    predictor = "digitnet.serving:load_predictor"

The server calls `load_predictor` once at start-up and then the returned callable on each request's rows, already
checked against the data contract. Keep the signature; change what it loads and calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from digitnet.errors import UserFacingError
from digitnet.model import load_model
from digitnet.predict import predict

MODEL_FILE = "model.pt"  # inside the model folder the train stage writes


class _OnDevice(torch.nn.Module):
    """The model on `device`, taking and returning CPU tensors, so `predict` runs unchanged on a GPU."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        super().__init__()
        self.model = model.to(device)
        self.device = device

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs.to(self.device, non_blocking=True)).float().cpu()


def select_device(requested: str) -> torch.device:
    """`auto`: CUDA when present, else the CPU."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserFacingError("serving on 'cuda' was asked for, but no CUDA device is available")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def load_predictor(model_path: str | Path, device: str = "auto") -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Load the model once; return rows -> predictions (`prediction`, `proba_<class>`), as the evaluate stage writes."""
    path = Path(model_path)
    saved = load_model(path / MODEL_FILE if path.is_dir() else path)
    where = select_device(device)
    if where.type != "cpu":
        saved = replace(saved, model=_OnDevice(saved.model, where).eval())

    def predict_rows(rows: pd.DataFrame) -> pd.DataFrame:
        return predict(saved, rows)

    predict_rows.device = str(where)  # what /metadata reports
    return predict_rows

"""YOURS to replace: turn rows into tensors, with whatever is fitted on the training split saved with the model.

Here the features are 8x8 pixel intensities, scaled to [0, 1] by the contract's largest allowed value, and the
target's classes become indexes. For tabular data this is where a standardiser (mean and std fitted on the training
split) or an encoder of categories goes: `fit_preprocessor` sees only the training split, and `to_dict` travels in
the model file, so evaluation and serving transform rows exactly as training did.

What the rest of the package uses, so keep these names when you replace it: `fit_preprocessor(train, contract)`,
`to_tensors(frame, preprocessor, target)`, and a `Preprocessor` with `features` (the raw columns it reads),
`classes` (the target's labels in index order), `inputs(frame)`, `targets(frame, column)`, `to_dict()` and
`from_dict()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlci.contract import DataContract

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preprocessor:
    """Feature columns and their scale, and the class labels in index order."""

    features: tuple[str, ...]
    scale: float
    classes: tuple

    @property
    def image_side(self) -> int:
        return math.isqrt(len(self.features))

    def inputs(self, frame: pd.DataFrame) -> torch.Tensor:
        """Rows to float32 images (N, 1, side, side) in [0, 1]."""
        import torch  # here, not at the top: the split stage needs no torch (seconds to import)

        pixels = frame[list(self.features)].to_numpy(dtype=np.float32) / self.scale
        return torch.tensor(pixels).reshape(-1, 1, self.image_side, self.image_side)

    def targets(self, frame: pd.DataFrame, column: str) -> torch.Tensor:
        """Class labels to int64 indexes into `classes`."""
        import torch

        index = {label: position for position, label in enumerate(self.classes)}
        return torch.tensor(frame[column].map(index).to_numpy(dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "scale": self.scale, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Preprocessor:
        return cls(features=tuple(saved["features"]), scale=float(saved["scale"]), classes=tuple(saved["classes"]))


def fit_preprocessor(train: pd.DataFrame, contract: DataContract) -> Preprocessor:
    """Fit on the training split. The pixel scale is the contract's largest allowed value, not the data's, so one
    faint training split cannot change it."""
    maxima = [feature.max for feature in contract.features if feature.max is not None]
    scale = float(max(maxima)) if maxima else float(train[contract.feature_names].to_numpy().max())
    return Preprocessor(features=tuple(contract.feature_names), scale=scale, classes=tuple(contract.target.classes))


def to_tensors(frame: pd.DataFrame, preprocessor: Preprocessor, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and target indexes of a labelled frame."""
    return preprocessor.inputs(frame), preprocessor.targets(frame, target)

"""YOURS to replace: turn rows into tensors, with whatever is fitted on the training split saved with the model.

Here the features are 8x8 pixel intensities, scaled to [0, 1] by the contract's largest allowed value. The target
follows the contract's `target.task`: a classification's classes become indexes; a regression's values are
standardised with the training split's mean and std (the network predicts z-scores; `values` undoes it). For
tabular data this is where a standardiser (mean and std fitted on the training split) or an encoder of categories
goes: `fit_preprocessor` sees only the training split, and `to_dict` travels in the model file, so evaluation and
serving transform rows exactly as training did.

What the rest of the package uses, so keep these names when you replace it: `fit_preprocessor(train, contract)`,
`to_tensors(frame, preprocessor, target)`, and a `Preprocessor` with `features` (the raw columns it reads),
`classes` (the target's labels in index order), `inputs(frame)`, `targets(frame, column)`, `to_dict()` and
`from_dict()`; for a regression, `classes` is empty and `target_std` and `values(outputs)` turn the network's
z-scores back into the target's units.
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
    """Feature columns and their scale; the class labels in index order, or (a regression) the target's mean and
    std on the training split."""

    features: tuple[str, ...]
    scale: float
    classes: tuple
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def image_side(self) -> int:
        return math.isqrt(len(self.features))

    @property
    def is_regression(self) -> bool:
        return not self.classes

    @property
    def outputs(self) -> int:
        """One logit per class, or one value."""
        return len(self.classes) or 1

    def inputs(self, frame: pd.DataFrame) -> torch.Tensor:
        """Rows to float32 images (N, 1, side, side) in [0, 1]."""
        import torch  # here, not at the top: the split stage needs no torch (seconds to import)

        pixels = frame[list(self.features)].to_numpy(dtype=np.float32) / self.scale
        return torch.tensor(pixels).reshape(-1, 1, self.image_side, self.image_side)

    def targets(self, frame: pd.DataFrame, column: str) -> torch.Tensor:
        """Class labels to int64 indexes into `classes`; regression values to float32 z-scores."""
        import torch

        if self.is_regression:
            values = (frame[column].to_numpy(dtype=np.float64) - self.target_mean) / self.target_std
            return torch.tensor(values.astype(np.float32))
        index = {label: position for position, label in enumerate(self.classes)}
        return torch.tensor(frame[column].map(index).to_numpy(dtype=np.int64))

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """A regression network's outputs (N, 1) back in the target's units."""
        return outputs[:, 0].astype(np.float64) * self.target_std + self.target_mean

    def to_dict(self) -> dict[str, Any]:
        saved: dict[str, Any] = {"features": list(self.features), "scale": self.scale, "classes": list(self.classes)}
        if self.is_regression:
            saved.update(target_mean=self.target_mean, target_std=self.target_std)
        return saved

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Preprocessor:
        return cls(
            features=tuple(saved["features"]),
            scale=float(saved["scale"]),
            classes=tuple(saved["classes"]),
            target_mean=float(saved.get("target_mean", 0.0)),
            target_std=float(saved.get("target_std", 1.0)),
        )


def fit_preprocessor(train: pd.DataFrame, contract: DataContract) -> Preprocessor:
    """Fit on the training split. The pixel scale is the contract's largest allowed value, not the data's, so one
    faint training split cannot change it; a regression target's mean and std are the training split's."""
    maxima = [feature.max for feature in contract.features if feature.max is not None]
    scale = float(max(maxima)) if maxima else float(train[contract.feature_names].to_numpy().max())
    features = tuple(contract.feature_names)
    if contract.target.is_classification:
        return Preprocessor(features=features, scale=scale, classes=tuple(contract.target.classes))
    target = train[contract.target.name].to_numpy(dtype=np.float64)
    std = float(target.std())
    return Preprocessor(features, scale, (), target_mean=float(target.mean()), target_std=std if std > 0 else 1.0)


def to_tensors(frame: pd.DataFrame, preprocessor: Preprocessor, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (class indexes, or standardised values) of a labelled frame."""
    return preprocessor.inputs(frame), preprocessor.targets(frame, target)

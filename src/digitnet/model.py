"""YOURS to replace: the model, a small CNN whose width and depth come from params.yaml, and its file format.

What the rest of the package uses, so keep these names when you replace it: `ModelSpec.for_data(config,
preprocessor)` (the network's shape for the train section and the fitted preprocessor), `build_model(spec, seed)`,
`save_model`, `load_model` and `SavedModel` (model, spec, preprocessor).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from digitnet.config import TrainConfig
from digitnet.errors import UserFacingError
from digitnet.preprocess import Preprocessor
from digitnet.storage import save_whole

IMAGE_SIDE = 8
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild the network: saved next to its weights."""

    channels: int
    depth: int
    dropout: float
    num_classes: int = NUM_CLASSES  # the output width: one logit per class, or 1 for a regression
    image_side: int = IMAGE_SIDE

    @classmethod
    def from_config(cls, config: TrainConfig) -> ModelSpec:
        return cls(channels=config.channels, depth=config.depth, dropout=config.dropout)

    @classmethod
    def for_data(cls, config: TrainConfig, preprocessor: Preprocessor) -> ModelSpec:
        """The spec for the data the preprocessor was fitted on: its image size and output width."""
        return dataclasses.replace(
            cls.from_config(config), num_classes=preprocessor.outputs, image_side=preprocessor.image_side
        )


class DigitCNN(nn.Module):
    """`depth` blocks of 3x3 conv + ReLU + 2x2 max-pool, then dropout and a linear head (class logits, or a value)."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels, side = 1, spec.image_side
        for _ in range(spec.depth):
            blocks += [
                nn.Conv2d(in_channels, spec.channels, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels, side = spec.channels, side // 2
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.channels * side * side, spec.num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


def build_model(spec: ModelSpec, seed: int) -> DigitCNN:
    """Build the network with weights drawn from `seed`, without touching the global RNG's later state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DigitCNN(spec)


@dataclass(frozen=True)
class SavedModel:
    """A trained model with what it takes to use it: its spec and the preprocessing fitted with it."""

    model: DigitCNN
    spec: ModelSpec
    preprocessor: Preprocessor


def save_model(model: nn.Module, spec: ModelSpec, preprocessor: Preprocessor, path: str | Path) -> None:
    """Save weights, spec and preprocessing together; written to a temporary file first so a crash (or a full disk:
    SaveFailed, one line) leaves no half file. Only tensors and plain values: it loads with `weights_only=True`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    save_whole({"spec": asdict(spec), "preprocessor": preprocessor.to_dict(), "state_dict": state}, path)


def load_model(path: str | Path) -> SavedModel:
    """Load a model saved by `save_model`, on the CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"{path} not found: run `dvc repro train` first")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        spec = ModelSpec(**saved["spec"])
        model = DigitCNN(spec)
        model.load_state_dict(saved["state_dict"])
        preprocessor = Preprocessor.from_dict(saved["preprocessor"])
    except Exception as error:  # a truncated or foreign file: the fix is the same whatever torch raised
        raise UserFacingError(
            f"{path} is not a model saved by this project ({type(error).__name__}): rebuild it with `dvc repro train`"
        ) from error
    return SavedModel(model.eval(), spec, preprocessor)

"""The model: a small CNN whose width and depth come from params.yaml. Replace it with your own here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from digitnet.config import TrainConfig
from digitnet.data import IMAGE_SIDE, NUM_CLASSES
from digitnet.errors import UserFacingError


@dataclass(frozen=True)
class ModelSpec:
    """What it takes to rebuild the network: saved next to its weights."""

    channels: int
    depth: int
    dropout: float
    num_classes: int = NUM_CLASSES

    @classmethod
    def from_config(cls, config: TrainConfig) -> ModelSpec:
        return cls(channels=config.channels, depth=config.depth, dropout=config.dropout)


class DigitCNN(nn.Module):
    """`depth` blocks of 3x3 conv + ReLU + 2x2 max-pool, then dropout and a linear classifier."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels, side = 1, IMAGE_SIDE
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


def save_model(model: nn.Module, spec: ModelSpec, path: str | Path) -> None:
    """Save weights and spec together; written to a temporary file first so a crash leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    torch.save({"spec": asdict(spec), "state_dict": state}, partial)
    partial.replace(path)


def load_model(path: str | Path) -> tuple[DigitCNN, ModelSpec]:
    """Load a model saved by `save_model`, on the CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"{path} not found: run `dvc repro train` first")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    spec = ModelSpec(**saved["spec"])
    model = DigitCNN(spec)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), spec

"""The reference project's fixtures: the preprocessor fitted on the training split, the split as
tensors, and a scratch project (params, data and data contract) for running the `digitnet`
commands with their default paths."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from digitnet.preprocess import Preprocessor, fit_preprocessor, to_tensors

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "data.schema.yaml"

Tensors = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SplitTensors:
    """The reference split as model inputs and target indexes."""

    train: Tensors
    val: Tensors
    test: Tensors


@pytest.fixture(scope="session")
def preprocessor(digits_split, contract) -> Preprocessor:
    return fit_preprocessor(digits_split.train, contract)


@pytest.fixture
def split_tensors(digits_split, preprocessor, contract) -> SplitTensors:
    """Fresh tensors per test (a test may write into them)."""
    target = contract.target.name
    return SplitTensors(
        *(
            to_tensors(frame, preprocessor, target)
            for frame in (digits_split.train, digits_split.val, digits_split.test)
        )
    )


@pytest.fixture(scope="session")
def write_project(digits: pd.DataFrame) -> Callable[[Path, dict], Path]:
    """Write a scratch project into a folder: params.yaml, the real data and the data contract (the commands read
    data.schema.yaml by default)."""

    def write(root: Path, params: dict) -> Path:
        (root / "data").mkdir(parents=True, exist_ok=True)
        digits.to_csv(root / "data" / "digits.csv", index=False)
        shutil.copyfile(CONTRACT, root / "data.schema.yaml")
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        return root

    return write

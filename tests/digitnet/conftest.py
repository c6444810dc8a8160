"""The reference project's fixtures: the data the contract names (pulled by `make test`), its split, the preprocessor
fitted on the training split, the split as tensors, tiny configs and the model spec for them, and a scratch project
(params, data and data contract) for running the `digitnet` commands with their default paths.

Everything here reads the data contract (data.schema.yaml) and the data it names, so these fixtures, and the tests of
training, saving, the CLI and the split that use them, keep working when you swap in your own data and model.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from digitnet.config import SplitConfig, TrainConfig
from digitnet.data import Split, load_data_contract, read_raw_csv, split_frame
from digitnet.model import ModelSpec
from digitnet.preprocess import Preprocessor, fit_preprocessor, to_tensors
from mlci.contract import DataContract

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "data.schema.yaml"

Tensors = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SplitTensors:
    """The split as model inputs and target indexes."""

    train: Tensors
    val: Tensors
    test: Tensors


@pytest.fixture(scope="session")
def contract() -> DataContract:
    """The project's data contract."""
    return load_data_contract(CONTRACT)


@pytest.fixture(scope="session")
def raw_data(contract: DataContract) -> pd.DataFrame:
    """The data file the contract names; `make test` pulls it first (`make data`)."""
    path = REPO_ROOT / contract.path
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make data` (or `make test`, which does)")
    return read_raw_csv(path)


@pytest.fixture(scope="session")
def data_split(raw_data: pd.DataFrame, contract: DataContract) -> Split:
    return split_frame(raw_data, SplitConfig(), contract)


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    """Small and quick: a few epochs of a narrow network, on the CPU."""
    return TrainConfig(epochs=3, batch_size=64, channels=8, depth=2, dropout=0.1, device="cpu")


@pytest.fixture(scope="session")
def preprocessor(data_split, contract) -> Preprocessor:
    return fit_preprocessor(data_split.train, contract)


@pytest.fixture(scope="session")
def spec_for(preprocessor) -> Callable[[TrainConfig], ModelSpec]:
    """The model spec for a train config and the data (as the train command builds it)."""
    return lambda config: ModelSpec.for_data(config, preprocessor)


@pytest.fixture
def split_tensors(data_split, preprocessor, contract) -> SplitTensors:
    """Fresh tensors per test (a test may write into them)."""
    target = contract.target.name
    return SplitTensors(
        *(to_tensors(frame, preprocessor, target) for frame in (data_split.train, data_split.val, data_split.test))
    )


@pytest.fixture(scope="session")
def write_project(raw_data: pd.DataFrame, contract: DataContract) -> Callable[[Path, dict], Path]:
    """Write a scratch project into a folder: params.yaml, the real data where the contract names it, and the data
    contract (the commands read data.schema.yaml by default)."""

    def write(root: Path, params: dict) -> Path:
        data = root / contract.path
        data.parent.mkdir(parents=True, exist_ok=True)
        raw_data.to_csv(data, index=False)
        shutil.copyfile(CONTRACT, root / "data.schema.yaml")
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        return root

    return write

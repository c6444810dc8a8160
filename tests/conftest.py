"""Shared fixtures: the real digits data (pulled by `make test`), tiny configs, and the GPU marker's skip."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from digitnet.config import SplitConfig, TrainConfig
from digitnet.data import read_raw_csv, split_frame

REPO_ROOT = Path(__file__).resolve().parents[1]
DIGITS_CSV = REPO_ROOT / "data" / "digits.csv"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device; none is available here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def digits() -> pd.DataFrame:
    """The real data set; `make test` runs `dvc pull` first."""
    if not DIGITS_CSV.is_file():
        pytest.fail(f"{DIGITS_CSV} is missing: run `dvc pull` (or `make test`, which does)")
    return read_raw_csv(DIGITS_CSV)


@pytest.fixture(scope="session")
def digits_split(digits: pd.DataFrame):
    return split_frame(digits, SplitConfig())


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    """Small and quick: a few epochs of a narrow network, on the CPU."""
    return TrainConfig(epochs=3, batch_size=64, channels=8, depth=2, dropout=0.1, device="cpu")

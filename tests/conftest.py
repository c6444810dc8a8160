"""Shared fixtures: the real digits data (pulled by `make test`), tiny configs, the project's image built once per
session, and the GPU marker's skip."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from digitnet.config import SplitConfig, TrainConfig
from digitnet.data import read_raw_csv, split_frame

REPO_ROOT = Path(__file__).resolve().parents[1]
DIGITS_CSV = REPO_ROOT / "data" / "digits.csv"
IMAGE_BUILD_SCRIPT = REPO_ROOT / "tests" / "docker" / "build_image.sh"
PODMAN_CONF = REPO_ROOT / "tests" / "docker" / "containers.conf"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Test modules import the shared helpers at this level (project_copy) by name.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))


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


@dataclass(frozen=True)
class ProjectImage:
    """The image built from the Dockerfile, and the wheelhouse it was built from (pip's only source inside)."""

    tag: str
    wheels: Path


@pytest.fixture(scope="session")
def project_image(tmp_path_factory: pytest.TempPathFactory) -> ProjectImage:
    """The project's image, built with podman offline (tests/docker/build_image.sh); modules that use it skip
    where podman or mmdebstrap is missing."""
    tag = "localhost/digitnet:pytest"
    cache = tmp_path_factory.mktemp("image-build")
    built = subprocess.run(
        [str(IMAGE_BUILD_SCRIPT), tag],
        env={**os.environ, "CONTAINERS_CONF": str(PODMAN_CONF), "IMAGE_BUILD_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=45 * 60,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return ProjectImage(tag, cache / "wheels")

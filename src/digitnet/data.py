"""Load the raw digits CSV with clear errors, split it (stratified, deterministic), and turn it into tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from digitnet.config import SplitConfig
from digitnet.errors import UserFacingError

if TYPE_CHECKING:
    import torch

# The data's schema. Edit here (and the GX suite under gx/) when you bring your own data.
IMAGE_SIDE = 8
PIXEL_COLUMNS = [f"pixel_{row}_{col}" for row in range(IMAGE_SIDE) for col in range(IMAGE_SIDE)]
ID_COLUMN = "id"
LABEL_COLUMN = "label"
COLUMNS = [ID_COLUMN, *PIXEL_COLUMNS, LABEL_COLUMN]
NUM_CLASSES = 10
PIXEL_MAX = 16


class DataError(UserFacingError):
    """The data file is missing or cannot be read as a CSV."""


@dataclass(frozen=True)
class Split:
    """The three frames a split produces."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def read_raw_csv(path: str | Path) -> pd.DataFrame:
    """Read a raw CSV, turning every way it can be unreadable into a DataError that says what to do."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found: run `dvc pull` to fetch the tracked data")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path} is empty: run `dvc pull` to restore the tracked data") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not a text CSV (not valid UTF-8)") from error
    except pd.errors.ParserError as error:
        reason = str(error).strip().splitlines()[-1]
        raise DataError(f"{path} is not a well-formed CSV: {reason}") from error
    return frame


def split_frame(frame: pd.DataFrame, config: SplitConfig) -> Split:
    """Split rows into train/val/test, stratified by label, the same way for the same seed."""
    rng = np.random.default_rng(config.seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    ordered = frame.sort_values(ID_COLUMN, kind="stable")
    for _, group in ordered.groupby(LABEL_COLUMN, sort=True):
        positions = rng.permutation(len(group))
        n_test = int(round(len(group) * config.test_fraction))
        n_val = int(round(len(group) * config.val_fraction))
        ids = group[ID_COLUMN].to_numpy()[positions]
        parts["test"].append(ids[:n_test])
        parts["val"].append(ids[n_test : n_test + n_val])
        parts["train"].append(ids[n_test + n_val :])

    def rows(name: str) -> pd.DataFrame:
        wanted = np.sort(np.concatenate(parts[name]))
        return ordered[ordered[ID_COLUMN].isin(wanted)].reset_index(drop=True)

    return Split(train=rows("train"), val=rows("val"), test=rows("test"))


def to_tensors(frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
    """Return images as float32 (N, 1, 8, 8) scaled to [0, 1] and labels as int64 (N,)."""
    import torch  # here, not at the top: the split and validate stages need no torch (seconds to import)

    pixels = frame[PIXEL_COLUMNS].to_numpy(dtype=np.float32) / PIXEL_MAX
    images = torch.tensor(pixels).reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
    labels = torch.tensor(frame[LABEL_COLUMN].to_numpy(dtype=np.int64))
    return images, labels

"""YOURS to replace: read the raw data named by the data contract and split it (stratified, deterministic).

The contract (data.schema.yaml) names the file, the id, the target and the features; nothing here repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from digitnet.config import SplitConfig
from mlci.contract import DataContract, load_contract, read_csv
from mlci.errors import DataError  # noqa: F401  (re-exported: the error a bad data file raises)
from mlci.files import CONTRACT


@dataclass(frozen=True)
class Split:
    """The three frames a split produces."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def read_raw_csv(path: str | Path) -> pd.DataFrame:
    """Read a raw CSV; a missing, empty, ragged or non-CSV file raises a DataError that says what to do."""
    return read_csv(path)


def load_data_contract(path: str | Path = CONTRACT) -> DataContract:
    """The data contract: which columns are the id, the target and the features."""
    return load_contract(path)


def split_frame(frame: pd.DataFrame, config: SplitConfig, contract: DataContract) -> Split:
    """Split rows into train/val/test, stratified by the target's classes, the same way for the same seed.

    Rows are ordered by the contract's id first (or kept in file order without one), so the split does not depend
    on the file's row order. A regression target is split at random, without strata.
    """
    rng = np.random.default_rng(config.seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    ordered = frame.sort_values(contract.id, kind="stable") if contract.id else frame
    ordered = ordered.reset_index(drop=True)
    target = contract.target
    groups = ordered.groupby(target.name, sort=True) if target.is_classification else [(None, ordered)]
    for _, group in groups:
        positions = rng.permutation(len(group))
        n_test = int(round(len(group) * config.test_fraction))
        n_val = int(round(len(group) * config.val_fraction))
        rows = group.index.to_numpy()[positions]
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])

    def rows(name: str) -> pd.DataFrame:
        return ordered.loc[np.sort(np.concatenate(parts[name]))].reset_index(drop=True)

    return Split(train=rows("train"), val=rows("val"), test=rows("test"))

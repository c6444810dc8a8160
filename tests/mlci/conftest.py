"""Synthetic contracts and frames for the contract, suite, validation and summary tests, and one GX run per case.

Three contracts cover what a user's data may be: a mixed table (float, int, nullable int, two categories — one
written as numbers —, text, a nullable float, string classes), a binary table with an integer target, and a
regression table. A GX run takes a second or two, so each case runs once per session and the tests read it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci.contract import DataContract, contract_from_dict, read_csv
from mlci.suite import create_gx_project
from mlci.validation import FailedExpectation, ValidationSummary, validate_data

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

MIXED = {
    "path": "data/table.csv",
    "id": "row_id",
    "target": {
        "name": "species",
        "task": "classification",
        "classes": ["cat", "dog", "fox"],
        "min_share": 0.2,
        "max_share": 0.5,
    },
    "rows": {"min": 50, "max": 1000},
    "features": {
        "width": {"type": "float", "min": 0, "max": 10},
        "count": {"type": "int", "min": 0, "max": 5},
        "floors": {"type": "int", "min": 1, "max": 3, "nullable": True},
        "colour": {"type": "category", "values": ["red", "green", "blue"]},
        "size": {"type": "category", "values": ["1", "2", "3"]},  # pandas reads these as integers
        "note": {"type": "text"},
        "weight": {"type": "float", "min": 0, "max": 100, "nullable": True},
    },
}
BINARY = {
    "path": "data/binary.csv",
    "id": "key",
    "target": {"name": "y", "task": "classification", "classes": [0, 1], "min_share": 0.3, "max_share": 0.7},
    "features": {"x": {"type": "float", "min": -5, "max": 5}, "n": {"type": "int", "min": 0, "max": 9}},
}
REGRESSION = {
    "path": "data/prices.csv",
    "target": {"name": "price", "task": "regression", "min": 0, "max": 1000},
    "features": {
        "area": {"type": "float", "min": 10, "max": 200},
        "district": {"type": "category", "values": ["north", "south"]},
        "rooms": {"type": "int", "min": 1, "max": 9},
        "age": {"type": "int", "min": 0, "max": 100},
    },
}
CONTRACTS = {"mixed": MIXED, "binary": BINARY, "regression": REGRESSION}


def mixed_frame(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Valid rows for MIXED: each class a third of the rows, a few nulls where the contract allows them."""
    rng = np.random.default_rng(seed)
    floors = rng.integers(1, 4, rows).astype(float)
    floors[::10] = np.nan
    weight = rng.uniform(0, 100, rows).round(2)
    weight[::7] = np.nan
    return pd.DataFrame(
        {
            "row_id": np.arange(1, rows + 1),
            "width": rng.uniform(0, 10, rows).round(3),
            "count": rng.integers(0, 6, rows),
            "floors": floors,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "size": rng.choice([1, 2, 3], rows),
            "note": [f"note number {i}" for i in range(rows)],
            "weight": weight,
            "species": [("cat", "dog", "fox")[i % 3] for i in range(rows)],
        }
    )


def binary_frame(rows: int = 100, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "key": np.arange(rows),
            "x": rng.uniform(-5, 5, rows).round(3),
            "n": rng.integers(0, 10, rows),
            "y": [i % 2 for i in range(rows)],
        }
    )


def regression_frame(rows: int = 80, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "area": rng.uniform(10, 200, rows).round(1),
            "district": rng.choice(["north", "south"], rows),
            "rooms": rng.integers(1, 10, rows),
            "age": rng.integers(0, 101, rows),
            "price": rng.uniform(0, 1000, rows).round(2),
        }
    )


def faulty_mixed(frame: pd.DataFrame) -> pd.DataFrame:
    """One fault per column, so one GX run shows each fault and only its own failures."""
    frame = frame.drop(columns=["count"]).astype({"floors": object, "species": object})  # a missing column
    frame["extra"] = 1  # a column the contract does not name
    frame.loc[0, "width"] = 12.5  # a float out of range
    frame.loc[1, "colour"] = "purple"  # an unknown category
    frame["size"] = frame["size"].astype(float)
    frame.loc[2, "size"] = None  # a null where none is allowed
    frame.loc[3, "species"] = "wolf"  # an unknown class
    frame.loc[5, "row_id"] = frame.loc[4, "row_id"]  # a duplicated id
    frame.loc[6, "floors"] = "seven"  # a word in an integer column
    return frame


@dataclass(frozen=True)
class Case:
    """A data file as validation read it, and what validation said."""

    frame: pd.DataFrame
    summary: ValidationSummary

    def rows(self, column: str | None) -> list[FailedExpectation]:
        return [row for row in self.summary.failed_expectations if row.column == column]

    def failures(self, column: str | None) -> dict[str, str]:
        """Description → observed, for the failed expectations on one column (None: table-level)."""
        return {row.description: row.observed for row in self.rows(column)}


@pytest.fixture
def contract_dicts() -> dict[str, dict]:
    """The contracts as the mappings a schema.yaml holds, fresh for each test to change."""
    return copy.deepcopy(CONTRACTS)


@pytest.fixture(scope="session")
def contracts() -> dict[str, DataContract]:
    return {name: contract_from_dict(raw, source=f"{name}.yaml") for name, raw in CONTRACTS.items()}


@pytest.fixture(scope="session")
def frames() -> dict[str, Callable[..., pd.DataFrame]]:
    """The builders of valid frames, by contract name."""
    return {"mixed": mixed_frame, "binary": binary_frame, "regression": regression_frame}


@pytest.fixture(scope="session")
def gx_project(tmp_path_factory, contracts) -> Callable[[str], Path]:
    """The GX project generated from a named contract, built once per session."""
    built: dict[str, Path] = {}

    def project(name: str) -> Path:
        if name not in built:
            built[name] = create_gx_project(contracts[name], tmp_path_factory.mktemp(f"gx-{name}"))
        return built[name]

    return project


@pytest.fixture(scope="session")
def run_case(tmp_path_factory, contracts, gx_project) -> Callable[[str, str, pd.DataFrame], Case]:
    """Write a frame to a CSV and validate it against a named contract, from an unrelated current directory."""
    done: dict[str, Case] = {}

    def run(case: str, contract: str, frame: pd.DataFrame) -> Case:
        if case not in done:
            folder = tmp_path_factory.mktemp(case)
            path = folder / "table.csv"
            frame.to_csv(path, index=False)
            previous = Path.cwd()
            os.chdir(folder)
            try:
                summary = validate_data(contracts[contract], path, gx_root=gx_project(contract))
            finally:
                os.chdir(previous)
            done[case] = Case(read_csv(path), summary)
        return done[case]

    return run


@pytest.fixture(scope="session")
def good_mixed(run_case) -> Case:
    return run_case("good_mixed", "mixed", mixed_frame())


@pytest.fixture(scope="session")
def faulty_mixed_case(run_case) -> Case:
    return run_case("faulty_mixed", "mixed", faulty_mixed(mixed_frame()))


@pytest.fixture(scope="session")
def good_binary(run_case) -> Case:
    return run_case("good_binary", "binary", binary_frame())


@pytest.fixture(scope="session")
def skewed_binary(run_case) -> Case:
    """90 rows of class 0 and 10 of class 1: shares outside 30%..70% on both sides."""
    frame = binary_frame()
    frame["y"] = [0] * 90 + [1] * 10
    return run_case("skewed_binary", "binary", frame)


@pytest.fixture(scope="session")
def worded_binary(run_case) -> Case:
    """The word `seven` in the integer feature and in the integer target: each one problem, one row."""
    frame = binary_frame().astype({"n": object, "y": object})
    frame.loc[0, "n"] = "seven"
    frame.loc[0, "y"] = "seven"
    return run_case("worded_binary", "binary", frame)


@pytest.fixture(scope="session")
def good_regression(run_case) -> Case:
    return run_case("good_regression", "regression", regression_frame())


@pytest.fixture(scope="session")
def faulty_regression(run_case) -> Case:
    """A target out of range, a null in an integer column, a fraction in another."""
    frame = regression_frame().astype({"rooms": float, "age": float})
    frame.loc[0, "price"] = 1500.0
    frame.loc[1, "rooms"] = None
    frame.loc[2, "age"] = 2.5
    return run_case("faulty_regression", "regression", frame)

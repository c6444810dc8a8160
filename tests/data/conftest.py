"""One GX run per data case, shared by the tests that read it (a run takes seconds)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from digitnet.data import read_raw_csv
from digitnet.validate import ValidationSummary, validate_raw_data

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """A data file as validation read it, and what validation said."""

    frame: pd.DataFrame
    summary: ValidationSummary

    def failures(self, column: str | None) -> dict[str, str]:
        """Description → observed, for the failed expectations on one column (None: table-level)."""
        return {row.description: row.observed for row in self.summary.failed_expectations if row.column == column}

    def failed(self) -> set[str]:
        return {row.description for row in self.summary.failed_expectations}


@pytest.fixture(scope="session")
def gx_project(tmp_path_factory) -> Path:
    """The committed GX project as a fresh clone has it (no uncommitted/), so runs leave the checkout alone."""
    project = tmp_path_factory.mktemp("project") / "gx"
    shutil.copytree(REPO_ROOT / "gx", project, ignore=shutil.ignore_patterns("uncommitted"))
    return project


@pytest.fixture(scope="session")
def run_case(tmp_path_factory, gx_project):
    """Write a frame to a CSV and validate it, from an unrelated current directory and with absolute paths."""

    def run(name: str, frame: pd.DataFrame) -> Case:
        folder = tmp_path_factory.mktemp(name)
        path = folder / "digits.csv"
        frame.to_csv(path, index=False)
        previous = Path.cwd()
        os.chdir(folder)
        try:
            summary = validate_raw_data(path, project_root=gx_project)
        finally:
            os.chdir(previous)
        return Case(read_raw_csv(path), summary)

    return run


def corrupt(digits: pd.DataFrame) -> pd.DataFrame:
    """The real data with one fault per column, so one GX run shows each fault and only its own failures."""
    frame = digits.copy().drop(columns=["pixel_3_4"])  # missing column
    frame.loc[5, "label"] = 42  # label outside the set
    frame.loc[0, "pixel_2_2"] = 17  # pixels out of range, above and below
    frame.loc[1, "pixel_5_5"] = -1
    frame["pixel_0_3"] = frame["pixel_0_3"].astype("float64")  # a null
    frame.loc[3, "pixel_0_3"] = None
    frame.loc[10, "id"] = frame.loc[11, "id"]  # duplicate id
    frame["pixel_6_1"] = frame["pixel_6_1"].astype("object")  # text in a number column
    frame.loc[7, "pixel_6_1"] = "x"
    frame["pixel_4_4"] = frame["pixel_4_4"].astype("float64")  # a fraction in an integer column
    frame.loc[2, "pixel_4_4"] = 1.5
    return frame


def skew_classes(digits: pd.DataFrame, starved: int, crowded: int) -> pd.DataFrame:
    """The real data with 40 rows of class `starved` and 5/8 of every other class but `crowded`, kept whole."""
    others = digits[~digits["label"].isin([starved, crowded]) & (digits.index % 8 < 5)]
    return pd.concat([others, digits[digits["label"] == starved].head(40), digits[digits["label"] == crowded]])


@pytest.fixture(scope="session")
def real_case(run_case, digits) -> Case:
    return run_case("real", digits)


@pytest.fixture(scope="session")
def corrupted_case(run_case, digits) -> Case:
    return run_case("corrupted", corrupt(digits))


@pytest.fixture(scope="session")
def skewed_classes_case(run_case, digits) -> Case:
    return run_case("skewed", skew_classes(digits, starved=3, crowded=5))

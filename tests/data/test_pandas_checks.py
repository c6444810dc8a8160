"""The plain-pandas baseline of the benchmark agrees with the GX suite, so the time comparison is honest."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from validation_checks import pandas_checks  # noqa: E402


def test_pandas_checks_pass_on_the_real_data(digits):
    assert pandas_checks(digits) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.assign(label=f["label"].replace({3: 42})), "labels outside 0..9"),
        (lambda f: f.drop(columns=["pixel_3_4"]), "columns are not exactly id, pixel_0_0 … pixel_7_7, label, in order"),
        (lambda f: f.assign(pixel_2_2=f["pixel_2_2"] + 20), "pixel_2_2 outside 0..16"),
        (lambda f: f.head(10), "row count 10 outside 1000..100000"),
    ],
)
def test_pandas_checks_fail_where_gx_fails(digits, change, expected):
    assert expected in pandas_checks(change(digits.copy()))

"""The plain-pandas baseline of the benchmark fails exactly where the GX suite fails, so the time ratio is honest."""

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from validation_checks import pandas_checks  # noqa: E402


@pytest.mark.parametrize("case_name", ["real_case", "corrupted_case", "skewed_classes_case"])
def test_pandas_checks_fail_exactly_where_gx_fails(request, case_name):
    case = request.getfixturevalue(case_name)
    failures = pandas_checks(case.frame)
    assert len(failures) == len(set(failures)) == case.summary.failed
    assert set(failures) == case.failed()


def test_pandas_checks_fail_without_labels_and_pass_an_empty_label_column(digits):
    no_labels = pandas_checks(digits.drop(columns=["label"]))
    assert "labels are digits 0..9" in no_labels and "class 9 is at most 13% of the rows" in no_labels
    assert pandas_checks(digits.head(0)) == ["between 1,000 and 100,000 rows"]

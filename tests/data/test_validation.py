"""The GX suite passes on the real data and fails on each kind of bad data, naming the expectation that failed."""

from pathlib import Path

import pandas as pd
import pytest

from digitnet.data import DataError
from digitnet.errors import UserFacingError
from digitnet.validate import validate_raw_data

REPO_ROOT = Path(__file__).resolve().parents[2]
GX_ROOT = REPO_ROOT / "gx"


def _validate(tmp_path: Path, frame: pd.DataFrame):
    path = tmp_path / "digits.csv"
    frame.to_csv(path, index=False)
    return validate_raw_data(path, project_root=GX_ROOT)


def _failed(summary) -> set[str]:
    return {row.description for row in summary.failed_expectations}


@pytest.fixture(scope="module")
def real_summary():
    return validate_raw_data(REPO_ROOT / "data" / "digits.csv", project_root=GX_ROOT)


def test_real_data_passes_every_expectation(real_summary):
    assert real_summary.success
    assert real_summary.rows == 1797
    assert real_summary.evaluated == real_summary.successful == 220
    assert real_summary.to_dict()["failed_expectations"] == []
    assert real_summary.markdown_table() == "All 220 expectations passed on 1,797 rows."


def test_label_outside_the_set_fails_the_label_set(tmp_path, digits):
    frame = digits.copy()
    frame.loc[5, "label"] = 42
    summary = _validate(tmp_path, frame)
    assert not summary.success
    assert _failed(summary) == {"labels are digits 0..9"}
    (row,) = summary.failed_expectations
    assert row.expectation == "expect_column_values_to_be_in_set"
    assert row.column == "label"
    assert row.observed == "1 unexpected (0.1%): 42"
    assert "| expect_column_values_to_be_in_set | label | labels are digits 0..9 |" in summary.markdown_table()
    assert summary.failure_table().splitlines()[0].split() == ["expectation", "column", "check", "observed"]


@pytest.mark.slow
def test_missing_column_fails_the_column_list_and_names_the_column(tmp_path, digits):
    summary = _validate(tmp_path, digits.drop(columns=["pixel_3_4"]))
    failed = _failed(summary)
    assert "columns are exactly id, pixel_0_0 … pixel_7_7, label, in order" in failed
    assert {"pixel_3_4 has no nulls", "pixel_3_4 holds integers", "pixel_3_4 is within 0..16"} <= failed
    assert all(row.column in (None, "pixel_3_4") for row in summary.failed_expectations)


@pytest.mark.slow
def test_pixels_out_of_range_fail_the_pixel_range(tmp_path, digits):
    frame = digits.copy()
    frame.loc[0, "pixel_2_2"] = 17
    frame.loc[1, "pixel_5_5"] = -1
    assert _failed(_validate(tmp_path, frame)) == {"pixel_2_2 is within 0..16", "pixel_5_5 is within 0..16"}


@pytest.mark.slow
def test_nulls_fail_the_null_and_integer_checks(tmp_path, digits):
    frame = digits.copy()
    frame["pixel_0_3"] = frame["pixel_0_3"].astype("float64")
    frame.loc[3, "pixel_0_3"] = None
    assert _failed(_validate(tmp_path, frame)) == {"pixel_0_3 has no nulls", "pixel_0_3 holds integers"}


@pytest.mark.slow
def test_duplicate_ids_fail_uniqueness(tmp_path, digits):
    frame = digits.copy()
    frame.loc[10, "id"] = frame.loc[11, "id"]
    assert _failed(_validate(tmp_path, frame)) == {"ids are unique"}


@pytest.mark.slow
def test_header_only_file_fails_the_row_count(tmp_path, digits):
    summary = _validate(tmp_path, digits.head(0))
    assert "between 1,000 and 100,000 rows" in _failed(summary)
    assert summary.rows == 0


@pytest.mark.slow
def test_a_class_share_out_of_range_fails_that_class_share(tmp_path, digits):
    frame = pd.concat([digits[digits["label"] != 3], digits[digits["label"] == 3].head(40)])
    assert _failed(_validate(tmp_path, frame)) == {"class 3 is at least 7% of the rows"}


@pytest.mark.slow
def test_wrong_column_order_fails_the_column_list(tmp_path, digits):
    columns = list(digits.columns)
    columns[1], columns[2] = columns[2], columns[1]
    summary = _validate(tmp_path, digits[columns])
    assert _failed(summary) == {"columns are exactly id, pixel_0_0 … pixel_7_7, label, in order"}


@pytest.mark.slow
def test_text_in_a_pixel_column_fails_the_integer_check(tmp_path, digits):
    frame = digits.astype({"pixel_6_1": "object"})
    frame.loc[7, "pixel_6_1"] = "x"
    assert "pixel_6_1 holds integers" in _failed(_validate(tmp_path, frame))


def test_missing_file_tells_the_user_to_dvc_pull(tmp_path):
    path = tmp_path / "digits.csv"
    with pytest.raises(DataError) as error:
        validate_raw_data(path, project_root=GX_ROOT)
    assert str(error.value) == f"{path} not found: run `dvc pull` to fetch the tracked data"


def test_missing_gx_project_says_how_to_restore_it(tmp_path):
    with pytest.raises(UserFacingError) as error:
        validate_raw_data(REPO_ROOT / "data" / "digits.csv", project_root=tmp_path / "gx")
    assert str(error.value) == (
        f"{tmp_path / 'gx'} is not a GX project (no great_expectations.yml): restore it with `git checkout gx`"
    )

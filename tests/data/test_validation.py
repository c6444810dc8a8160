"""The GX suite passes on the real data and fails on each kind of bad data, naming the expectation that failed."""

import gzip
import shutil
from pathlib import Path

import pytest

from digitnet.data import DataError
from digitnet.errors import UserFacingError
from digitnet.validate import (
    FailedExpectation,
    ValidationSummary,
    _column_list_difference,
    _exception_message,
    validate_raw_data,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGITS_CSV = REPO_ROOT / "data" / "digits.csv"
COLUMN_LIST = "columns are exactly id, pixel_0_0 … pixel_7_7, label, in order"
EXPECTATIONS = 220
TEXT_IN_RANGE_CHECK = "error: Column values, min_value, and max_value must either be None or of the same type."


def test_real_data_passes_every_expectation(real_case):
    assert real_case.summary.to_dict() == {
        "success": True,
        "rows": 1797,
        "evaluated": EXPECTATIONS,
        "successful": EXPECTATIONS,
        "failed": 0,
        "failed_expectations": [],
    }
    assert real_case.summary.markdown_table() == f"All {EXPECTATIONS} expectations passed on 1,797 rows."


def test_data_docs_are_built_and_show_no_remote_logo_with_the_project_id(real_case, gx_project):
    site = gx_project / "uncommitted" / "data_docs" / "local_site"
    pages = list(site.rglob("*.html"))
    assert len(pages) == 3  # the index, the suite, and this run's result (earlier runs' results are cleared)
    assert 'src="static/images/logo-long.png"' in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "static" / "images" / "logo-long.png").is_file()
    assert not [page for page in pages if "dataContextId" in page.read_text(encoding="utf-8")]


def test_the_faults_fail_exactly_their_own_expectations(corrupted_case):
    summary = corrupted_case.summary
    assert (summary.success, summary.rows, summary.evaluated) == (False, 1797, EXPECTATIONS)
    assert (summary.failed, summary.successful) == (13, EXPECTATIONS - 13)
    assert {row.column for row in summary.failed_expectations} == {
        None,
        "id",
        "label",
        "pixel_0_3",
        "pixel_2_2",
        "pixel_3_4",
        "pixel_4_4",
        "pixel_5_5",
        "pixel_6_1",
    }


def test_validation_fails_when_a_column_is_missing_and_names_it(corrupted_case):
    assert corrupted_case.failures(None) == {COLUMN_LIST: "missing: pixel_3_4"}
    assert corrupted_case.failures("pixel_3_4") == {
        "pixel_3_4 has no nulls": "missing column",
        "pixel_3_4 holds integers": "missing column",
        "pixel_3_4 is within 0..16": "missing column",
    }


def test_validation_fails_when_a_label_is_outside_the_set(corrupted_case):
    assert corrupted_case.failures("label") == {"labels are digits 0..9": "1 unexpected (0.1%): 42"}
    (row,) = [row for row in corrupted_case.summary.failed_expectations if row.column == "label"]
    assert row.expectation == "expect_column_values_to_be_in_set"


def test_validation_fails_when_pixels_are_out_of_range(corrupted_case):
    assert corrupted_case.failures("pixel_2_2") == {"pixel_2_2 is within 0..16": "1 unexpected (0.1%): 17"}
    assert corrupted_case.failures("pixel_5_5") == {"pixel_5_5 is within 0..16": "1 unexpected (0.1%): -1"}


def test_validation_fails_on_nulls(corrupted_case):
    assert corrupted_case.failures("pixel_0_3") == {
        "pixel_0_3 has no nulls": "1 null (0.1%)",
        "pixel_0_3 holds integers": "dtype float64",
    }


def test_validation_fails_on_a_duplicate_id(corrupted_case):
    assert corrupted_case.failures("id") == {"ids are unique": "2 unexpected (0.1%): 11, 11"}


def test_validation_fails_on_fractions_and_text_in_integer_columns(corrupted_case):
    assert corrupted_case.failures("pixel_4_4") == {"pixel_4_4 holds integers": "dtype float64"}
    text_dtype = corrupted_case.frame["pixel_6_1"].dtype  # object or str, depending on the pandas version
    assert corrupted_case.failures("pixel_6_1") == {
        "pixel_6_1 holds integers": f"dtype {text_dtype}",
        "pixel_6_1 is within 0..16": TEXT_IN_RANGE_CHECK,
    }


def test_validation_fails_when_class_shares_leave_their_range(skewed_classes_case):
    counts = skewed_classes_case.frame["label"].value_counts()
    assert (counts[3], counts[5], skewed_classes_case.summary.rows) == (40, 182, 1128)
    assert skewed_classes_case.failures("label") == {
        "class 3 is at least 7% of the rows": "3.5% of values in [3]",
        "class 5 is at most 13% of the rows": "16.1% of values in [5]",
    }
    assert [row.expectation for row in skewed_classes_case.summary.failed_expectations] == [
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
    ]


@pytest.mark.slow
def test_validation_fails_when_columns_are_out_of_order(run_case, digits):
    columns = list(digits.columns)
    columns[1], columns[2] = columns[2], columns[1]
    case = run_case("reordered", digits[columns])
    assert [(row.expectation, row.column, row.observed) for row in case.summary.failed_expectations] == [
        (
            "expect_table_columns_to_match_ordered_list",
            None,
            "order differs at position 1: pixel_0_1 where pixel_0_0 belongs",
        )
    ]


@pytest.mark.slow
def test_validation_fails_on_a_header_only_file(run_case, digits):
    case = run_case("header_only", digits.head(0))
    assert case.summary.rows == 0
    assert case.failures(None) == {"between 1,000 and 100,000 rows": "0"}
    assert case.summary.failed == 1


def test_failure_table_and_markdown_list_each_failed_expectation():
    summary = ValidationSummary(
        success=False,
        rows=1797,
        evaluated=220,
        successful=218,
        failed=2,
        failed_expectations=(
            FailedExpectation("expect_table_row_count_to_be_between", None, "between 1,000 and 100,000 rows", "10"),
            FailedExpectation("expect_column_values_to_be_in_set", "label", "labels | digits", "x" * 70),
        ),
    )
    assert summary.failure_table().splitlines() == [
        "expectation                           column  description                     observed",
        "expect_table_row_count_to_be_between  -       between 1,000 and 100,000 rows  10",
        "expect_column_values_to_be_in_set     label   labels | digits                 " + "x" * 63 + "…",
    ]
    assert summary.markdown_table().splitlines() == [
        "2 of 220 expectations failed on 1,797 rows.",
        "",
        "| expectation | column | description | observed |",
        "|---|---|---|---|",
        "| expect_table_row_count_to_be_between | - | between 1,000 and 100,000 rows | 10 |",
        "| expect_column_values_to_be_in_set | label | labels \\| digits | " + "x" * 70 + " |",
    ]
    assert summary.to_dict()["failed_expectations"][1] == {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "label",
        "description": "labels | digits",
        "observed": "x" * 70,
    }


def test_missing_file_tells_the_user_to_dvc_pull(tmp_path, gx_project):
    path = tmp_path / "digits.csv"
    with pytest.raises(DataError) as error:
        validate_raw_data(path, project_root=gx_project)
    assert str(error.value) == f"{path} not found: run `dvc pull` to fetch the tracked data"


def test_empty_file_is_a_data_error(tmp_path, gx_project):
    path = tmp_path / "digits.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        validate_raw_data(path, project_root=gx_project)
    assert str(error.value) == f"{path} is empty: run `dvc pull` to restore the tracked data"


def test_binary_file_is_a_data_error(tmp_path, gx_project):
    path = tmp_path / "digits.csv"
    path.write_bytes(gzip.compress(DIGITS_CSV.read_bytes(), mtime=0))
    with pytest.raises(DataError) as error:
        validate_raw_data(path, project_root=gx_project)
    assert str(error.value) == f"{path} is not a text CSV (not valid UTF-8)"


def test_garbled_csv_is_a_data_error(tmp_path, gx_project):
    path = tmp_path / "digits.csv"
    path.write_text("id,pixel_0_0,label\n1,0,3\n2,0,4,9,9\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        validate_raw_data(path, project_root=gx_project)
    assert str(error.value) == (
        f"{path} is not a well-formed CSV: Error tokenizing data. C error: Expected 3 fields in line 3, saw 5"
    )


def test_missing_gx_project_says_how_to_restore_it(tmp_path):
    with pytest.raises(UserFacingError) as error:
        validate_raw_data(DIGITS_CSV, project_root=tmp_path / "gx")
    assert str(error.value) == (
        f"{tmp_path / 'gx'} is not a GX project (no great_expectations.yml): restore it with `git checkout gx` or "
        "recreate it with scripts/create_gx_project.py --replace"
    )


def test_broken_gx_project_says_how_to_restore_it(tmp_path, gx_project):
    broken = tmp_path / "gx"
    shutil.copytree(gx_project, broken, ignore=shutil.ignore_patterns("uncommitted"))
    (broken / "checkpoints" / "raw_digits.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserFacingError) as error:
        validate_raw_data(DIGITS_CSV, project_root=broken)
    message = str(error.value)
    assert message.startswith(f"the GX project in {broken} cannot be loaded (")
    assert message.endswith(
        "restore it with `git checkout gx` or recreate it with scripts/create_gx_project.py --replace"
    )


def test_a_crash_inside_the_checkpoint_is_a_user_facing_error(gx_project, monkeypatch):
    import great_expectations as gx

    def crash(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gx.Checkpoint, "run", crash)
    with pytest.raises(UserFacingError) as error:
        validate_raw_data(DIGITS_CSV, project_root=gx_project)
    assert str(error.value) == f"the GX checkpoint 'raw_digits' in {gx_project} crashed (OSError: disk full)"


def test_observed_errors_are_read_from_flat_and_per_metric_exception_info():
    assert _exception_message({"raised_exception": "True", "exception_message": "list index out of range"}) == (
        "list index out of range"
    )
    per_metric = {
        "metric a": {"raised_exception": False, "exception_message": None},
        "metric b": {"raised_exception": True, "exception_message": "bad types"},
    }
    assert _exception_message(per_metric) == "bad types"
    assert _exception_message({"raised_exception": "False", "exception_message": "None"}) is None


def test_observed_column_list_names_missing_and_unexpected_columns():
    assert _column_list_difference(["id", "a", "label"], ["id", "b", "label", "c"]) == "missing: a; unexpected: b, c"
    assert (
        _column_list_difference(["id", "a"], ["id", "a", "a"]) == "order differs at position 2: a where nothing belongs"
    )
    assert _column_list_difference(["id", "a"], ["id", "a"]) == "as expected"

"""Validation passes good data and fails each bad fixture naming the expectation; a type problem is one row."""

from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest

from mlci.contract import infer_contract, read_csv
from mlci.errors import DataError, UserFacingError
from mlci.suite import create_gx_project
from mlci.validation import (
    FailedExpectation,
    ValidationSummary,
    _column_set_difference,
    _exception_message,
    _type_observed,
    as_contract_types,
    check_feature_order,
    check_size,
    validate_data,
)

REBUILD = "rebuild it from the contract with `mlci schema suite`"


def outline(case) -> list[tuple[str, str | None, str, str, list[str]]]:
    return [
        (row.expectation, row.column, row.description, row.observed, list(row.folded))
        for row in case.summary.failed_expectations
    ]


@pytest.mark.parametrize(
    ("case_name", "rows", "evaluated"),
    [("good_mixed", 120, 28), ("good_binary", 100, 15), ("good_regression", 80, 15)],
)
def test_good_data_passes_every_expectation(request, case_name, rows, evaluated):
    summary = request.getfixturevalue(case_name).summary
    assert summary.to_dict() == {
        "success": True,
        "data_file": "table.csv",
        "rows": rows,
        "evaluated": evaluated,
        "successful": evaluated,
        "failed": 0,
        "failed_expectations": [],
    }


def test_each_fault_fails_its_own_expectation_table_first_then_columns_in_contract_order(faulty_mixed_case):
    floors_dtype = faulty_mixed_case.frame["floors"].dtype  # object or str, depending on the pandas version
    assert outline(faulty_mixed_case) == [
        (
            "expect_table_columns_to_match_set",
            None,
            "the columns are exactly the contract's 9, in any order",
            "missing: count; unexpected: extra",
            ["count holds integers", "count has no nulls", "count is within 0..5"],
        ),
        ("expect_column_values_to_be_unique", "row_id", "row_id values are unique", "2 unexpected (1.7%): 5, 5", []),
        ("expect_column_values_to_be_between", "width", "width is within 0..10", "1 unexpected (0.8%): 12.5", []),
        (
            "expect_column_values_to_be_in_type_list",
            "floors",
            "floors holds integers",
            f"dtype {floors_dtype}: non-numeric values: seven",
            ["floors is within 1..3"],
        ),
        (
            "expect_column_values_to_be_in_set",
            "colour",
            "colour is one of red, green, blue",
            "1 unexpected (0.8%): purple",
            [],
        ),
        ("expect_column_values_to_not_be_null", "size", "size has no nulls", "1 null (0.8%)", []),
        (
            "expect_column_values_to_be_in_set",
            "species",
            "species is one of cat, dog, fox",
            "1 unexpected (0.8%): wolf",
            [],
        ),
    ]
    summary = faulty_mixed_case.summary
    assert (summary.success, summary.evaluated, summary.failed, summary.successful) == (False, 28, 11, 17)


def test_a_word_in_an_integer_column_is_one_row_before_the_checks_it_breaks(worded_binary):
    text_dtype = worded_binary.frame["n"].dtype
    assert outline(worded_binary) == [
        (
            "expect_column_values_to_be_in_type_list",
            "n",
            "n holds integers",
            f"dtype {text_dtype}: non-numeric values: seven",
            ["n is within 0..9"],
        ),
        # The class column is compared as the contract's classes: the word is one unexpected value, the shares hold.
        ("expect_column_values_to_be_in_set", "y", "y is one of 0, 1", "1 unexpected (1.0%): seven", []),
    ]
    assert worded_binary.summary.failed == 3


def test_class_shares_out_of_bounds_fail_on_both_sides(skewed_binary):
    assert outline(skewed_binary) == [
        (
            "expect_column_values_to_not_be_in_set",
            "y",
            "class 0 is at most 70% of the rows",
            "90.0% of values in [0]",
            [],
        ),
        ("expect_column_values_to_be_in_set", "y", "class 1 is at least 30% of the rows", "10.0% of values in [1]", []),
    ]


def test_regression_faults_and_an_integer_column_read_as_float(faulty_regression):
    assert outline(faulty_regression) == [
        # Read as float only because of the null: one problem, reported as the null.
        (
            "expect_column_values_to_not_be_null",
            "rooms",
            "rooms has no nulls",
            "1 null (1.2%)",
            ["rooms holds integers"],
        ),
        (
            "expect_column_values_to_be_in_type_list",
            "age",
            "age holds integers",
            "dtype float64: non-integer values: 2.5",
            [],
        ),
        ("expect_column_values_to_be_between", "price", "price is within 0..1000", "1 unexpected (1.2%): 1500.0", []),
    ]


def test_a_fraction_in_a_nullable_integer_column_fails_as_in_one_without_nulls(run_case, frames, faulty_regression):
    """Its nulls make pandas read the column as float64, which must not let 2.5 pass as an integer."""
    frame = frames["mixed"]()
    frame.loc[1, "floors"] = 2.5  # within 1..3: only the type is wrong
    case = run_case("fraction_in_nullable_int", "mixed", frame)
    assert case.frame["floors"].isna().sum() == 12
    assert outline(case) == [
        (
            "expect_column_values_to_be_in_type_list",
            "floors",
            "floors holds integers",
            "dtype float64: non-integer values: 2.5",
            [],
        )
    ]
    assert faulty_regression.failures("age") == {"age holds integers": "dtype float64: non-integer values: 2.5"}


def test_a_nullable_integer_column_is_handed_to_gx_as_nullable_integers_only_when_every_value_is_whole(contracts):
    whole = pd.DataFrame({"floors": [1.0, None, 3.0]})
    assert as_contract_types(whole, contracts["mixed"])["floors"].dtype == "Int64"
    for wrong in (2.5, float("inf")):
        frame = pd.DataFrame({"floors": [1.0, None, wrong]})
        assert as_contract_types(frame, contracts["mixed"])["floors"].dtype == "float64"
        assert _type_observed(frame["floors"], "int") == f"dtype float64: non-integer values: {wrong}"


def test_categories_and_classes_are_compared_as_the_contract_writes_them(contracts):
    frame = pd.DataFrame({"size": [1.0, 2.0, None, 4.0], "species": ["cat", "dog", "fox", "cat"], "note": ["a"] * 4})
    typed = as_contract_types(frame, contracts["mixed"])
    assert typed["size"].tolist()[:2] == ["1", "2"] and pd.isna(typed["size"][2]) and typed["size"][3] == 4.0
    assert typed["note"].dtype == object
    binary = as_contract_types(pd.DataFrame({"y": ["0", "1", "seven"]}), contracts["binary"])
    assert binary["y"].tolist() == [0, 1, "seven"]


def test_data_docs_are_built_and_show_no_remote_logo_with_the_project_id(good_mixed, faulty_mixed_case, gx_project):
    site = gx_project("mixed") / "uncommitted" / "data_docs" / "local_site"
    pages = list(site.rglob("*.html"))
    assert len(pages) == 3  # the index, the suite, and the last run's result (earlier runs' results are cleared)
    assert 'src="static/images/logo-long.png"' in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "static" / "images" / "logo-long.png").is_file()
    assert not [page for page in pages if "dataContextId" in page.read_text(encoding="utf-8")]


def test_the_data_file_defaults_to_the_contracts_path_and_is_named_as_written(
    contracts, frames, gx_project, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    frames["binary"]().to_csv(tmp_path / "data" / "binary.csv", index=False)
    summary = validate_data(contracts["binary"], gx_root=gx_project("binary"))
    assert (summary.success, summary.data_file) == (True, "data/binary.csv")


def test_the_summary_as_json(faulty_regression):
    rows = faulty_regression.summary.to_dict()["failed_expectations"]
    assert rows[0] == {
        "expectation": "expect_column_values_to_not_be_null",
        "column": "rooms",
        "description": "rooms has no nulls",
        "observed": "1 null (1.2%)",
        "folded": ["rooms holds integers"],
    }


# ------------------------------------------------------------------------------------------------ unreadable data
def write(tmp_path, content: bytes | str):
    path = tmp_path / "table.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_a_missing_file_names_a_pull_that_works_on_a_fresh_clone(tmp_path, contracts, gx_project):
    path = tmp_path / "table.csv"
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == f"{path} not found: run `make data` (or `dvc pull {path}`) to fetch the tracked data"


def test_an_empty_file_is_a_data_error_whose_fix_overwrites_the_edited_copy(tmp_path, contracts, gx_project):
    path = write(tmp_path, b"")
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == f"{path} is empty: run `dvc pull --force {path}` to restore the tracked data"


def test_a_binary_file_is_a_data_error(tmp_path, contracts, gx_project):
    path = write(tmp_path, gzip.compress(b"key,x,n,y\n1,0.5,3,1\n" * 50, mtime=0))
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == f"{path} is not a text CSV (not valid UTF-8)"


def test_a_row_with_too_many_fields_is_a_data_error(tmp_path, contracts, gx_project):
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n2,0.5,4,0,9\n")
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == (
        f"{path} is not a well-formed CSV: Error tokenizing data. C error: Expected 4 fields in line 3, saw 5"
    )


def test_rows_with_too_few_fields_are_named_by_line(tmp_path, contracts, gx_project):
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n2,0.5\n3,0.1,2,0\n4\n")
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == f"{path}: 2 row(s) do not have the header's 4 fields: line 3 has 2, line 5 has 1"


# ------------------------------------------------------------------------------------------------ the GX project
def test_a_missing_gx_project_says_how_to_rebuild_it(tmp_path, contracts, good_binary):
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n")
    with pytest.raises(UserFacingError) as error:
        validate_data(contracts["binary"], path, gx_root=tmp_path / "gx")
    assert str(error.value) == f"{tmp_path / 'gx'} is not a GX project (no great_expectations.yml): {REBUILD}"


def test_a_broken_gx_project_says_how_to_rebuild_it(tmp_path, contracts, gx_project):
    broken = tmp_path / "gx"
    shutil.copytree(gx_project("binary"), broken, ignore=shutil.ignore_patterns("uncommitted"))
    (broken / "checkpoints" / "raw_data.json").write_text("{not json", encoding="utf-8")
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n")
    with pytest.raises(UserFacingError) as error:
        validate_data(contracts["binary"], path, gx_root=broken)
    assert str(error.value).startswith(f"the GX project in {broken} cannot be loaded (")
    assert str(error.value).endswith(f"); {REBUILD}")


def test_a_gx_project_built_from_another_contract_is_refused(tmp_path, contracts, gx_project):
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n")
    with pytest.raises(UserFacingError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("regression"))
    assert (
        str(error.value) == f"the GX suite in {gx_project('regression')} was not generated from binary.yaml: {REBUILD}"
    )


def test_a_crash_inside_the_checkpoint_is_a_user_facing_error(tmp_path, contracts, gx_project, monkeypatch):
    import great_expectations as gx

    def crash(self, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gx.Checkpoint, "run", crash)
    path = write(tmp_path, "key,x,n,y\n1,0.5,3,1\n")
    with pytest.raises(UserFacingError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == f"the GX checkpoint 'raw_data' in {gx_project('binary')} crashed (OSError: disk full)"


# ------------------------------------------------------------------------------------------------ helpers
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


def test_observed_column_set_names_missing_and_unexpected_columns():
    assert _column_set_difference(["id", "a", "label"], ["id", "b", "label", "c"]) == "missing: a; unexpected: b, c"
    assert _column_set_difference(["id", "a"], ["a", "id"]) == "as expected"


def test_a_summary_lists_folded_failures_in_json():
    summary = ValidationSummary(
        success=False,
        data_file="data/table.csv",
        rows=3,
        evaluated=5,
        successful=3,
        failed=2,
        failed_expectations=(
            FailedExpectation("expect_x", "a", "a holds integers", "dtype str", ("a is within 0..1",)),
        ),
    )
    assert summary.to_dict()["failed_expectations"][0]["folded"] == ["a is within 0..1"]
    assert summary.to_dict()["data_file"] == "data/table.csv"


# ----------------------------------------------------------------------------- `mlci validate`: what a failure leaves
@pytest.fixture
def validate_cli(tmp_path, contracts, gx_project, capsys):
    """`mlci validate` on a CSV in tmp_path: its exit status, log lines, and the committed and failed summaries."""
    from mlci.cli import main
    from mlci.contract import dump_contract

    contract = tmp_path / "schema.yaml"
    dump_contract(contracts["binary"], contract)
    summary, failed = tmp_path / "reports" / "validation.json", tmp_path / "reports" / "validation-failed.json"
    summary.parent.mkdir()
    summary.write_text("the committed summary\n", encoding="utf-8")

    def run(frame_or_bytes) -> tuple[int, list[str]]:
        data = tmp_path / "table.csv"
        if isinstance(frame_or_bytes, bytes):
            data.write_bytes(frame_or_bytes)
        else:
            frame_or_bytes.to_csv(data, index=False)
        capsys.readouterr()
        status = main(
            ["validate", "--contract", str(contract), "--data", str(data), "--gx-root", str(gx_project("binary"))]
            + ["--summary", str(summary), "--failed-summary", str(failed)]
        )
        return status, [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]

    return run, summary, failed


def test_a_failed_validation_leaves_the_summary_as_it_was_and_writes_its_own(validate_cli, frames):
    run, summary, failed = validate_cli
    bad = frames["binary"]()
    bad.loc[0, "y"] = 7
    status, errors = run(bad)
    assert status == 1
    assert summary.read_text(encoding="utf-8") == "the committed summary\n"
    written = json.loads(failed.read_text(encoding="utf-8"))
    assert (written["success"], [row["column"] for row in written["failed_expectations"]]) == (False, ["y"])
    assert errors == [
        f"ERROR mlci: data validation failed: 1 of {written['evaluated']} expectations "
        f"(written to {failed}; {summary} is unchanged)"
    ]


def test_unreadable_data_leaves_the_summary_and_no_failed_summary(validate_cli, frames):
    run, summary, failed = validate_cli
    run(frames["binary"]().assign(y=7))
    assert failed.is_file()
    status, errors = run(b"\xff\xfe\x00garbage")
    assert (status, errors) == (
        1,
        [f"ERROR mlci: {summary.parent.parent / 'table.csv'} is not a text CSV (not valid UTF-8)"],
    )
    assert summary.read_text(encoding="utf-8") == "the committed summary\n"
    assert not failed.exists()  # the last run's failures, not an older run's


def test_a_pass_replaces_the_summary_and_removes_a_failed_one(validate_cli, frames):
    run, summary, failed = validate_cli
    run(frames["binary"]().assign(y=7))
    status, errors = run(frames["binary"]())
    assert (status, errors) == (0, [])
    assert json.loads(summary.read_text(encoding="utf-8"))["success"] is True
    assert not failed.exists()


def test_whole_numbers_written_as_floats_in_an_int_column_are_named_as_such():
    assert _type_observed(pd.Series([3.0, 4.0]), "int") == (
        "dtype float64: whole numbers written with a decimal point (e.g. 3.0): write them without it, or make the "
        "column `float` in the contract"
    )
    assert _type_observed(pd.Series([3.0, None]), "int") == "dtype float64: integers with nulls"


def test_a_drafted_contract_accepts_the_file_it_was_drafted_from(tmp_path):
    frame = pd.DataFrame(
        {
            "id": range(40),
            "pressure": [float(110 + (i * 7) % 40) for i in range(40)],
            "smoker": [i % 2 for i in range(40)],
            "visits": [None if i == 3 else float(i % 6) for i in range(40)],
            "label": ["a", "b", "c", "d"] * 10,
        }
    )
    csv = tmp_path / "data" / "health.csv"
    csv.parent.mkdir()
    frame.to_csv(csv, index=False)
    contract = infer_contract(read_csv(csv), "data/health.csv", target="label", id_column="id")
    create_gx_project(contract, tmp_path)
    summary = validate_data(contract, data_path=csv, gx_root=tmp_path / "gx")
    assert summary.success, summary.to_dict()


# ------------------------------------------------------------------------------------------------ column order
def test_a_swapped_pair_of_feature_names_is_refused_naming_the_expected_and_found_order(
    tmp_path, contracts, gx_project
):
    """x and n hold different ranges here, but a swap of same-ranged names (pixels) passes every value check."""
    path = write(tmp_path, "key,n,x,y\n1,0.5,3,1\n")
    with pytest.raises(DataError) as error:
        validate_data(contracts["binary"], path, gx_root=gx_project("binary"))
    assert str(error.value) == (
        f"{path}: the features are not in the contract's order: from column 2, expected x, n; found n, x "
        "(a swapped header?): fix the file's header, or list the features in binary.yaml in the file's order"
    )


def test_the_order_check_names_at_most_five_names_and_leaves_the_id_and_target_anywhere(contracts) -> None:
    from mlci.contract import contract_from_dict

    contract = contract_from_dict(
        {
            "path": "t.csv",
            "id": "key",
            "target": {"name": "y", "task": "regression"},
            "features": {f"f{i}": {"type": "int"} for i in range(8)},
        }
    )
    check_feature_order(contract, ["y", *[f"f{i}" for i in range(8)], "key"], "t.csv")  # id and target anywhere
    check_feature_order(contract, ["key", "f0", "f1", "f3", "y"], "t.csv")  # a missing one: the suite names it
    with pytest.raises(DataError) as error:
        check_feature_order(contract, ["key", "f0", *[f"f{i}" for i in range(7, 0, -1)], "y"], "t.csv")
    assert str(error.value).startswith(
        "t.csv: the features are not in the contract's order: from column 3, expected f1, f2, f3, f4, f5, …; "
        "found f7, f6, f5, f4, f3, … (a swapped header?)"
    )


# ------------------------------------------------------------------------------------------------ size bound
def test_a_file_over_the_size_bound_is_refused_before_it_is_read_saying_the_memory_it_needs(
    validate_cli, frames, monkeypatch
) -> None:
    """Validation reads the file whole (about 9 MB of memory per MB): a file over the bound is refused unread."""
    run, summary, _ = validate_cli
    data = summary.parent.parent / "table.csv"
    monkeypatch.setenv("MLCI_VALIDATE_MAX_MB", "0.001")  # 1,000 bytes; the frame's CSV is about 1,400
    status, errors = run(frames["binary"]())
    size = data.stat().st_size / 1e6
    assert (status, errors) == (
        1,
        [
            f"ERROR mlci: {data} is {size:,.4g} MB, over the 0.001 MB validation reads: it reads the file whole, about "
            f"10 MB of memory per MB ({size * 10 / 1000:,.1f} GB here); where that memory is free, raise the bound "
            "(`mlci validate --max-mb N`, or MLCI_VALIDATE_MAX_MB=N)"
        ],
    )
    monkeypatch.setenv("MLCI_VALIDATE_MAX_MB", "lots")
    assert run(frames["binary"]()) == (1, ["ERROR mlci: MLCI_VALIDATE_MAX_MB='lots': expected a number of MB"])
    monkeypatch.delenv("MLCI_VALIDATE_MAX_MB")
    assert run(frames["binary"]()) == (0, [])


def test_check_size_names_the_bound_in_whole_megabytes(tmp_path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "wb") as handle:
        handle.truncate(250_000_000)  # sparse: no disk used
    with pytest.raises(DataError) as error:
        check_size(path, 200)
    assert str(error.value).startswith(
        f"{path} is 250 MB, over the 200 MB validation reads: it reads the file whole, about 10 MB of memory per MB "
        "(2.5 GB here);"
    )
    check_size(path, 250)

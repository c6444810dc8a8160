"""The GX suite is generated from the contract: one rule per contract fact, each described as the rule it checks."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from mlci.contract import contract_from_dict, load_contract
from mlci.errors import UserFacingError
from mlci.files import CONTRACT, GX_ROOT
from mlci.suite import (
    ASSET_NAME,
    BATCH_DEFINITION_NAME,
    CHECKPOINT_NAME,
    DATA_SOURCE_NAME,
    SUITE_NAME,
    build_expectations,
    create_gx_project,
    expectation_ids,
    expectation_key,
    stable_id,
    type_list,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def listed(contract) -> list[tuple[str, str | None, str]]:
    return [
        (e.configuration.type, e.configuration.kwargs.get("column"), e.description)
        for e in build_expectations(contract)
    ]


def test_the_suite_has_one_rule_per_contract_fact_in_reading_order(contracts):
    assert listed(contracts["mixed"]) == [
        ("expect_table_columns_to_match_set", None, "the columns are exactly the contract's 9, in any order"),
        ("expect_table_row_count_to_be_between", None, "between 50 and 1,000 rows"),
        ("expect_column_values_to_not_be_null", "row_id", "row_id has no nulls"),
        ("expect_column_values_to_be_unique", "row_id", "row_id values are unique"),
        ("expect_column_values_to_be_in_type_list", "width", "width holds numbers"),
        ("expect_column_values_to_not_be_null", "width", "width has no nulls"),
        ("expect_column_values_to_be_between", "width", "width is within 0..10"),
        ("expect_column_values_to_be_in_type_list", "count", "count holds integers"),
        ("expect_column_values_to_not_be_null", "count", "count has no nulls"),
        ("expect_column_values_to_be_between", "count", "count is within 0..5"),
        ("expect_column_values_to_be_in_type_list", "floors", "floors holds integers"),
        ("expect_column_values_to_be_between", "floors", "floors is within 1..3"),
        ("expect_column_values_to_not_be_null", "colour", "colour has no nulls"),
        ("expect_column_values_to_be_in_set", "colour", "colour is one of red, green, blue"),
        ("expect_column_values_to_not_be_null", "size", "size has no nulls"),
        ("expect_column_values_to_be_in_set", "size", "size is one of 1, 2, 3"),
        ("expect_column_values_to_be_in_type_list", "note", "note holds text"),
        ("expect_column_values_to_not_be_null", "note", "note has no nulls"),
        ("expect_column_values_to_be_in_type_list", "weight", "weight holds numbers"),
        ("expect_column_values_to_be_between", "weight", "weight is within 0..100"),
        ("expect_column_values_to_not_be_null", "species", "species has no nulls"),
        ("expect_column_values_to_be_in_set", "species", "species is one of cat, dog, fox"),
        ("expect_column_values_to_be_in_set", "species", "class cat is at least 20% of the rows"),
        ("expect_column_values_to_not_be_in_set", "species", "class cat is at most 50% of the rows"),
        ("expect_column_values_to_be_in_set", "species", "class dog is at least 20% of the rows"),
        ("expect_column_values_to_not_be_in_set", "species", "class dog is at most 50% of the rows"),
        ("expect_column_values_to_be_in_set", "species", "class fox is at least 20% of the rows"),
        ("expect_column_values_to_not_be_in_set", "species", "class fox is at most 50% of the rows"),
    ]


def test_columns_are_matched_as_an_exact_set(contracts):
    columns = build_expectations(contracts["mixed"])[0]
    assert columns.column_set == [
        "row_id",
        "width",
        "count",
        "floors",
        "colour",
        "size",
        "note",
        "weight",
        "species",
    ]
    assert columns.exact_match is True


def test_class_shares_are_bounded_from_both_sides_with_mostly(contracts):
    shares = [
        e.configuration.kwargs for e in build_expectations(contracts["binary"]) if "mostly" in e.configuration.kwargs
    ]
    assert [(kwargs["value_set"], kwargs["mostly"]) for kwargs in shares] == [
        ([0], 0.3),
        ([0], 0.3),
        ([1], 0.3),
        ([1], 0.3),
    ]


def test_share_bounds_that_bound_nothing_make_no_expectation(contract_dicts):
    raw = contract_dicts["binary"]
    raw["target"].update(min_share=0, max_share=1)
    assert [row[2] for row in listed(contract_from_dict(raw)) if row[2].startswith("class")] == []


def test_a_regression_target_is_a_number_within_its_range(contracts):
    assert listed(contracts["regression"])[-3:] == [
        ("expect_column_values_to_be_in_type_list", "price", "price holds numbers"),
        ("expect_column_values_to_not_be_null", "price", "price has no nulls"),
        ("expect_column_values_to_be_between", "price", "price is within 0..1000"),
    ]


def test_open_ranges_and_row_bounds_read_as_one_sided_rules(contract_dicts):
    raw = {
        **contract_dicts["regression"],
        "rows": {"min": 10},
        "target": {"name": "price", "task": "regression", "max": 99.5},
        "features": {"area": {"type": "float", "min": 0.25}},
    }
    assert [row[2] for row in listed(contract_from_dict(raw))] == [
        "the columns are exactly the contract's 2, in any order",
        "at least 10 rows",
        "area holds numbers",
        "area has no nulls",
        "area is at least 0.25",
        "price holds numbers",
        "price has no nulls",
        "price is at most 99.5",
    ]


def test_long_value_sets_are_shortened_in_descriptions(contract_dicts):
    raw = {
        **contract_dicts["regression"],
        "features": {"code": {"type": "category", "values": [f"c{i}" for i in range(12)]}},
    }
    assert listed(contract_from_dict(raw))[-4] == (
        "expect_column_values_to_be_in_set",
        "code",
        "code is one of c0, c1, c2, c3, c4, c5, c6, c7, …, c11 (12 values)",
    )


def test_a_nullable_integer_column_may_hold_nullable_integers_but_never_floats():
    assert "Int64Dtype" in type_list("int", nullable=True)
    assert "Int64Dtype" not in type_list("int")
    assert not [name for name in type_list("int", nullable=True) if name.startswith("float")]
    assert set(type_list("int")) < set(type_list("float"))
    assert type_list("text") == ["str"]


def test_the_project_holds_the_suite_under_generic_names(contracts, gx_project):
    project = gx_project("binary")
    checkpoint = json.loads((project / "checkpoints" / f"{CHECKPOINT_NAME}.json").read_text(encoding="utf-8"))
    assert checkpoint["result_format"] == {"result_format": "BASIC"}
    assert [action["type"] for action in checkpoint["actions"]] == ["update_data_docs"]
    definition = json.loads((project / "validation_definitions" / f"{SUITE_NAME}.json").read_text(encoding="utf-8"))
    assert {key: value["name"] for key, value in definition["data"].items()} == {
        "asset": ASSET_NAME,
        "batch_definition": BATCH_DEFINITION_NAME,
        "datasource": DATA_SOURCE_NAME,
    }
    config = (project / "great_expectations.yml").read_text(encoding="utf-8")
    assert "analytics_enabled: false" in config and "show_how_to_buttons: false" in config
    assert "  globally: false" in config
    assert (project / ".gitignore").read_text(encoding="utf-8").strip() == "uncommitted/"


def test_the_project_is_not_replaced_unless_asked(tmp_path, contracts):
    (tmp_path / "gx").mkdir()
    with pytest.raises(UserFacingError) as error:
        create_gx_project(contracts["binary"], tmp_path)
    assert str(error.value) == f"{tmp_path / 'gx'} already exists: rebuild it with `mlci schema suite`"
    assert list((tmp_path / "gx").iterdir()) == []


@pytest.mark.slow  # builds a GX project (seconds)
def test_replace_rebuilds_the_project_and_leaves_no_scratch_folder(tmp_path, contracts):
    (tmp_path / "gx").mkdir()
    (tmp_path / "gx" / "stale.txt").write_text("old", encoding="utf-8")
    project = create_gx_project(contracts["regression"], tmp_path, replace=True)
    assert project == tmp_path / "gx"
    assert not (project / "stale.txt").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gx"]


def tracked_files(project: Path) -> dict[str, str]:
    """The files of a GX project that git tracks (its .gitignore leaves out uncommitted/), by relative path."""
    return {
        path.relative_to(project).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(project.rglob("*"))
        if path.is_file() and path.relative_to(project).parts[0] != "uncommitted"
    }


@pytest.mark.slow  # builds a GX project (seconds)
def test_the_same_contract_gives_the_same_project_byte_for_byte(tmp_path, contracts, gx_project):
    again = tracked_files(create_gx_project(contracts["binary"], tmp_path))
    assert again == tracked_files(gx_project("binary"))
    assert {name for name, text in again.items() if stable_id("suite", SUITE_NAME) in text} == {
        "expectations/raw_data.json",
        "validation_definitions/raw_data.json",
    }


@pytest.mark.slow  # builds a GX project (seconds)
def test_a_changed_range_changes_only_its_own_lines(tmp_path, contract_dicts, gx_project):
    raw = contract_dicts["binary"]
    raw["features"]["n"]["max"] = 12
    before = tracked_files(gx_project("binary"))
    after = tracked_files(create_gx_project(contract_from_dict(raw, source="binary.yaml"), tmp_path))
    diff = [
        line
        for name in sorted(before.keys() | after.keys())
        for line in difflib.unified_diff(
            before.get(name, "").splitlines(), after.get(name, "").splitlines(), name, name, n=0, lineterm=""
        )
    ]
    assert diff == [
        "--- expectations/raw_data.json",
        "+++ expectations/raw_data.json",
        "@@ -114 +114 @@",
        '-      "description": "n is within 0..9",',
        '+      "description": "n is within 0..12",',
        "@@ -118 +118 @@",
        '-        "max_value": 9.0,',
        '+        "max_value": 12.0,',
    ]


def test_the_committed_gx_project_has_the_ids_its_contract_gives():
    """No random ids: rebuilding gx/ from the unchanged contract leaves git and DVC with nothing to do."""
    expectations = build_expectations(load_contract(REPO_ROOT / CONTRACT))
    committed = json.loads((REPO_ROOT / GX_ROOT / "expectations" / f"{SUITE_NAME}.json").read_text(encoding="utf-8"))
    assert committed["id"] == stable_id("suite", SUITE_NAME)
    assert [expectation["id"] for expectation in committed["expectations"]] == expectation_ids(expectations)


def test_the_committed_gx_project_is_generated_from_the_committed_contract():
    """`mlci schema suite` was run after the last change to the contract (validation refuses a stale gx/ too)."""
    contract = load_contract(REPO_ROOT / CONTRACT)
    committed = json.loads((REPO_ROOT / GX_ROOT / "expectations" / f"{SUITE_NAME}.json").read_text(encoding="utf-8"))
    assert sorted(map(expectation_key, committed["expectations"])) == sorted(
        map(expectation_key, build_expectations(contract))
    )

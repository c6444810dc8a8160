"""The data contract: a bad one fails at load with the key and the reason; inference drafts each column type; a
dumped contract loads back as it was."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from mlci.contract import Feature, Target, contract_from_dict, dump_contract, infer_contract, load_contract
from mlci.errors import ContractError


def test_a_missing_contract_says_how_to_draft_one(tmp_path):
    with pytest.raises(ContractError) as error:
        load_contract(tmp_path / "schema.yaml")
    assert str(error.value) == (
        f"{tmp_path / 'schema.yaml'} not found: draft one with `mlci schema infer DATA.csv --target COLUMN`, "
        "review it, commit it"
    )


def test_a_contract_that_is_not_yaml_is_named(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("path: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContractError) as error:
        load_contract(path)
    assert str(error.value).startswith(f"{path}: not valid YAML (")


def broken(contract_dicts, change) -> str:
    raw = contract_dicts["mixed"]
    change(raw)
    with pytest.raises(ContractError) as error:
        contract_from_dict(raw, source="schema.yaml")
    return str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.update(colour="red"), "colour: unknown key (known: path, id, target, rows, features)"),
        (lambda raw: raw.pop("path"), "path: the data file's path (relative to the repository root) is required"),
        (lambda raw: raw.update(id=3), "id: expected a column name, got 3"),
        (lambda raw: raw["rows"].update(min=2000), "rows: min 2000 is above max 1000"),
        (lambda raw: raw["rows"].update(min=1.5), "rows.min: expected a whole number, got 1.5"),
        (lambda raw: raw.update(features={}), "features: at least one feature is required"),
        (
            lambda raw: raw["features"]["width"].update(type="number"),
            "features.width.type: 'number' is not one of int, float, category, text",
        ),
        (
            lambda raw: raw["features"]["width"].update(max="ten"),
            "features.width.max: expected a finite number, got 'ten'",
        ),
        (
            lambda raw: raw["features"]["width"].update(max=float("nan")),
            "features.width.max: expected a finite number, got nan",
        ),
        (
            lambda raw: raw["features"]["colour"].pop("values"),
            "features.colour.values: a category needs a non-empty list of allowed values",
        ),
        (
            lambda raw: raw["features"]["note"].update(values=["a"]),
            "features.note.values: only a category has values (this is text)",
        ),
        (
            lambda raw: raw["features"]["colour"].update(min=0),
            "features.colour: min/max apply to int and float columns, not category",
        ),
        (
            lambda raw: raw["features"]["width"].update(nullable="yes"),
            "features.width.nullable: expected true or false, got 'yes'",
        ),
        (
            lambda raw: raw["features"]["width"].update(unit="cm"),
            "features.width.unit: unknown key (known: type, min, max, values, nullable)",
        ),
        (
            lambda raw: raw["features"].update(species={"type": "text"}),
            "features: 'species' is named twice (id, target and features differ)",
        ),
        (
            lambda raw: raw["target"].update(task="ranking"),
            "target.task: 'ranking' is not one of classification, regression",
        ),
        (lambda raw: raw["target"].pop("name"), "target.name: the target column's name is required"),
        (
            lambda raw: raw["target"].update(classes=["cat"]),
            "target.classes: classification needs a list of at least two classes",
        ),
        (lambda raw: raw["target"].update(classes=["cat", "cat"]), "target.classes: classes must be distinct"),
        (lambda raw: raw["target"].update(max_share=1.5), "target.max_share: 1.5 is not a share between 0 and 1"),
        (lambda raw: raw["target"].update(min_share=0.6), "target: min_share 0.6 is above max_share 0.5"),
        (
            lambda raw: raw["target"].update(min=0),
            "target: min/max apply to a regression target; use min_share/max_share",
        ),
        (
            lambda raw: raw["target"].update(task="regression"),
            "target: classes, shares and names apply to classification, not regression",
        ),
        (
            lambda raw: raw["target"].update(names={"cow": "Cow"}),
            "target.names.cow: 'cow' is not one of the classes (cat, dog, fox)",
        ),
        (
            lambda raw: raw["target"].update(names={"cat": " "}),
            "target.names.cat: a display name is a non-empty string",
        ),
        (lambda raw: raw["target"].update(names=["Cat"]), "target.names: expected a mapping, got list"),
    ],
)
def test_a_bad_contract_fails_at_load_naming_the_key_and_the_reason(contract_dicts, change, message):
    assert broken(contract_dicts, change) == f"schema.yaml: {message}"


def test_a_contract_loads_with_its_columns_in_reading_order(contracts):
    mixed = contracts["mixed"]
    assert mixed.columns == ["row_id", "width", "count", "floors", "colour", "size", "note", "weight", "species"]
    assert mixed.feature("size") == Feature(name="size", type="category", values=("1", "2", "3"))
    assert mixed.target == Target(
        name="species", task="classification", classes=("cat", "dog", "fox"), min_share=0.2, max_share=0.5
    )
    assert (mixed.min_rows, mixed.max_rows, contracts["regression"].id) == (50, 1000, None)


@pytest.mark.parametrize("name", ["mixed", "binary", "regression"])
def test_a_dumped_contract_loads_back_as_it_was(tmp_path, contracts, name):
    path = tmp_path / "schema.yaml"
    dump_contract(contracts[name], path, header="# reviewed\n")
    assert replace(load_contract(path), source=name + ".yaml") == contracts[name]
    assert path.read_text(encoding="utf-8").startswith("# reviewed\npath: ")


def test_a_dumped_contract_has_one_line_per_feature_however_long(tmp_path, contracts):
    values = tuple(f"a long category value number {i}" for i in range(12))
    contract = replace(contracts["regression"], features=(Feature(name="kind", type="category", values=values),))
    path = tmp_path / "schema.yaml"
    dump_contract(contract, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("features:\n  kind: {type: category, values: [" + ", ".join(values) + "]}\n")


def test_inference_drafts_each_column_type(frames):
    frame = frames["mixed"]()
    contract = infer_contract(frame, "data/table.csv", target="species", id_column="row_id")
    assert contract.features == (
        # 0.003..9.94 widened by 10% of the span, but not below 0: the observed values are non-negative
        Feature(name="width", type="float", min=0.0, max=10.9337),
        Feature(name="count", type="int", min=0, max=6),
        Feature(name="floors", type="int", min=0, max=4, nullable=True),
        Feature(name="colour", type="category", values=("blue", "green", "red")),
        Feature(name="size", type="int", min=0, max=4),  # numbers in the file: an int until a person says otherwise
        Feature(name="note", type="text"),  # more distinct strings than a category holds
        Feature(name="weight", type="float", min=0.0, max=109.361, nullable=True),
    )
    assert contract.target == Target(
        name="species", task="classification", classes=("cat", "dog", "fox"), min_share=0.1667, max_share=0.5
    )
    assert (contract.id, contract.min_rows, contract.max_rows) == ("row_id", 60, 1200)


def test_inference_takes_a_few_integer_labels_as_classes_and_many_numbers_as_regression(frames):
    binary = infer_contract(frames["binary"](), "data/binary.csv", target="y", id_column="key")
    assert (binary.target.task, binary.target.classes) == ("classification", (0, 1))
    regression = infer_contract(frames["regression"](), "data/prices.csv", target="price")
    assert (regression.target.task, regression.target.classes, regression.id) == ("regression", None, None)
    assert regression.target.min == 0 < 1000 < regression.target.max  # non-negative prices: not widened below 0


def test_inference_names_a_missing_target_column(frames):
    with pytest.raises(ContractError) as error:
        infer_contract(frames["binary"](), "data/binary.csv", target="label")
    assert str(error.value) == "data/binary.csv: no column 'label' (columns: key, x, n, y)"


def test_an_inferred_contract_is_a_valid_contract(tmp_path, frames):
    contract = infer_contract(frames["mixed"](), "data/table.csv", target="species", id_column="row_id")
    dump_contract(contract, tmp_path / "schema.yaml")
    assert replace(load_contract(tmp_path / "schema.yaml"), source=contract.source) == contract


def test_inference_keeps_whole_floats_as_floats_and_takes_a_two_valued_integer_column_as_a_category():
    frame = pd.DataFrame(
        {
            "id": range(8),
            "pressure": [127.0, 130.0, 118.0, 121.0, 140.0, 125.0, 119.0, 133.0],  # whole values, written as floats
            "smoker": [0, 1, 0, 0, 1, 1, 0, 1],
            "visits": [1.0, None, 3.0, 2.0, 5.0, 4.0, 2.0, 1.0],  # integers with a null: pandas reads floats
            "y": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5],
        }
    )
    contract = infer_contract(frame, "data/health.csv", target="y", id_column="id")
    kinds = {feature.name: (feature.type, feature.values, feature.nullable) for feature in contract.features}
    assert kinds == {
        "pressure": ("float", None, False),
        "smoker": ("category", (0, 1), False),  # integers, as a client of the server sends them
        "visits": ("int", None, True),
    }


def test_a_redrafted_contract_keeps_the_files_comment_block_and_a_new_one_gets_the_guide(tmp_path):
    from mlci.cli import main
    from mlci.contract import CONTRACT_GUIDE

    data = tmp_path / "table.csv"
    pd.DataFrame({"size": [1.5, 2.0, 3.5, 4.0], "kind": ["a", "b", "a", "b"]}).to_csv(data, index=False)
    out = tmp_path / "schema.yaml"
    command = ["schema", "infer", str(data), "--target", "kind", "--out", str(out)]
    assert main(command) == 0
    first = out.read_text(encoding="utf-8")
    assert first.startswith("# Drafted by `mlci schema infer` from ") and CONTRACT_GUIDE in first
    out.write_text("# Ours: sizes in cm.\n" + first.split(CONTRACT_GUIDE)[1], encoding="utf-8")  # a user's header
    assert main(command) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Drafted by `mlci schema infer` from ") and lines[2:4] == [
        "# Ours: sizes in cm.",
        "path: " + data.as_posix(),
    ]


def test_display_names_of_classes_load_dump_and_fall_back_to_the_class(tmp_path, contract_dicts):
    raw = contract_dicts["binary"]
    raw["target"]["names"] = {1: "churned"}
    contract = contract_from_dict(raw)
    assert contract.target.names == (("1", "churned"),)
    assert [contract.target.display(label) for label in (1, "1", 0)] == ["churned", "churned", "0"]
    dump_contract(contract, tmp_path / "schema.yaml")
    assert "names: {1: churned}" in (tmp_path / "schema.yaml").read_text()
    assert load_contract(tmp_path / "schema.yaml").target == contract.target

"""The GX expectation suite generated from the data contract, and the file-mode GX project (gx/) that holds it.

The contract is the one place a person states what the data must look like; the suite is derived from it, so the two
cannot drift apart. `mlci schema suite` rebuilds gx/ after the contract changes; validation refuses a stale gx/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.contract import DataContract, Feature
from mlci.errors import UserFacingError

if TYPE_CHECKING:
    from great_expectations import expectations as gxe

# The objects of the generated GX project. They name no project: the contract says what the data is.
DATA_SOURCE_NAME = "raw_data"
ASSET_NAME = "raw_data"
SUITE_NAME = "raw_data"
CHECKPOINT_NAME = "raw_data"
BATCH_DEFINITION_NAME = "whole_file"
# What pandas reads from a CSV: integer columns as int64 (no nulls), numbers as float64; the other widths are allowed
# for frames built another way. An integer column with nulls comes back as float64 (NaN is a float): validation hands
# a nullable one to GX as pandas' nullable integers when its values are whole, so a fraction fails the type check.
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
# pandas' nullable integer dtypes, by the class names GX's type check matches ("Int64" it does not).
NULLABLE_INTEGER_DTYPES = (
    "Int8Dtype",
    "Int16Dtype",
    "Int32Dtype",
    "Int64Dtype",
    "UInt8Dtype",
    "UInt16Dtype",
    "UInt32Dtype",
    "UInt64Dtype",
)
FLOAT_DTYPES = ("float16", "float32", "float64")
# A text column is handed to GX as Python objects (pandas 2 reads it as object, pandas 3 as a `str` dtype that GX's
# type names cannot match), so its type check looks at each value: a string passes.
TEXT_TYPES = ("str",)
MAX_LISTED_VALUES = 10  # a value set longer than this is shortened in a description
# GX draws a random id (uuid4) for each object it adds to a project; the generated project's ids are derived instead
# (uuid5 of what the object is), so the same contract gives the same gx/ byte for byte and a changed rule shows in a
# diff as that rule alone.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "mlci:gx")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _show(value: Any) -> str:
    """A number as a person writes it (16, not 16.0), anything else as its text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _listed(values: Sequence[Any]) -> str:
    shown = [_show(value) for value in values]
    if len(shown) <= MAX_LISTED_VALUES:
        return ", ".join(shown)
    return f"{', '.join(shown[:MAX_LISTED_VALUES - 2])}, …, {shown[-1]} ({len(shown)} values)"


def _percent(share: float) -> str:
    return f"{share * 100:.6g}%"


def _range(column: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{column} is within {_show(low)}..{_show(high)}"
    return f"{column} is at least {_show(low)}" if low is not None else f"{column} is at most {_show(high)}"


def type_list(kind: str, nullable: bool = False) -> list[str]:
    """The dtypes (or, for text, the value types) a column of this contract type may have."""
    if kind == "int":
        return [*INTEGER_DTYPES, *(NULLABLE_INTEGER_DTYPES if nullable else ())]
    if kind == "float":
        return [*INTEGER_DTYPES, *FLOAT_DTYPES]
    if kind == "text":
        return list(TEXT_TYPES)
    raise ValueError(f"no type check for {kind!r} columns")


_TYPE_WORDS = {"int": "integers", "float": "numbers", "text": "text"}


def _feature_checks(feature: Feature) -> list[gxe.Expectation]:
    """Type first (a type problem explains the value checks it breaks), then nulls, then the range or value set."""
    from great_expectations import expectations as gxe

    name = feature.name
    checks: list[gxe.Expectation] = []
    if feature.type != "category":
        checks.append(
            gxe.ExpectColumnValuesToBeInTypeList(
                column=name,
                type_list=type_list(feature.type, feature.nullable),
                description=f"{name} holds {_TYPE_WORDS[feature.type]}",
            )
        )
    if not feature.nullable:
        checks.append(gxe.ExpectColumnValuesToNotBeNull(column=name, description=f"{name} has no nulls"))
    if feature.numeric and (feature.min is not None or feature.max is not None):
        checks.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=name,
                min_value=feature.min,
                max_value=feature.max,
                description=_range(name, feature.min, feature.max),
            )
        )
    if feature.type == "category":
        checks.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=name, value_set=list(feature.values), description=f"{name} is one of {_listed(feature.values)}"
            )
        )
    return checks


def _target_checks(contract: DataContract) -> list[gxe.Expectation]:
    from great_expectations import expectations as gxe

    target = contract.target
    name = target.name
    if not target.is_classification:
        checks: list[gxe.Expectation] = [
            gxe.ExpectColumnValuesToBeInTypeList(
                column=name, type_list=type_list("float"), description=f"{name} holds numbers"
            ),
            gxe.ExpectColumnValuesToNotBeNull(column=name, description=f"{name} has no nulls"),
        ]
        if target.min is not None or target.max is not None:
            checks.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name,
                    min_value=target.min,
                    max_value=target.max,
                    description=_range(name, target.min, target.max),
                )
            )
        return checks
    # No type check: the class set is the type. Cells are compared as the contract's classes (see validation).
    checks = [
        gxe.ExpectColumnValuesToNotBeNull(column=name, description=f"{name} has no nulls"),
        gxe.ExpectColumnValuesToBeInSet(
            column=name, value_set=list(target.classes), description=f"{name} is one of {_listed(target.classes)}"
        ),
    ]
    # A class's share within [min_share, max_share]: two core expectations with `mostly` bound it from both sides
    # (shares of the non-null values; the null check above covers the rest).
    for label in target.classes:
        if target.min_share:
            checks.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=name,
                    value_set=[label],
                    mostly=target.min_share,
                    description=f"class {_show(label)} is at least {_percent(target.min_share)} of the rows",
                )
            )
        if target.max_share is not None and target.max_share < 1:
            checks.append(
                gxe.ExpectColumnValuesToNotBeInSet(
                    column=name,
                    value_set=[label],
                    mostly=round(1 - target.max_share, 6),
                    description=f"class {_show(label)} is at most {_percent(target.max_share)} of the rows",
                )
            )
    return checks


def build_expectations(contract: DataContract) -> list[gxe.Expectation]:
    """The checks the raw data must pass before any training, in reading order: table, id, features, target.

    Each has a description that reads as the rule. The columns are matched as a set here, so a missing or extra column
    is named; their order is checked before the suite runs (mlci.validation.check_feature_order), since a swapped
    pair of same-ranged names would pass every value check.
    """
    from great_expectations import expectations as gxe  # imported late: it takes seconds

    checks: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=contract.columns,
            exact_match=True,
            description=f"the columns are exactly the contract's {len(contract.columns)}, in any order",
        )
    ]
    if contract.min_rows is not None or contract.max_rows is not None:
        low, high = contract.min_rows, contract.max_rows
        if low is not None and high is not None:
            rows = f"between {low:,} and {high:,} rows"
        else:
            rows = f"at least {low:,} rows" if low is not None else f"at most {high:,} rows"
        checks.append(gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high, description=rows))
    if contract.id:
        checks.append(gxe.ExpectColumnValuesToNotBeNull(column=contract.id, description=f"{contract.id} has no nulls"))
        checks.append(
            gxe.ExpectColumnValuesToBeUnique(column=contract.id, description=f"{contract.id} values are unique")
        )
    for feature in contract.features:
        checks += _feature_checks(feature)
    checks += _target_checks(contract)
    return checks


def expectation_key(expectation: Any) -> str:
    """An expectation (or its entry in a suite's JSON) without its id, as text: equal keys check the same rule."""
    if isinstance(expectation, Mapping):
        kind, kwargs, description = expectation["type"], expectation["kwargs"], expectation.get("description")
    else:
        config = expectation.configuration
        kind, kwargs, description = config.type, config.kwargs, config.description
    return json.dumps({"type": kind, "kwargs": kwargs, "description": description}, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------------- the project
def stable_id(*identity: Any) -> str:
    """The id of a generated GX object, derived from what it is (its kind and name): the same in every build."""
    return str(uuid.uuid5(ID_NAMESPACE, json.dumps(identity)))


def expectation_ids(expectations: Sequence[gxe.Expectation]) -> list[str]:
    """One id per expectation, from its type, its column and how many of that type on that column come before it.

    Not from its other arguments: a changed range keeps its id, as an expectation edited in GX does, so a contract
    change shows in the suite's diff as the changed values alone.
    """
    seen: Counter[tuple[str, str | None]] = Counter()
    ids = []
    for expectation in expectations:
        slot = (expectation.configuration.type, expectation.configuration.kwargs.get("column"))
        ids.append(stable_id("expectation", SUITE_NAME, *slot, seen[slot]))
        seen[slot] += 1
    return ids


def _replace_ids(project: Path, ids: Mapping[str, str]) -> None:
    """Replace GX's random ids with the derived ones in every file git tracks (uncommitted/ is ignored).

    In the files, not on the objects: GX's file-mode stores give every object they add a new uuid4, whatever id it had.
    """
    for path in sorted(project.rglob("*")):
        if not path.is_file() or path.relative_to(project).parts[0] == "uncommitted":
            continue
        text = path.read_text(encoding="utf-8")
        derived = UUID.sub(lambda match: ids.get(match.group(), match.group()), text)
        if derived != text:
            path.write_text(derived, encoding="utf-8")


def _write_project(contract: DataContract, root: Path) -> None:
    """Write a fresh GX file-mode project to root/gx."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before GX loads: no usage events from CI or laptops
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # they flood CI logs
    context.variables.analytics_enabled = False
    sites = context.variables.data_docs_sites
    sites["local_site"]["show_how_to_buttons"] = False  # the buttons link to GX's hosted docs
    context.variables.data_docs_sites = sites
    context.variables.save()
    data_source = context.data_sources.add_pandas(DATA_SOURCE_NAME)
    asset = data_source.add_dataframe_asset(ASSET_NAME)
    batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=build_expectations(contract)))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=SUITE_NAME, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=CHECKPOINT_NAME,
            validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            # BASIC has the counts and up to 20 unexpected values the summary shows; SUMMARY's value counts and
            # row indexes double the run time.
            result_format={"result_format": "BASIC"},
        )
    )
    ids = {
        str(context.data_context_id): stable_id("data_context"),
        str(data_source.id): stable_id("datasource", DATA_SOURCE_NAME),
        str(asset.id): stable_id("asset", DATA_SOURCE_NAME, ASSET_NAME),
        str(batch_definition.id): stable_id("batch_definition", DATA_SOURCE_NAME, ASSET_NAME, BATCH_DEFINITION_NAME),
        str(suite.id): stable_id("suite", SUITE_NAME),
        str(validation.id): stable_id("validation_definition", SUITE_NAME),
        str(checkpoint.id): stable_id("checkpoint", CHECKPOINT_NAME),
    }
    ids.update(zip((str(e.id) for e in suite.expectations), expectation_ids(suite.expectations)))
    _replace_ids(root / "gx", ids)


def create_gx_project(contract: DataContract, root: Path, replace: bool = False) -> Path:
    """Write the GX project for `contract` to root/gx and return its path.

    The project is built in a temporary folder beside it and moved into place, so a failure leaves an existing gx/
    as it was. The ids are derived, not drawn: the same contract gives the same files.
    """
    root = Path(root)
    project = root / "gx"
    if project.exists() and not replace:
        raise UserFacingError(f"{project} already exists: rebuild it with `mlci schema suite`")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".gx-build-") as scratch:
        _write_project(contract, Path(scratch))
        if project.exists():
            shutil.rmtree(project)
        (Path(scratch) / "gx").rename(project)
    return project

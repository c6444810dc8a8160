"""Validate the raw data with the GX checkpoint generated from the contract, and summarise what failed.

One problem is one row: a column whose type is wrong (a word among numbers) fails its range check too, and a missing
column fails every check on it; those follow-on failures are folded into the row that explains them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlci.contract import DataContract, read_data
from mlci.errors import DataError, UserFacingError
from mlci.files import GX_ROOT
from mlci.suite import CHECKPOINT_NAME, build_expectations, expectation_key

logger = logging.getLogger(__name__)

DATA_DOCS_SITE = Path("uncommitted") / "data_docs" / "local_site"
MAX_SHOWN_VALUES = 5
MAX_DATA_MB = 200  # the largest data file validation reads unless told otherwise (--max-mb, MLCI_VALIDATE_MAX_MB)
MEMORY_PER_MB = 10  # validation reads the file whole (pandas, then GX): about 9 MB of memory per MB of CSV, measured
REBUILD_HINT = "rebuild it from the contract with `mlci schema suite`"
# Data Docs show GX's logo from a remote URL carrying the project's id and a timestamp; the site has the same image.
REMOTE_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/logo-long\.png[^\"']*")
COLUMN_SET = "expect_table_columns_to_match_set"
TYPE_CHECK = "expect_column_values_to_be_in_type_list"
NOT_NULL = "expect_column_values_to_not_be_null"
RANGE_CHECK = "expect_column_values_to_be_between"


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation, as reports/validation.json lists it.

    `folded` holds the descriptions of the failed expectations this one explains (the range check of a column whose
    type is wrong, every check of a missing column); they are counted in `failed` but not listed as rows.
    """

    expectation: str
    column: str | None
    description: str
    observed: str
    folded: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationSummary:
    """The outcome of one checkpoint run: the file, the counts, and the failed expectations in reading order."""

    success: bool
    data_file: str
    rows: int
    evaluated: int
    successful: int
    failed: int
    failed_expectations: tuple[FailedExpectation, ...] = field(default=())

    def to_dict(self) -> dict:
        """The machine-readable summary written to reports/validation.json (what mlci.summary renders)."""
        summary = asdict(self)
        summary["failed_expectations"] = [
            {**asdict(row), "folded": list(row.folded)} for row in self.failed_expectations
        ]
        return summary


# ---------------------------------------------------------------------------------------------- reading as the contract
def _as_text(value: Any) -> str:
    """A cell or contract value as text, so 1, 1.0 and "1" compare equal (pandas guesses a CSV column's type)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value.item() if hasattr(value, "item") else value)


def _as_values(column: pd.Series, values: tuple) -> pd.Series:
    """The column with each cell that matches a contract value as text replaced by that value; others kept."""
    lookup = {_as_text(value): value for value in values}
    mapping = {cell: lookup.get(_as_text(cell), cell) for cell in column.dropna().unique()}
    return column.map(mapping).astype(object)


def _whole(values: pd.Series) -> pd.Series:
    """Whether each number is a whole, finite one (inf rounds to itself but is no integer)."""
    return np.isfinite(values) & (values == values.round())


def _as_nullable_integers(column: pd.Series) -> pd.Series:
    """A float column as pandas' nullable integers when every value is whole; one with a fraction is kept as read."""
    if not pd.api.types.is_float_dtype(column) or not _whole(column.dropna()).all():
        return column
    return column.astype("Int64")


def as_contract_types(frame: pd.DataFrame, contract: DataContract) -> pd.DataFrame:
    """The frame as GX should see it: categories and classes compared as the contract writes them, text as objects.

    A CSV has no types; pandas guesses them. A category column of "1", "2" comes back as integers and a class column
    of 0..9 with one word in it as text; both are compared here with the contract's values by their text. A nullable
    integer column with nulls comes back as float64 (NaN is a float): it is handed to GX as nullable integers when
    its values are whole, and as read otherwise, so a fraction fails its type check as it does in a column without
    nulls.
    """
    frame = frame.copy()
    for feature in contract.features:
        if feature.name not in frame.columns:
            continue
        if feature.type == "category":
            frame[feature.name] = _as_values(frame[feature.name], feature.values)
        elif feature.type == "text":
            frame[feature.name] = frame[feature.name].astype(object)
        elif feature.type == "int" and feature.nullable:
            frame[feature.name] = _as_nullable_integers(frame[feature.name])
    target = contract.target
    if target.is_classification and target.name in frame.columns:
        frame[target.name] = _as_values(frame[target.name], target.classes)
    return frame


# ------------------------------------------------------------------------------------------------ what GX saw
def _exception_message(exception_info: Mapping[str, Any]) -> str | None:
    """The first error message in GX's exception info, which is flat or keyed by metric."""
    if str(exception_info.get("raised_exception")) == "True":  # a bool, or its text once serialised
        return str(exception_info.get("exception_message") or "unknown error")
    nested = (_exception_message(value) for value in exception_info.values() if isinstance(value, Mapping))
    return next((message for message in nested if message), None)


def _column_set_difference(expected: list[str], actual: list[str]) -> str:
    missing = [column for column in expected if column not in actual]
    extra = [column for column in actual if column not in expected]
    parts = [f"missing: {', '.join(missing)}" if missing else "", f"unexpected: {', '.join(extra)}" if extra else ""]
    return "; ".join(part for part in parts if part) or "as expected"


def _shown(values: list[Any]) -> str:
    shown = ", ".join(str(value) for value in values[:MAX_SHOWN_VALUES])
    return shown + (f" and {len(values) - MAX_SHOWN_VALUES} more" if len(values) > MAX_SHOWN_VALUES else "")


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _type_observed(column: pd.Series, expected: str) -> str:
    """Why a column failed its type check, naming the values at fault (`expected`: int, float or text)."""
    dtype = f"dtype {column.dtype}"
    values = column.dropna()
    if expected == "text":
        wrong = [value for value in values.unique() if not isinstance(value, str)]
        return f"{dtype}: non-text values: {_shown(wrong)}" if wrong else dtype
    if not _is_numeric(column):
        numbers = pd.to_numeric(values.astype(object), errors="coerce")
        wrong = list(values[numbers.isna()].unique())
        return f"{dtype}: non-numeric values: {_shown(wrong)}" if wrong else dtype
    if expected == "int" and pd.api.types.is_float_dtype(column):
        fractions = list(values[~_whole(values)].unique())
        if fractions:
            return f"{dtype}: non-integer values: {_shown(fractions)}"
        if len(values) < len(column):
            return f"{dtype}: integers with nulls"
        return (
            f"{dtype}: whole numbers written with a decimal point (e.g. {values.iloc[0]}): write them without it, "
            "or make the column `float` in the contract"
        )
    return dtype


def _observed(config: Any, result: dict[str, Any], exception_info: dict[str, Any], frame: pd.DataFrame) -> str:
    """What GX saw, in a few words."""
    kwargs = config.kwargs
    column = kwargs.get("column")
    if column is not None and column not in frame.columns:
        return "missing column"
    if config.type == COLUMN_SET:
        return _column_set_difference(list(kwargs["column_set"]), [str(c) for c in frame.columns])
    message = _exception_message(exception_info)
    if message:
        return f"error: {message.strip().splitlines()[0]}"
    if "unexpected_count" in result:
        percent = result.get("unexpected_percent") or 0.0
        if config.type == NOT_NULL:
            return f"{result['unexpected_count']} null ({percent:.1f}%)"
        mostly = kwargs.get("mostly")
        if mostly is not None and mostly < 1 and config.type.endswith("_in_set"):
            in_set = percent if config.type == "expect_column_values_to_not_be_in_set" else 100 - percent
            return f"{in_set:.1f}% of values in {list(kwargs['value_set'])}"
        values = result.get("partial_unexpected_list") or []
        shown = ", ".join(str(value) for value in values[:MAX_SHOWN_VALUES])
        return f"{result['unexpected_count']} unexpected ({percent:.1f}%)" + (f": {shown}" if shown else "")
    return str(result.get("observed_value"))


def _column_kind(contract: DataContract, column: str) -> str | None:
    """The type a column's type check expects: int, float or text (None: no type check)."""
    if column in contract.feature_names:
        return contract.feature(column).type
    if column == contract.target.name and not contract.target.is_classification:
        return "float"
    return None


def _fold(rows: list[FailedExpectation], contract: DataContract, read: pd.DataFrame) -> list[FailedExpectation]:
    """Fold follow-on failures into the row that explains them.

    A missing column's rows go into the column-set row. A numeric column that holds text: its range check (which
    GX cannot even run) goes into the type row. An integer column read as float only because it has nulls: the
    type row goes into the null row.
    """

    def merge(into: FailedExpectation, others: list[FailedExpectation]) -> FailedExpectation:
        folded = [*into.folded, *(name for other in others for name in (other.description, *other.folded))]
        return replace(into, folded=tuple(folded))

    table = next((row for row in rows if row.expectation == COLUMN_SET), None)
    absent = [row for row in rows if row.column is not None and row.column not in read.columns]
    if table is not None and absent:
        rows = [merge(table, absent) if row is table else row for row in rows if row not in absent]
    for type_row in [row for row in rows if row.expectation == TYPE_CHECK and row.column in read.columns]:
        column = read[type_row.column]
        same_column = [row for row in rows if row.column == type_row.column and row is not type_row]
        if not _is_numeric(column):
            caused = [row for row in same_column if row.expectation == RANGE_CHECK]
            rows = [merge(type_row, caused) if row is type_row else row for row in rows if row not in caused]
        elif _column_kind(contract, type_row.column) == "int" and type_row.observed.endswith("integers with nulls"):
            nulls = next((row for row in same_column if row.expectation == NOT_NULL), None)
            if nulls is not None:
                rows = [merge(nulls, [type_row]) if row is nulls else row for row in rows if row is not type_row]
    return rows


def _summarise(result: Any, suite_order: list[str], contract: DataContract, read: pd.DataFrame, data_file: str):
    outcomes = [outcome for suite_result in result.run_results.values() for outcome in suite_result.results]
    rows = []
    for outcome in outcomes:
        if outcome.success:
            continue
        config = outcome.expectation_config
        column = config.kwargs.get("column")
        observed = _observed(config, outcome.result or {}, outcome.exception_info or {}, read)
        if config.type == TYPE_CHECK and column in read.columns:
            observed = _type_observed(read[column], _column_kind(contract, column) or "float")
        rows.append(FailedExpectation(config.type, column, config.description or config.type, observed))
    order = {key: position for position, key in enumerate(suite_order)}
    columns = contract.columns

    def reading_order(row: FailedExpectation) -> tuple[int, int]:
        """Table-level checks first, then columns in contract order, each in suite order (type first)."""
        position = -1 if row.column is None else (columns.index(row.column) if row.column in columns else len(columns))
        return position, order.get(row.description, len(order))

    failed = len(rows)
    rows = _fold(sorted(rows, key=reading_order), contract, read)  # folding keeps the order
    return ValidationSummary(
        success=not rows,
        data_file=data_file,
        rows=len(read),
        evaluated=len(outcomes),
        successful=len(outcomes) - failed,
        failed=failed,
        failed_expectations=tuple(rows),
    )


# ----------------------------------------------------------------------------------------------- running the checkpoint
def _use_local_logo(site: Path) -> None:
    """Point the Data Docs logo at the site's own copy, so opening a page tells no server about this project."""
    logo = site / "static" / "images" / "logo-long.png"
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        local = Path(os.path.relpath(logo, page.parent)).as_posix()
        if REMOTE_LOGO.search(html):
            page.write_text(REMOTE_LOGO.sub(local, html), encoding="utf-8")


def _display_path(path: Path) -> str:
    """The data file as annotations should name it: relative to the current directory (the repository root in CI)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() if path.is_absolute() else path.as_posix()
    except ValueError:
        return path.as_posix()


def _load_checkpoint(contract: DataContract, gx_root: Path) -> Any:
    """The checkpoint of the GX project at gx_root, checked to hold the suite the contract generates."""
    if not (gx_root / "great_expectations.yml").is_file():
        raise UserFacingError(f"{gx_root} is not a GX project (no great_expectations.yml): {REBUILD_HINT}")
    import great_expectations as gx  # imported here: it takes seconds

    try:
        context = gx.get_context(mode="file", context_root_dir=str(gx_root))
        checkpoint = context.checkpoints.get(CHECKPOINT_NAME)
        suites = [definition.suite for definition in checkpoint.validation_definitions]
    except Exception as error:  # GX raises many types for a broken project; the user needs one message
        raise UserFacingError(
            f"the GX project in {gx_root} cannot be loaded ({type(error).__name__}: {error}); {REBUILD_HINT}"
        ) from error
    committed = sorted(expectation_key(e) for suite in suites for e in suite.expectations)
    if committed != sorted(expectation_key(e) for e in build_expectations(contract)):
        raise UserFacingError(f"the GX suite in {gx_root} was not generated from {contract.source}: {REBUILD_HINT}")
    return checkpoint


def check_size(path: Path, max_mb: float) -> None:
    """Refuse a file over `max_mb` MB unread: a DataError saying the memory it would take, and the way round."""
    size = path.stat().st_size / 1e6 if path.is_file() else 0.0
    if size <= max_mb:
        return
    raise DataError(
        f"{path} is {size:,.4g} MB, over the {max_mb:,.4g} MB validation reads: it reads the file whole, about "
        f"{MEMORY_PER_MB} MB of memory per MB ({size * MEMORY_PER_MB / 1000:,.1f} GB here); where that memory is free, "
        "raise the bound (`mlci validate --max-mb N`, or MLCI_VALIDATE_MAX_MB=N)"
    )


def check_feature_order(contract: DataContract, columns: list[str], data_file: str) -> None:
    """Refuse a file whose features are not in the contract's order (DataError naming the first names that differ).

    The GX suite matches the columns as a set, and a swapped pair of same-ranged names passes every value check: the
    data would train under the wrong names. The id and the target may stand anywhere; a missing feature is left to
    the suite's column-set check, which names it.
    """
    names = set(contract.feature_names)
    found = [str(column) for column in columns if str(column) in names]
    expected = [name for name in contract.feature_names if name in set(found)]
    differ = [i for i, (want, got) in enumerate(zip(expected, found)) if want != got]
    if not differ:
        return
    first, last = differ[0], min(differ[-1], differ[0] + MAX_SHOWN_VALUES - 1)
    more = ", …" if differ[-1] > last else ""
    position = [str(column) for column in columns].index(found[first]) + 1
    raise DataError(
        f"{data_file}: the features are not in the contract's order: from column {position}, expected "
        f"{', '.join(expected[first : last + 1])}{more}; found {', '.join(found[first : last + 1])}{more} "
        f"(a swapped header?): fix the file's header, or list the features in {contract.source} in the file's order"
    )


def validate_data(
    contract: DataContract,
    data_path: str | Path | None = None,
    gx_root: str | Path = GX_ROOT,
    max_mb: float = MAX_DATA_MB,
) -> ValidationSummary:
    """Run the GX checkpoint on the contract's data file (or `data_path`), rebuild Data Docs, return the summary.

    Relative paths are taken from the current directory. Raises DataError when the file is missing, unreadable, over
    `max_mb` MB or its features are out of the contract's order, UserFacingError when the GX project is missing,
    broken or stale, or the checkpoint crashes.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # set before GX loads; gx/great_expectations.yml says so too
    path = Path(data_path if data_path is not None else contract.path)
    check_size(path, max_mb)
    read = read_data(contract, path)
    check_feature_order(contract, list(read.columns), str(path))
    gx_root = Path(gx_root).resolve()
    checkpoint = _load_checkpoint(contract, gx_root)
    suite_order = [e.description for d in checkpoint.validation_definitions for e in d.suite.expectations]
    # Keep only this run's results: the folder, and the Data Docs built from it, would otherwise grow every run.
    shutil.rmtree(gx_root / "uncommitted" / "validations", ignore_errors=True)
    try:
        result = checkpoint.run(batch_parameters={"dataframe": as_contract_types(read, contract)})
    except Exception as error:  # a failed expectation is a result, not an exception: this is GX or the project
        raise UserFacingError(
            f"the GX checkpoint {CHECKPOINT_NAME!r} in {gx_root} crashed ({type(error).__name__}: {error})"
        ) from error
    site = gx_root / DATA_DOCS_SITE
    _use_local_logo(site)
    logger.info("Data Docs: %s", site / "index.html")
    return _summarise(result, suite_order, contract, read, _display_path(path))

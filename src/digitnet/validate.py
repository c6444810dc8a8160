"""Validate the raw data with the committed GX checkpoint (gx/) and summarise what failed, for people and machines."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pandas as pd

from digitnet.data import COLUMNS, read_raw_csv
from digitnet.errors import UserFacingError

logger = logging.getLogger(__name__)

# Names of the objects in the committed GX project (scripts/create_gx_project.py creates them).
DATA_SOURCE_NAME = "digits"
ASSET_NAME = "raw_digits"
BATCH_DEFINITION_NAME = "whole_file"
SUITE_NAME = "raw_digits"
CHECKPOINT_NAME = "raw_digits"
DATA_DOCS_SITE = Path("uncommitted") / "data_docs" / "local_site"
MAX_SHOWN_VALUES = 5
MAX_CELL_WIDTH = 64
RESTORE_HINT = "restore it with `git checkout gx` or recreate it with scripts/create_gx_project.py --replace"
# Data Docs show GX's logo from a remote URL carrying the project's id and a timestamp; the site has the same image.
REMOTE_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/logo-long\.png[^\"']*")


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation, as reports/validation.json lists it."""

    expectation: str
    column: str | None
    description: str
    observed: str


@dataclass(frozen=True)
class ValidationSummary:
    """The outcome of one checkpoint run: counts and the failed expectations."""

    success: bool
    rows: int
    evaluated: int
    successful: int
    failed: int
    failed_expectations: tuple[FailedExpectation, ...]

    def to_dict(self) -> dict:
        """The machine-readable summary written to reports/validation.json."""
        summary = asdict(self)
        summary["failed_expectations"] = [asdict(row) for row in self.failed_expectations]
        return summary

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [(r.expectation, r.column or "-", r.description, r.observed) for r in self.failed_expectations]

    def failure_table(self) -> str:
        """A fixed-width table of the failed expectations, for the log (cells cut at 64 characters)."""
        header = ("expectation", "column", "description", "observed")
        rows = [header, *self._rows()]
        widths = [min(max(len(row[i]) for row in rows), MAX_CELL_WIDTH) for i in range(len(header))]
        lines = ["  ".join(_cut(cell).ljust(width) for cell, width in zip(row, widths)) for row in rows]
        return "\n".join(line.rstrip() for line in lines)

    def markdown_table(self) -> str:
        """The outcome as Markdown, for a CI job summary."""
        if self.success:
            return f"All {self.evaluated} expectations passed on {self.rows:,} rows."
        lines = [
            f"{self.failed} of {self.evaluated} expectations failed on {self.rows:,} rows.",
            "",
            "| expectation | column | description | observed |",
            "|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self._rows()]
        return "\n".join(lines)


def _cut(cell: str) -> str:
    return cell if len(cell) <= MAX_CELL_WIDTH else cell[: MAX_CELL_WIDTH - 1] + "…"


def _exception_message(exception_info: Mapping[str, Any]) -> str | None:
    """The first error message in GX's exception info, which is flat or keyed by metric."""
    if str(exception_info.get("raised_exception")) == "True":  # a bool, or its text once serialised
        return str(exception_info.get("exception_message") or "unknown error")
    nested = (_exception_message(value) for value in exception_info.values() if isinstance(value, Mapping))
    return next((message for message in nested if message), None)


def _column_list_difference(expected: list[str], actual: list[str]) -> str:
    missing = [column for column in expected if column not in actual]
    extra = [column for column in actual if column not in expected]
    if missing or extra:
        parts = [
            f"missing: {', '.join(missing)}" if missing else "",
            f"unexpected: {', '.join(extra)}" if extra else "",
        ]
        return "; ".join(part for part in parts if part)
    for position, (want, got) in enumerate(zip_longest(expected, actual, fillvalue="nothing")):
        if want != got:
            return f"order differs at position {position}: {got} where {want} belongs"
    return "as expected"


def _observed(config: Any, result: dict[str, Any], exception_info: dict[str, Any], frame: pd.DataFrame) -> str:
    """What GX saw, in a few words."""
    kwargs = config.kwargs
    column = kwargs.get("column")
    if column is not None and column not in frame.columns:
        return "missing column"
    if config.type == "expect_table_columns_to_match_ordered_list":
        return _column_list_difference(list(kwargs["column_list"]), [str(c) for c in frame.columns])
    if config.type == "expect_column_values_to_be_in_type_list":
        return f"dtype {frame[column].dtype}"
    message = _exception_message(exception_info)
    if message:
        return f"error: {message.strip().splitlines()[0]}"
    if "unexpected_count" in result:
        percent = result.get("unexpected_percent") or 0.0
        if config.type == "expect_column_values_to_not_be_null":
            return f"{result['unexpected_count']} null ({percent:.1f}%)"
        mostly = kwargs.get("mostly")
        if mostly is not None and mostly < 1 and config.type.endswith("_in_set"):
            in_set = percent if config.type == "expect_column_values_to_not_be_in_set" else 100 - percent
            return f"{in_set:.1f}% of values in {list(kwargs['value_set'])}"
        values = result.get("partial_unexpected_list") or []
        shown = ", ".join(str(value) for value in values[:MAX_SHOWN_VALUES])
        return f"{result['unexpected_count']} unexpected ({percent:.1f}%)" + (f": {shown}" if shown else "")
    return str(result.get("observed_value"))


def _reading_order(row: FailedExpectation) -> tuple[bool, int, str]:
    """Table-level checks first, then by column in schema order (GX returns results in no useful order)."""
    position = COLUMNS.index(row.column) if row.column in COLUMNS else len(COLUMNS)
    return (row.column is not None, position, row.description)


def _summarise(checkpoint_result: Any, frame: pd.DataFrame) -> ValidationSummary:
    outcomes = [outcome for suite_result in checkpoint_result.run_results.values() for outcome in suite_result.results]
    failed = sorted(
        (
            FailedExpectation(
                expectation=outcome.expectation_config.type,
                column=outcome.expectation_config.kwargs.get("column"),
                description=outcome.expectation_config.description or outcome.expectation_config.type,
                observed=_observed(
                    outcome.expectation_config, outcome.result or {}, outcome.exception_info or {}, frame
                ),
            )
            for outcome in outcomes
            if not outcome.success
        ),
        key=_reading_order,
    )
    return ValidationSummary(
        success=not failed,
        rows=len(frame),
        evaluated=len(outcomes),
        successful=len(outcomes) - len(failed),
        failed=len(failed),
        failed_expectations=tuple(failed),
    )


def _use_local_logo(site: Path) -> None:
    """Point the Data Docs logo at the site's own copy, so opening a page tells no server about this project."""
    logo = site / "static" / "images" / "logo-long.png"
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        local = Path(os.path.relpath(logo, page.parent)).as_posix()
        if REMOTE_LOGO.search(html):
            page.write_text(REMOTE_LOGO.sub(local, html), encoding="utf-8")


def validate_raw_data(data_path: str | Path, project_root: str | Path = Path("gx")) -> ValidationSummary:
    """Run the GX checkpoint on the CSV at `data_path`, rebuild Data Docs, and return the summary.

    Relative paths are taken from the current directory. Raises DataError when the file is missing or unreadable,
    UserFacingError when the GX project is missing or broken.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # set before GX loads; gx/great_expectations.yml says so too
    frame = read_raw_csv(data_path)
    project_root = Path(project_root).resolve()
    if not (project_root / "great_expectations.yml").is_file():
        raise UserFacingError(f"{project_root} is not a GX project (no great_expectations.yml): {RESTORE_HINT}")
    import great_expectations as gx  # imported here: it takes seconds

    try:
        context = gx.get_context(mode="file", context_root_dir=str(project_root))
        checkpoint = context.checkpoints.get(CHECKPOINT_NAME)
    except Exception as error:  # GX raises many types for a broken project; the user needs one message
        raise UserFacingError(
            f"the GX project in {project_root} cannot be loaded ({type(error).__name__}: {error}); {RESTORE_HINT}"
        ) from error
    # Keep only this run's results: the folder, and the Data Docs built from it, would otherwise grow every run.
    shutil.rmtree(project_root / "uncommitted" / "validations", ignore_errors=True)
    try:
        result = checkpoint.run(batch_parameters={"dataframe": frame})
    except Exception as error:  # a failed expectation is a result, not an exception: this is GX or the project
        raise UserFacingError(
            f"the GX checkpoint {CHECKPOINT_NAME!r} in {project_root} crashed ({type(error).__name__}: {error})"
        ) from error
    site = project_root / DATA_DOCS_SITE
    _use_local_logo(site)
    logger.info("Data Docs: %s", site / "index.html")
    return _summarise(result, frame)

"""Validate the raw data with the committed GX checkpoint (gx/) and summarise what failed, for people and machines."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from digitnet.data import read_raw_csv
from digitnet.errors import UserFacingError

logger = logging.getLogger(__name__)

# Names of the objects in the committed GX project (scripts/create_gx_project.py creates them).
DATA_SOURCE_NAME = "digits"
ASSET_NAME = "raw_digits"
BATCH_DEFINITION_NAME = "whole_file"
SUITE_NAME = "raw_digits"
CHECKPOINT_NAME = "raw_digits"
MAX_SHOWN_VALUES = 5


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    description: str
    observed: str


@dataclass(frozen=True)
class ValidationSummary:
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
        """A fixed-width table of the failed expectations, for the log."""
        header = ("expectation", "column", "check", "observed")
        rows = [header, *self._rows()]
        widths = [min(max(len(row[i]) for row in rows), 60) for i in range(4)]
        return "\n".join("  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths)) for row in rows)

    def markdown_table(self) -> str:
        """The same table as Markdown, for a CI job summary."""
        if self.success:
            return f"All {self.evaluated} expectations passed on {self.rows:,} rows."
        lines = [
            f"{self.failed} of {self.evaluated} expectations failed on {self.rows:,} rows.",
            "",
            "| expectation | column | check | observed |",
            "|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self._rows()]
        return "\n".join(lines)


def _observed(result: dict[str, Any], exception: dict[str, Any]) -> str:
    """What GX saw, in a few words."""
    if exception.get("raised_exception"):
        message = (exception.get("exception_message") or "").strip().splitlines()
        return f"error: {message[0] if message else 'unknown'}"
    if "unexpected_count" in result:
        values = result.get("partial_unexpected_list") or []
        shown = ", ".join(repr(value) for value in values[:MAX_SHOWN_VALUES])
        percent = result.get("unexpected_percent")
        share = f" ({percent:.1f}%)" if percent is not None else ""
        return f"{result['unexpected_count']} unexpected{share}" + (f": {shown}" if shown else "")
    observed = result.get("observed_value")
    text = repr(observed)
    return text if len(text) <= 80 else text[:77] + "..."


def _summarise(checkpoint_result: Any, rows: int) -> ValidationSummary:
    outcomes = [outcome for suite_result in checkpoint_result.run_results.values() for outcome in suite_result.results]
    failed = []
    for outcome in outcomes:
        if outcome.success:
            continue
        config = outcome.expectation_config
        failed.append(
            FailedExpectation(
                expectation=config.type,
                column=config.kwargs.get("column"),
                description=config.description or config.type,
                observed=_observed(outcome.result or {}, outcome.exception_info or {}),
            )
        )
    return ValidationSummary(
        success=not failed,
        rows=rows,
        evaluated=len(outcomes),
        successful=len(outcomes) - len(failed),
        failed=len(failed),
        failed_expectations=tuple(failed),
    )


def validate_raw_data(data_path: str | Path, project_root: str | Path = "gx") -> ValidationSummary:
    """Run the GX checkpoint on the CSV at `data_path` and return the summary (Data Docs are rebuilt too).

    Raises DataError when the file is missing or unreadable, UserFacingError when the GX project is unusable.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    frame = read_raw_csv(data_path)
    project_root = Path(project_root).resolve()
    if not (project_root / "great_expectations.yml").is_file():
        raise UserFacingError(
            f"{project_root} is not a GX project (no great_expectations.yml): restore it with `git checkout gx`"
        )
    import great_expectations as gx  # imported here: it takes seconds

    try:
        context = gx.get_context(mode="file", context_root_dir=str(project_root))
        checkpoint = context.checkpoints.get(CHECKPOINT_NAME)
    except Exception as error:  # GX raises many types for a broken project; the user needs one message
        raise UserFacingError(
            f"the GX project in {project_root} cannot be loaded ({type(error).__name__}: {error}); "
            "restore it with `git checkout gx` or recreate it with scripts/create_gx_project.py"
        ) from error
    # Keep only this run's results: the folder would otherwise grow, and Data Docs with it, on every run.
    shutil.rmtree(project_root / "uncommitted" / "validations", ignore_errors=True)
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    logger.info("Data Docs: %s", project_root / "uncommitted" / "data_docs" / "local_site" / "index.html")
    return _summarise(result, rows=len(frame))

"""The one renderer of a validation summary (the JSON of reports/validation.json): log table, Markdown, annotations.

The CLI, the PR report and the CI job summary all render the summary from its dict form, so they say the same thing.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from mlci.errors import UserFacingError

HEADING = "### Data validation (Great Expectations)"
MAX_CELL_WIDTH = 64
REQUIRED_KEYS = ("success", "rows", "evaluated", "failed", "failed_expectations")
# Control characters from the data (a NUL, an ANSI escape, a newline in a cell) are shown as \x.. escapes: printed
# raw they garble the terminal or the table, or rewrite what it shows.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # annotations escape CR and LF


def observed_text(row: Mapping) -> str:
    """What was observed, and how many follow-on failures were folded into this row."""
    folded = list(row.get("folded") or [])
    if len(folded) == 1:
        return f"{row['observed']}; also fails: {folded[0]}"
    if folded:
        return f"{row['observed']}; {len(folded)} more checks fail with it"
    return str(row["observed"])


def printable(text: str, control: re.Pattern = CONTROL) -> str:
    """`text` with each control character as a visible `\\x..` escape."""
    return control.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _cells(row: Mapping) -> tuple[str, str, str, str]:
    cells = str(row["expectation"]), str(row.get("column") or "-"), str(row["description"]), observed_text(row)
    return tuple(printable(cell) for cell in cells)


def _cut(cell: str) -> str:
    return cell if len(cell) <= MAX_CELL_WIDTH else cell[: MAX_CELL_WIDTH - 1] + "…"


def failure_table(summary: Mapping) -> str:
    """A fixed-width table of the failed expectations, for a log (cells cut at 64 characters)."""
    header = ("expectation", "column", "description", "observed")
    rows = [header, *(_cells(row) for row in summary["failed_expectations"])]
    widths = [min(max(len(row[i]) for row in rows), MAX_CELL_WIDTH) for i in range(len(header))]
    lines = ["  ".join(_cut(cell).ljust(width) for cell, width in zip(row, widths)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(summary: Mapping, heading: str | None = HEADING) -> str:
    """The summary as Markdown: a headline and, on failure, a table of the failed expectations (ends in a newline)."""
    evaluated, rows = summary["evaluated"], summary["rows"]
    where = f" of `{summary['data_file']}`" if summary.get("data_file") else ""
    lines = [heading, ""] if heading else []
    if summary["success"]:
        lines.append(f"All {evaluated} expectations passed on {rows:,} rows{where}.")
        return "\n".join(lines) + "\n"
    lines += [
        f"**{summary['failed']} of {evaluated} expectations failed** on {rows:,} rows{where}.",
        "",
        "| expectation | column | check | observed |",
        "|---|---|---|---|",
    ]
    for row in summary["failed_expectations"]:
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in _cells(row)) + " |")
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's rules: %, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Escape a workflow-command property value (also `:` and `,`)."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(summary: Mapping) -> list[str]:
    """One GitHub `::error` workflow command per failed expectation, pointing at the data file."""
    data_file = summary.get("data_file")
    lines = []
    for row in summary["failed_expectations"]:
        column = row.get("column")
        title = printable(f"{row['expectation']} ({column})" if column else row["expectation"], CONTROL_BUT_NEWLINES)
        properties = (f"file={_escape_property(data_file)}," if data_file else "") + f"title={_escape_property(title)}"
        message = printable(f"{row['description']} - observed: {observed_text(row)}", CONTROL_BUT_NEWLINES)
        lines.append(f"::error {properties}::{_escape_data(message)}")
    return lines


def load_summary(path: str | Path) -> dict:
    """Read the summary the validate stage wrote; a UserFacingError when it is absent or not a summary."""
    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"{path} not found - the validate stage did not run (see the step above)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        for key in REQUIRED_KEYS:
            summary[key]
        for row in summary["failed_expectations"]:
            row["expectation"], row["description"], row["observed"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise UserFacingError(f"{path} is not a validation summary ({error!r})") from None
    return summary


def write_job_summary(path: str | Path, env: Mapping[str, str] = os.environ) -> int:
    """Append the summary's Markdown to $GITHUB_STEP_SUMMARY (when set) and print one annotation per failure.

    Returns 0 when the summary was readable (the validate step decides whether the job fails), 2 when it is missing
    or malformed, with the reason on stderr.
    """
    try:
        summary = load_summary(path)
    except UserFacingError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(summary))
    for line in annotations(summary):
        sys.stdout.write(line + "\n")
    return 0

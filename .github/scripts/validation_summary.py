"""Turn reports/validation.json into a job-summary table and one `::error` annotation per failed expectation.

Usage: python .github/scripts/validation_summary.py [reports/validation.json]
Appends Markdown to $GITHUB_STEP_SUMMARY (when set) and prints the annotations; exits 0 when the file is readable
(the validation step itself decides whether the job fails), 2 when it is missing or not the expected JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

DEFAULT_SUMMARY = Path("reports/validation.json")
DATA_FILE = "data/digits.csv"


def escape_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's rules: %, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (also `:` and `,`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict) -> str:
    """The job-summary section: a headline and, on failure, a table of the failed expectations."""
    evaluated, rows = summary["evaluated"], summary["rows"]
    lines = ["### Data validation (Great Expectations)", ""]
    if summary["success"]:
        lines.append(f"All {evaluated} expectations passed on {rows:,} rows.")
        return "\n".join(lines) + "\n"
    lines += [
        f"**{summary['failed']} of {evaluated} expectations failed** on {rows:,} rows.",
        "",
        "| expectation | column | check | observed |",
        "|---|---|---|---|",
    ]
    for failed in summary["failed_expectations"]:
        cells = (failed["expectation"], failed.get("column") or "-", failed["description"], failed["observed"])
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def render_annotations(summary: dict) -> list[str]:
    """One `::error` line per failed expectation, pointing at the data file."""
    annotations = []
    for failed in summary["failed_expectations"]:
        column = failed.get("column")
        title = f"{failed['expectation']} ({column})" if column else failed["expectation"]
        message = f"{failed['description']} - observed: {failed['observed']}"
        annotations.append(f"::error file={DATA_FILE},title={escape_property(title)}::{escape_data(message)}")
    return annotations


def load_summary(path: Path) -> dict:
    """Read the summary the validate stage wrote; a clear error when it is absent or malformed."""
    if not path.is_file():
        raise SystemExit(f"error: {path} not found - the validate stage did not run (see the step above)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        for key in ("success", "rows", "evaluated", "failed", "failed_expectations"):
            summary[key]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SystemExit(f"error: {path} is not a validation summary ({error!r})") from None
    return summary


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_SUMMARY
    try:
        summary = load_summary(path)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(summary))
    for line in render_annotations(summary):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

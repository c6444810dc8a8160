"""The data workflow's summary step (.github/scripts/validation_summary.py): Markdown table and `::error` lines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from helpers import GITHUB_DIR

SCRIPT = GITHUB_DIR / "scripts" / "validation_summary.py"
spec = importlib.util.spec_from_file_location("validation_summary", SCRIPT)
validation_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(validation_summary)

FAILED = {
    "success": False,
    "rows": 1797,
    "evaluated": 220,
    "successful": 219,
    "failed": 1,
    "failed_expectations": [
        {
            "expectation": "expect_column_values_to_be_in_set",
            "column": "label",
            "description": "values in {0, 1, 2}",
            "observed": "1 unexpected: 42 | 100%",
        }
    ],
}


def run_script(tmp_path: Path, summary: dict, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    path = tmp_path / "validation.json"
    path.write_text(json.dumps(summary), encoding="utf-8")
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    return validation_summary.main([str(path)]), step_summary.read_text(encoding="utf-8")


def test_failed_expectations_become_a_table_and_annotations(tmp_path, monkeypatch, capsys) -> None:
    code, markdown = run_script(tmp_path, FAILED, monkeypatch)
    assert code == 0
    assert markdown == (
        "### Data validation (Great Expectations)\n\n"
        "**1 of 220 expectations failed** on 1,797 rows.\n\n"
        "| expectation | column | check | observed |\n|---|---|---|---|\n"
        "| expect_column_values_to_be_in_set | label | values in {0, 1, 2} | 1 unexpected: 42 \\| 100% |\n"
    )
    assert capsys.readouterr().out == (
        "::error file=data/digits.csv,title=expect_column_values_to_be_in_set (label)"
        "::values in {0, 1, 2} - observed: 1 unexpected: 42 | 100%25\n"
    )


def test_a_passing_validation_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    passing = {**FAILED, "success": True, "failed": 0, "successful": 220, "failed_expectations": []}
    code, markdown = run_script(tmp_path, passing, monkeypatch)
    assert (code, capsys.readouterr().out) == (0, "")
    assert markdown.endswith("All 220 expectations passed on 1,797 rows.\n")


def test_a_missing_summary_fails_with_a_clear_message(tmp_path, capsys) -> None:
    assert validation_summary.main([str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'absent.json'} not found - the validate stage did not run (see the step above)\n"
    )


def test_a_malformed_summary_fails_with_a_clear_message(tmp_path, capsys) -> None:
    path = tmp_path / "validation.json"
    path.write_text('{"success": true}', encoding="utf-8")
    assert validation_summary.main([str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path} is not a validation summary (KeyError('rows'))\n"

"""The one renderer of reports/validation.json: the log table, the Markdown, the `::error` lines, the job summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.errors import UserFacingError
from mlci.summary import annotations, failure_table, load_summary, summary_markdown, write_job_summary

FAILED = {
    "success": False,
    "data_file": "data/table.csv",
    "rows": 1797,
    "evaluated": 220,
    "successful": 216,
    "failed": 4,
    "failed_expectations": [
        {
            "expectation": "expect_table_columns_to_match_set",
            "column": None,
            "description": "the columns are exactly the contract's 9, in any order",
            "observed": "missing: count",
            "folded": ["count has no nulls", "count is within 0..5"],
        },
        {
            "expectation": "expect_column_values_to_be_in_type_list",
            "column": "n",
            "description": "n holds integers",
            "observed": "dtype str: non-numeric values: seven",
            "folded": ["n is within 0..9"],
        },
        {
            "expectation": "expect_column_values_to_be_in_set",
            "column": "label",
            "description": "values in {0, 1, 2}",
            "observed": "1 unexpected: 42 | 100%",
            "folded": [],
        },
    ],
}
PASSED = {**FAILED, "success": True, "failed": 0, "successful": 220, "failed_expectations": []}


def test_the_failure_table_is_fixed_width_with_long_cells_cut():
    summary = {
        **FAILED,
        "failed_expectations": [
            *FAILED["failed_expectations"][1:],
            {**FAILED["failed_expectations"][2], "observed": "x" * 70},
        ],
    }
    assert failure_table(summary).splitlines() == [
        "expectation                              column  description          observed",
        "expect_column_values_to_be_in_type_list  n       n holds integers     "
        "dtype str: non-numeric values: seven; also fails: n is within 0…",
        "expect_column_values_to_be_in_set        label   values in {0, 1, 2}  1 unexpected: 42 | 100%",
        "expect_column_values_to_be_in_set        label   values in {0, 1, 2}  " + "x" * 63 + "…",
    ]


def test_markdown_lists_each_failure_and_its_folded_checks():
    assert summary_markdown(FAILED) == (
        "### Data validation (Great Expectations)\n\n"
        "**4 of 220 expectations failed** on 1,797 rows of `data/table.csv`.\n\n"
        "| expectation | column | check | observed |\n|---|---|---|---|\n"
        "| expect_table_columns_to_match_set | - | the columns are exactly the contract's 9, in any order | "
        "missing: count; 2 more checks fail with it |\n"
        "| expect_column_values_to_be_in_type_list | n | n holds integers | "
        "dtype str: non-numeric values: seven; also fails: n is within 0..9 |\n"
        "| expect_column_values_to_be_in_set | label | values in {0, 1, 2} | 1 unexpected: 42 \\| 100% |\n"
    )


def test_markdown_of_a_pass_is_one_line_and_the_heading_is_optional():
    assert summary_markdown(PASSED, heading=None) == "All 220 expectations passed on 1,797 rows of `data/table.csv`.\n"
    assert (
        summary_markdown(PASSED, heading="## Data")
        == "## Data\n\nAll 220 expectations passed on 1,797 rows of `data/table.csv`.\n"
    )


def test_annotations_point_at_the_data_file_with_github_escaping():
    assert annotations(FAILED) == [
        "::error file=data/table.csv,title=expect_table_columns_to_match_set"
        "::the columns are exactly the contract's 9, in any order"
        " - observed: missing: count; 2 more checks fail with it",
        "::error file=data/table.csv,title=expect_column_values_to_be_in_type_list (n)"
        "::n holds integers - observed: dtype str: non-numeric values: seven; also fails: n is within 0..9",
        "::error file=data/table.csv,title=expect_column_values_to_be_in_set (label)"
        "::values in {0, 1, 2} - observed: 1 unexpected: 42 | 100%25",
    ]
    odd = {
        **FAILED,
        "data_file": "d:a,b.csv",
        "failed_expectations": [{**FAILED["failed_expectations"][2], "column": "a:b,c", "observed": "1\n2"}],
    }
    assert annotations(odd) == [
        "::error file=d%3Aa%2Cb.csv,title=expect_column_values_to_be_in_set (a%3Ab%2Cc)"
        "::values in {0, 1, 2} - observed: 1%0A2"
    ]


def test_control_characters_from_the_data_are_shown_escaped_never_raw():
    """A NUL or an ANSI escape in a cell or a column name, printed raw, garbles the terminal or rewrites the table."""
    row = {**FAILED["failed_expectations"][2], "column": "pix\x1b[2Kel", "observed": "1 unexpected: 1\x002\t3\n"}
    summary = {**FAILED, "failed_expectations": [row]}
    assert failure_table(summary).splitlines()[1].split()[1:2] == ["pix\\x1b[2Kel"]
    assert failure_table(summary).endswith("1 unexpected: 1\\x002\\x093\\x0a")
    assert "| 1 unexpected: 1\\x002\\x093\\x0a |" in summary_markdown(summary)
    assert annotations(summary)[0].endswith(
        "(pix\\x1b[2Kel)::values in {0, 1, 2} - observed: 1 unexpected: 1\\x002\\x093%0A"
    )
    for text in (failure_table(summary), summary_markdown(summary), *annotations(summary)):
        assert not any(ord(c) < 32 and c != "\n" or 127 <= ord(c) < 160 for c in text), repr(text)


def write(tmp_path: Path, summary) -> Path:
    path = tmp_path / "validation.json"
    path.write_text(summary if isinstance(summary, str) else json.dumps(summary), encoding="utf-8")
    return path


def test_the_job_summary_gets_the_table_and_the_log_the_annotations(tmp_path, capsys):
    step_summary = tmp_path / "summary.md"
    step_summary.write_text("earlier step\n", encoding="utf-8")
    assert write_job_summary(write(tmp_path, FAILED), env={"GITHUB_STEP_SUMMARY": str(step_summary)}) == 0
    assert step_summary.read_text(encoding="utf-8") == "earlier step\n" + summary_markdown(FAILED)
    assert capsys.readouterr().out == "".join(line + "\n" for line in annotations(FAILED))


def test_a_passing_validation_prints_no_annotation_and_needs_no_step_summary(tmp_path, capsys):
    assert write_job_summary(write(tmp_path, PASSED), env={}) == 0
    assert capsys.readouterr() == ("", "")


def test_a_missing_summary_fails_with_a_clear_message(tmp_path, capsys):
    assert write_job_summary(tmp_path / "absent.json", env={}) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'absent.json'} not found - the validate stage did not run (see the step above)\n"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"success": true}', "KeyError('rows')"),
        ("{not json", "JSONDecodeError('Expecting property name enclosed in double quotes: line 1 column 2 (char 1)')"),
        ("[1, 2]", "TypeError('list indices must be integers or slices, not str')"),
    ],
)
def test_a_malformed_summary_fails_with_a_clear_message(tmp_path, capsys, content, reason):
    path = write(tmp_path, content)
    assert write_job_summary(path, env={}) == 2
    assert capsys.readouterr().err == f"error: {path} is not a validation summary ({reason})\n"


def test_load_summary_raises_a_user_facing_error(tmp_path):
    path = write(tmp_path, {**FAILED, "failed_expectations": [{"expectation": "x"}]})
    with pytest.raises(UserFacingError) as error:
        load_summary(path)
    assert str(error.value) == f"{path} is not a validation summary (KeyError('description'))"
    assert load_summary(write(tmp_path, FAILED)) == FAILED

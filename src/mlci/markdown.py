"""Markdown pieces shared by the report, the monitor's issue and the metrics tables: safe cells and tables."""

from __future__ import annotations

from collections.abc import Sequence

ALIGN = {"l": ":---", "r": "---:", "c": ":---:"}


def cell(value) -> str:
    """Text safe inside a Markdown table cell (names and values from data files are untrusted: no pipes, no new
    lines)."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def code(value) -> str:
    """Inline code for a name from a file: a backtick inside would end the code span, so it becomes a quote."""
    return "`" + cell(value).replace("`", "'") + "`"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A table's lines; `align` has one letter per column: l, r or c."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(ALIGN[a] for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]

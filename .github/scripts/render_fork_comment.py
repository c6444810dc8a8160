#!/usr/bin/env python3
"""Render a fork pull request's report comment from its numbers, on this repository's side (report-comment.yml).

Usage: render_fork_comment.py DATA_JSON > comment.md

DATA_JSON is the `comment-data.json` of the fork's `pr-report` artifact (written by mlci.report.comment_data).
The fork wrote it, so nothing in it is trusted: no Markdown from it is ever posted. Every field is checked here,
with the standard library only (this runs from a sparse checkout of the default branch, no project installed):
  - a name (metrics file, metric, gate, base) is shown in a code span only when it is plain text (letters, digits,
    and `_ . : / - + = < > ( ) , %` and spaces, at most 100 characters), else it is withheld;
  - a value is shown only when it is a finite number a float can hold (not 1e309 written as an integer), else a dash;
  - verdicts are taken only from fixed sets of words; anything else is "unknown";
  - at most MAX_ROWS metrics and MAX_GATES gates are listed.
A file that is not this schema's JSON exits 1 with one line saying why, and nothing is posted.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

SCHEMA = 1  # mlci.report.comment_data.SCHEMA
MAX_BYTES = 1_000_000
MAX_ROWS = 60
MAX_GATES = 20
PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:/+=<>(),% -]{1,100}")
GATE_WORDS = {
    "passed": "quality gate passed",
    "failed": "quality gate FAILED",
    "overridden": "quality gate breached, accepted",
}
CHECK_WORDS = {"passed": "✅ passed", "breached": "❌ breached", "skipped": "➖ skipped"}
DATA_WORDS = {
    "unchanged": "data unchanged",
    "changed": "data changed (not compared)",
    "no drift": "data changed, no drift",
    "drift": "data changed, drift detected",
}


class BadReportData(ValueError):
    """The artifact's file is not report data this script can render."""


def name(value) -> str:
    if isinstance(value, str) and PLAIN_NAME.fullmatch(value):
        return f"`{value}`"
    return "_(withheld: not a plain name)_"


def word(words: dict, value, fallback: str) -> str:
    """The fixed wording of a verdict, or `fallback` for anything else (a list or an object included)."""
    return words.get(value, fallback) if isinstance(value, str) else fallback


def finite(value) -> bool:
    """A number a float holds (math.isfinite raises on an int beyond the float range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= sys.float_info.max if isinstance(value, int) else math.isfinite(value)


def number(value) -> str:
    if not finite(value):
        return "—"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def delta(pr, base) -> str:
    if number(pr) == "—" or number(base) == "—":
        return "—"
    difference = pr - base
    return f"{difference:+d}" if isinstance(difference, int) else f"{difference:+.4f}"


def load(path: Path) -> dict:
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise BadReportData(f"{path.name} is over {MAX_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BadReportData(f"{path.name} is not JSON: {error}") from None
    except RecursionError:
        raise BadReportData(f"{path.name} is not report data: it is nested too deeply") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadReportData(f"{path.name} is not report data of schema {SCHEMA}")
    for key in ("metrics", "gates"):
        if not isinstance(data.get(key, []), list) or not all(isinstance(row, dict) for row in data.get(key, [])):
            raise BadReportData(f"{path.name}: `{key}` is not a list of objects")
    return data


def glance(data: dict) -> str:
    parts = []
    if data.get("gate") is not None:
        parts.append(word(GATE_WORDS, data["gate"], "quality gate: unknown"))
    if isinstance(data.get("validation"), bool):
        parts.append("data validation passed" if data["validation"] else "data validation FAILED")
    if data.get("data") is not None:
        parts.append(word(DATA_WORDS, data["data"], "data: unknown"))
    return "**At a glance:** " + ("; ".join(parts) or "no verdicts") + "."


def metric_lines(rows: list[dict], compared: bool) -> list[str]:
    header = "| file | metric | this PR | base | Δ |" if compared else "| file | metric | this PR |"
    lines = [header, "|:---|:---|---:|---:|---:|" if compared else "|:---|:---|---:|"]
    for row in rows[:MAX_ROWS]:
        cells = [name(row.get("file")), name(row.get("name")), number(row.get("pr"))]
        if compared:
            cells += [number(row.get("base")), delta(row.get("pr"), row.get("base"))]
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > MAX_ROWS:
        lines += ["", f"_{len(rows) - MAX_ROWS} more metrics: see the full report._"]
    return lines


def gate_lines(rows: list[dict]) -> list[str]:
    lines = ["| gate | result |", "|:---|:---|"]
    lines += [
        f"| {name(row.get('gate'))} | {word(CHECK_WORDS, row.get('status'), 'unknown')} |" for row in rows[:MAX_GATES]
    ]
    return lines


def render(data: dict) -> str:
    compared = data.get("base") is not None
    lines = [
        "## Model report",
        "",
        "_A fork's pull request: this comment is rendered by this repository from the run's numbers. The full report "
        "(intervals, plots, per-class tables) is in the run's job summary and its `pr-report` artifact._",
        "",
    ]
    if compared:
        lines += [f"Compared with the base {name(data['base'])}.", ""]
    elif data.get("baseline_reset") is True:
        lines += ["Not compared with the base: the data contract changed (a baseline reset).", ""]
    lines += [glance(data), ""]
    if data.get("metrics"):
        lines += ["### Metrics", "", *metric_lines(data["metrics"], compared), ""]
    if data.get("gates"):
        lines += ["### Quality gate", "", *gate_lines(data["gates"]), ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: render_fork_comment.py DATA_JSON", file=sys.stderr)
        return 2
    try:
        text = render(load(Path(argv[0])))
    except (OSError, BadReportData) as error:
        print(f"::error::cannot render the fork's report: {error}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

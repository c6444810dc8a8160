"""The report as data for a fork's pull request: numbers and names only, never Markdown.

A fork's `ci` run has a read-only token, so report-comment.yml posts its comment from this repository's side. It
does not post the Markdown the fork's run wrote: it renders the comment itself from this file with the default
branch's `.github/scripts/render_fork_comment.py`, which checks every field (a name that is not plain is withheld,
a value that is not a finite number is a dash). Keep the two in step; SCHEMA is their shared version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mlci.metrics_tables import scalar_metrics
from mlci.report.collect import ReportInputs

SCHEMA = 1


def _finite(value) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _metric_rows(inputs: ReportInputs) -> list[dict]:
    rows = []
    for path, values in inputs.metrics.items():
        pr = scalar_metrics(values)
        base = scalar_metrics((inputs.base_metrics or {}).get(path)) if inputs.compared else {}
        for name in [*pr, *(n for n in base if n not in pr)]:
            rows.append({"file": path, "name": name, "pr": _finite(pr.get(name)), "base": _finite(base.get(name))})
    return rows


def _data_state(inputs: ReportInputs) -> str | None:
    """unchanged, changed (not compared), no drift or drift; None when there is no base to compare with."""
    if not inputs.compared:
        return None
    if not inputs.data_changed:
        return "unchanged"
    if inputs.data is None:
        return "changed"
    return "drift" if inputs.data.drift.drift else "no drift"


def _validation(summary: Mapping | None) -> bool | None:
    return None if summary is None else bool(summary.get("success"))


def comment_data(inputs: ReportInputs) -> dict:
    """What the fork PR's comment says: the base, each scalar metric on both sides, the verdicts."""
    quality = inputs.quality if inputs.quality is not None and inputs.quality.declared else None
    return {
        "schema": SCHEMA,
        "base": inputs.base_name if inputs.compared else None,
        "baseline_reset": inputs.baseline_reset is not None,
        "metrics": _metric_rows(inputs),
        "gate": quality.status if quality else None,
        "gates": [{"gate": check.gate, "status": check.status} for check in quality.checks] if quality else [],
        "validation": _validation(inputs.validation),
        "data": _data_state(inputs),
    }

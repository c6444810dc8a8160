"""The drift monitor: a recent sample of the data, validated with the contract's GX suite and compared with the training
data by the drift tests, and the Markdown body of the one issue the scheduled workflow keeps about it.

`monitor` is the pure core (files in, a MonitorResult out); `monitor_markdown` renders it. An alarm is raised when the
recent sample fails validation, when a drift test rejects, or when a sample cannot be read at all (a broken feed is
something to look at too). The CLI (`mlci monitor`) writes the body and the result and exits 1 on an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci.contract import DataContract, read_data
from mlci.drift import DEFAULT_LEVEL, DEFAULT_PERMUTATIONS, DataComparison, compare_datasets, natural_key
from mlci.errors import DataError
from mlci.files import CONTRACT, GX_ROOT
from mlci.markdown import cell as _cell
from mlci.markdown import code as _code
from mlci.markdown import table as _table
from mlci.report.render import drift_findings, drift_test_table
from mlci.summary import summary_markdown

# What `mlci monitor` writes into its output folder (the workflow posts MONITOR_MD as the issue body).
MONITOR_DIR = "reports/monitor"
MONITOR_MD = "monitor.md"
MONITOR_JSON = "monitor.json"
TITLE = "## Data monitor"


@dataclass(frozen=True)
class MonitorResult:
    """One monitor run: the recent sample's validation summary, its comparison with the training data, and the
    problems that kept a check from running (a sample that cannot be read)."""

    recent_file: str
    reference_file: str
    validation: dict | None  # ValidationSummary.to_dict(); None when the recent sample could not be read
    comparison: DataComparison | None  # None when either sample could not be read
    problems: tuple[str, ...] = ()

    @property
    def validation_failed(self) -> bool:
        return self.validation is not None and not self.validation["success"]

    @property
    def drift(self) -> bool:
        return self.comparison is not None and self.comparison.drift.drift

    @property
    def alarm(self) -> bool:
        return bool(self.problems) or self.validation_failed or self.drift

    def reasons(self) -> list[str]:
        """Why this run raises an alarm, one short phrase each (empty when clean)."""
        reasons = []
        if self.problems:
            reasons.append("data could not be read")
        if self.validation_failed:
            reasons.append("validation failed")
        if self.drift:
            reasons.append("drift detected")
        return reasons

    def title(self) -> str:
        """The issue title: what is wrong, in a few words."""
        if not self.alarm:
            return "Data monitor: recent data is valid and has not drifted"
        return "Data monitor: " + " and ".join(self.reasons()) + " on the recent data"

    def to_dict(self) -> dict:
        """The result as reports/monitor/monitor.json holds it (the drift tests flattened)."""
        comparison = None
        if self.comparison is not None:
            data = self.comparison
            comparison = {
                "reference_rows": data.base_rows,
                "recent_rows": data.pr_rows,
                "target": data.target,
                "reference_target": data.base_target,
                "recent_target": data.pr_target,
                "drift": data.drift.drift,
                "level": data.drift.level,
                "tests": [
                    {
                        "name": t.name,
                        "statistic": t.statistic,
                        "p_value": t.p_value,
                        "threshold": t.threshold,
                        "drift": t.drift,
                        "detail": t.detail,
                    }
                    for t in data.drift.tests
                ],
                "drifted_features": list(data.drift.drifted_features),
                "notes": list(data.drift.notes),
            }
        return {
            "alarm": self.alarm,
            "reasons": self.reasons(),
            "recent_file": self.recent_file,
            "reference_file": self.reference_file,
            "validation": self.validation,
            "comparison": comparison,
            "problems": list(self.problems),
        }


def monitor(
    contract: DataContract,
    recent_path: str | Path,
    reference_path: str | Path | None = None,
    gx_root: str | Path = GX_ROOT,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> MonitorResult:
    """Validate the recent sample with the contract's GX suite and compare it with the training data.

    `reference_path` defaults to the contract's data file (what the model was trained on). A sample that cannot be
    read is reported as a problem (an alarm), not raised; a missing or stale GX project still raises.
    """
    from mlci.validation import validate_data  # GX takes seconds to import

    reference_path = Path(reference_path if reference_path is not None else contract.path)
    recent_path = Path(recent_path)
    problems: list[str] = []
    validation = None
    try:
        validation = validate_data(contract, recent_path, gx_root=gx_root).to_dict()
    except DataError as error:
        problems.append(f"recent data: {error}")
    frames = []
    for name, path in (("training data", reference_path), ("recent data", recent_path)):
        try:
            frames.append(read_data(contract, path))
        except DataError as error:
            if name == "training data":
                problems.append(f"{name}: {error}")
    comparison = None
    if len(frames) == 2:
        comparison = compare_datasets(frames[0], frames[1], contract, level=level, permutations=permutations, seed=seed)
    return MonitorResult(
        recent_file=recent_path.as_posix(),
        reference_file=reference_path.as_posix(),
        validation=validation,
        comparison=comparison,
        problems=tuple(problems),
    )


# ------------------------------------------------------------------------------------------------------- markdown


def _target_table(data: DataComparison) -> list[str]:
    if data.task == "classification":
        labels = list(dict.fromkeys([*data.base_target, *data.pr_target]))
        labels.sort(key=natural_key)

        def share(counts: dict, total: int, label: str) -> str:
            count = int(counts.get(label, 0))
            return f"{count} ({100 * count / total:.1f}%)" if total else "0"

        rows = [
            [_code(label), share(data.base_target, data.base_rows, label), share(data.pr_target, data.pr_rows, label)]
            for label in labels
        ]
    else:
        statistics = list(dict.fromkeys([*data.base_target, *data.pr_target]))
        rows = [
            [s, *(f"{side[s]:.4f}" if s in side else "—" for side in (data.base_target, data.pr_target))]
            for s in statistics
        ]
    return _table([_code(data.target), "training", "recent"], rows, "lrr")


def _drift_section(data: DataComparison) -> list[str]:
    drift = data.drift
    verdict = "⚠️ **drift detected**" if drift.drift else "no drift detected"
    lines = [f"### Drift, training data vs recent data: {verdict}", ""]
    lines += [f"{data.base_rows:,} training rows, {data.pr_rows:,} recent rows.", ""]
    lines += _target_table(data)
    if not drift.tests:
        lines += ["", "No drift test applies to these columns."]
    else:
        lines += ["", *drift_test_table(drift, drift_word="**drift**", sides="training vs recent")]
    return lines + drift_findings(drift)


def monitor_markdown(result: MonitorResult, run_url: str | None = None) -> str:
    """The issue body (and job summary): the verdict, the validation table, the drift table. Ends in a newline."""
    verdict = "⚠️ alarm: " + ", ".join(result.reasons()) if result.alarm else "✅ clean"
    lines = [
        f"{TITLE}: {verdict}",
        "",
        f"Recent data {_code(result.recent_file)} against the training data {_code(result.reference_file)}.",
    ]
    if result.problems:
        lines += ["", "Could not be read:", "", *(f"- {_cell(problem)}" for problem in result.problems)]
    if result.validation is not None:
        lines += ["", summary_markdown(result.validation, heading="### Validation of the recent data").rstrip("\n")]
    if result.comparison is not None:
        lines += ["", *_drift_section(result.comparison)]
    if result.alarm:
        lines += [
            "",
            f"What to do: a validation failure means the recent data breaks the data contract (`{CONTRACT}`): "
            "fix the feed or, if the world changed, the contract. Drift means the recent data no longer looks like "
            "the training data: check the model on it and retrain on newer data. This issue is updated by every "
            "failing run of the monitor and closed by the next clean one (docs/monitoring.md).",
        ]
    if run_url:
        lines += ["", f"Run: {run_url}"]
    return "\n".join(lines) + "\n"

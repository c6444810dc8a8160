"""The report as Markdown: a pure function of ReportInputs, pinned by golden-file tests.

Every name and value that comes from a data file is untrusted: it goes through `_cell` or `_code`, so it cannot end a
table cell or a code span.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from mlci.drift import DriftResult, decision_rule, natural_key
from mlci.files import DATA_DVC, PARAMS, PREDICTIONS, TRAIN_RUN, TRAIN_RUN_LOCAL, VALIDATION_SUMMARY
from mlci.gate import BREACHED, GATES, PASSED, GateResult
from mlci.markdown import cell as _cell
from mlci.markdown import code as _code
from mlci.markdown import table as _table
from mlci.metrics_tables import flatten, scalar_metrics, slices_of
from mlci.report.collect import ReportInputs
from mlci.stats import NO_BASE_PREDICTIONS, PAIRED, UNPAIRED, Comparison, Interval
from mlci.summary import summary_markdown

TITLE = "## Model report"
SAME = 5e-5  # a change that rounds to 0.0000 at the four decimals shown counts as no change
FEATURES_LISTED = 12
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "mape")  # a metric whose name holds one of these: lower is better
COUNTERS = ("step", "epoch", "rows", "support")  # counts, not scores: a change is neither better nor worse
_MISSING = object()  # a param absent on one side (None is a valid YAML value)
VERDICTS = {"better": "🟢 better", "worse": "🔴 worse", "within noise": "⚪ within noise", "same": "⚪ same"}
GATE_STATUS = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "overridden": "⚠️ breached, accepted",
}
CHECK_STATUS = {PASSED: "✅ passed", BREACHED: "❌ breached", "skipped": "➖ skipped"}


# ---------------------------------------------------------------------------------------------- formatting helpers
def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _cell(value)
    if isinstance(value, int):
        return str(value)
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _last_part(name: str) -> str:
    return name.lower().rsplit(".", 1)[-1]


def lower_is_better(name: str) -> bool:
    return any(word in _last_part(name) for word in LOWER_IS_BETTER)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _delta_and_marker(name: str, value, base) -> tuple[str, str]:
    if base is None:
        return "—", "🆕 new"
    if value is None:
        return "—", "removed"
    if not (_is_number(value) and _is_number(base)):
        return "—", "changed" if value != base else "same"
    delta = value - base
    if abs(delta) < SAME:
        return "0", "⚪ same"
    text = f"{delta:+.4f}" if isinstance(delta, float) else f"{delta:+d}"
    if _last_part(name) in COUNTERS:
        return text, ""
    better = delta < 0 if lower_is_better(name) else delta > 0
    return text, "🟢 better" if better else "🔴 worse"


def _noise_marker(inputs: ReportInputs, name: str, value, base) -> str | None:
    """The interval's verdict for a metric the predictions also give (same name), None for any other metric.

    Paired or unpaired Δ interval: its verdict. No base predictions: within noise when the base's value lies in this
    branch's interval, else the face-value marker.
    """
    quality = inputs.quality
    if quality is None or not inputs.compared:
        return None
    metric = quality.comparison.metric(name)
    if metric is None or not (_is_number(value) and _is_number(base)):
        return None
    if quality.comparison.mode in (PAIRED, UNPAIRED) and metric.verdict:
        return VERDICTS[metric.verdict]
    if quality.comparison.mode == NO_BASE_PREDICTIONS and metric.pr.covers(float(base)):
        return VERDICTS["within noise"]
    return None


def _marked(inputs: ReportInputs, name: str, value, base) -> tuple[str, str]:
    delta, marker = _delta_and_marker(name, value, base)
    noise = _noise_marker(inputs, name, value, base)
    return (delta, noise) if noise and marker not in ("", "⚪ same") else (delta, marker)


def _comparison_rows(inputs: ReportInputs, pr: Mapping, base: Mapping | None) -> list[list[str]]:
    compared = inputs.compared
    base = base or {}
    names = list(pr) + ([n for n in base if n not in pr] if compared else [])
    rows = []
    for name in names:
        row = [_code(name), _number(pr.get(name))]
        if compared:
            row += [_number(base.get(name)), *_marked(inputs, name, pr.get(name), base.get(name))]
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------- sections
def headline(inputs: ReportInputs) -> tuple[str, object, object] | None:
    """(name, this branch's value, the base's) of the one metric the summary line quotes: the first scalar of the
    last metrics file dvc.yaml lists (the final stage's, usually the evaluation), or of the residuals."""
    for path in reversed(list(inputs.metrics)):
        values = scalar_metrics(inputs.metrics[path])
        if values:
            name = next(iter(values))
            base = scalar_metrics((inputs.base_metrics or {}).get(path)).get(name) if inputs.compared else None
            return name, values[name], base
    if inputs.residuals:
        base = (inputs.base_residuals or {}).get("rmse") if inputs.compared else None
        return "rmse", inputs.residuals.get("rmse"), base
    return None


def _verdict(inputs: ReportInputs) -> str:
    parts = []
    quoted = headline(inputs)
    if quoted is not None:
        name, value, base = quoted
        if inputs.compared:
            delta, marker = _marked(inputs, name, value, base)
            parts.append(f"{_cell(name)} {_number(value)} ({delta} vs base, {marker})")
        else:
            parts.append(f"{_cell(name)} {_number(value)}")
    if inputs.quality is not None and inputs.quality.declared:
        status = inputs.quality.status
        parts.append(
            {"passed": "quality gate passed", "failed": "quality gate FAILED"}.get(
                status, f"quality gate breached, accepted by {_cell(inputs.quality.override)}"
            )
        )
    if inputs.validation is not None:
        parts.append("data validation passed" if inputs.validation.get("success") else "data validation FAILED")
    if inputs.compared:
        if not inputs.data_changed:
            parts.append("data unchanged")
        elif inputs.data is None:
            parts.append("data changed (not compared)")
        else:
            parts.append("data changed, drift detected" if inputs.data.drift.drift else "data changed, no drift")
    return "**At a glance:** " + "; ".join(parts) + "."


def _metrics(inputs: ReportInputs) -> list[str]:
    lines = ["### Metrics"]
    for path, metrics in inputs.metrics.items():
        lines += ["", f"#### {_code(path)}", ""]
        base = (inputs.base_metrics or {}).get(path) if inputs.compared else None
        if metrics is None:
            lines.append("_Not found in the workspace: the stage that writes it did not run._")
            continue
        if inputs.compared and base is None:
            lines += ["_The base has no such file: every metric is new._", ""]
        rows = _comparison_rows(inputs, scalar_metrics(metrics), scalar_metrics(base))
        header = ["metric", "this PR"] + (["base", "Δ", ""] if inputs.compared else [])
        lines += _table(header, rows, "lr" + ("rrl" if inputs.compared else ""))
    if inputs.compared:
        lines += ["", "Loss, error, MAE and (R)MSE are better lower, every other metric higher."]
    return lines


def _interval(interval: Interval | None, signed: bool = False) -> str:
    if interval is None or math.isnan(interval.estimate):
        return "—"
    if math.isnan(interval.low):
        return f"{interval.estimate:+.4f}" if signed else f"{interval.estimate:.4f}"
    form = "{:+.4f}" if signed else "{:.4f}"
    return f"{form.format(interval.estimate)} [{form.format(interval.low)}, {form.format(interval.high)}]"


# Under this many test rows an interval is too wide for most changes to show: the report says how wide.
SMALL_TEST_SPLIT = 100


def small_split_lines(comparison: Comparison) -> list[str]:
    """A warning when the test split is too small for its intervals to tell a change from luck, with the width of
    the first metric's interval (the one the task leads with); nothing otherwise."""
    first = comparison.metrics[0].pr if comparison.metrics else None
    if comparison.rows >= SMALL_TEST_SPLIT or first is None or math.isnan(first.low):
        return []
    level = f"{comparison.confidence:.0%}"
    return [
        "",
        f"> **Warning:** the test split has {comparison.rows} rows (fewer than {SMALL_TEST_SPLIT}): the {level} "
        f"interval of `{comparison.metrics[0].name}` is {first.high - first.low:.4f} wide, so a change smaller than "
        "that cannot be told from luck. More rows in the test split (more data, or a larger test share in "
        f"`{PARAMS}`) narrow every interval.",
    ]


def interval_lines(comparison: Comparison, base_name: str | None, compared: bool = True) -> list[str]:
    """The table of the metrics computed from the predictions, each with its interval, and the Δ against the base
    with its verdict; then how it was computed (and why it is not paired, when it is not)."""
    level = f"{comparison.confidence:.0%}"
    with_base = compared and comparison.mode in (PAIRED, UNPAIRED)
    with_base_value = compared and comparison.mode != "no base"
    rows = []
    for metric in comparison.metrics:
        row = [_code(metric.name), _interval(metric.pr)]
        if with_base:
            row += [_interval(metric.base), _interval(metric.delta, signed=True), VERDICTS.get(metric.verdict, "")]
        rows.append(row)
    header = ["metric", f"this PR [{level} interval]"]
    if with_base:
        header += ["base", "Δ (this PR − base)", ""]
    lines = [
        f"### Test metrics with {level} intervals (from `{PREDICTIONS}`)",
        "",
        *_table(header, rows, "lr" + ("rrl" if with_base else "")),
        "",
    ]
    how = (
        f"Intervals: percentile bootstrap over the {comparison.rows} test rows "
        f"({comparison.resamples} resamples, seed {comparison.seed})."
    )
    if comparison.mode == PAIRED:
        how += " Δ: paired bootstrap on the same test rows (matched by id) in this PR and on the base."
        if comparison.mcnemar is not None:
            test = comparison.mcnemar
            how += (
                f" McNemar's exact test on accuracy: {test.base_only} rows right only on the base, {test.pr_only} "
                f"only in this PR, p = {test.p_value:.3g}."
            )
    elif comparison.mode == UNPAIRED:
        how += f" Δ: each side resampled on its own ({comparison.base_rows} rows on the base)."
    lines.append(how)
    lines += small_split_lines(comparison)
    if with_base:
        lines += [
            "",
            f"A Δ whose {level} interval covers 0 is **within noise**: a change the luck of the test split could "
            "produce, not a better or worse model.",
        ]
    if comparison.note and with_base_value:
        lines += ["", f"> **Notice:** {_cell(comparison.note)}."]
    return lines


def gate_lines(result: GateResult, heading: str = "###") -> list[str]:
    """The quality gate: its verdict, one row per declared gate, and what a breach means."""
    if not result.declared:
        return [
            f"{heading} Quality gate",
            "",
            f"_No gates declared: add floors, an allowed regression or a worst-slice floor to `{GATES}`._",
        ]
    breached = len(result.breached)
    verdict = GATE_STATUS[result.status]
    if breached:
        verdict += f": {breached} of {len(result.checks)} gates breached"
    if result.status == "overridden":
        verdict += f" by {_cell(result.override)}"
    rows = [
        [
            _code(check.gate),
            check.kind,
            _cell(check.observed),
            CHECK_STATUS.get(check.status, _cell(check.status)) + (f": {_cell(check.detail)}" if check.detail else ""),
        ]
        for check in result.checks
    ]
    lines = [f"{heading} Quality gate: {verdict}", ""]
    if result.status == "overridden":
        lines += [
            f"> [!WARNING]\n> The gate was breached and the breach accepted by {_cell(result.override)}: "
            "the check passes with a warning.",
            "",
        ]
    lines += _table(["gate", "kind", "this PR", "result"], rows, "llrl")
    level = f"{result.comparison.confidence:.0%}"
    lines += [
        "",
        f"Gates from `{GATES}`. A floor applies to this PR's value; a max regression is breached only when the whole "
        f"{level} interval of Δ lies beyond the allowed change; a worst-slice floor applies to every slice.",
    ]
    if result.note:
        lines += ["", f"> **Notice:** {_cell(result.note)}."]
    return lines


def gate_summary_markdown(result: GateResult) -> str:
    """The quality job's summary: the gate, then the intervals it was checked on."""
    if not result.base_name:
        against = ["No base to compare with."]
    elif result.note is None:
        against = [f"Compared with the base {_code(result.base_name)}."]
    else:
        against = []  # the gate's notice says why the base is not compared
    sections = [
        gate_lines(result, heading="##"),
        against,
        interval_lines(result.comparison, result.base_name, compared=result.note is None),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


def _quality(inputs: ReportInputs) -> list[str]:
    if inputs.quality is None:
        if not inputs.quality_note:
            return []
        note = _cell(inputs.quality_note)
        return ["### Quality gate", "", f"_{note[:1].upper()}{note[1:]}._"]
    result = inputs.quality
    return [
        *interval_lines(result.comparison, inputs.base_name, compared=inputs.compared),
        "",
        *gate_lines(result),
    ]


def _params(inputs: ReportInputs) -> list[str]:
    lines = ["### Params that changed", ""]
    if not inputs.base_name:
        return lines + ["_No base to compare with._"]
    if inputs.base_params is None:
        return lines + [f"_The base has no `{PARAMS}`: every param is new._"]
    pr, base = flatten(inputs.params), flatten(inputs.base_params)
    changed = sorted(k for k in set(pr) | set(base) if pr.get(k, _MISSING) != base.get(k, _MISSING))
    if not changed:
        return lines + ["No params changed."]
    rows = [[_code(k), _cell(pr.get(k, "—")), _cell(base.get(k, "—"))] for k in changed]
    return lines + _table(["param", "this PR", "base"], rows, "lll")


def _per_class(inputs: ReportInputs) -> list[str]:
    pr = inputs.per_class or {}
    if not pr:
        return []
    base = (inputs.base_per_class or {}) if inputs.compared else {}
    if base:
        heading = f"### Per-class metrics (from `{PREDICTIONS}`, largest F1 regressions first)"

        def order(label: str) -> tuple:
            change = pr[label]["f1"] - base[label]["f1"] if label in base else math.inf
            return (change, natural_key(label))

    else:
        heading = f"### Per-class metrics (from `{PREDICTIONS}`, weakest F1 first)"

        def order(label: str) -> tuple:
            return (pr[label]["f1"], natural_key(label))

    rows = []
    for label in sorted(pr, key=order):
        scores = pr[label]
        name = inputs.class_names.get(label)
        row = [_code(label) + (f" {_cell(name)}" if name else ""), _number(scores.get("f1"))]
        if base:
            base_f1 = base.get(label, {}).get("f1")
            row += [_number(base_f1), *_delta_and_marker("f1", scores.get("f1"), base_f1)]
        row += [_number(scores.get("precision")), _number(scores.get("recall")), _number(scores.get("support"))]
        rows.append(row)
    header = ["class", "F1"] + (["base F1", "Δ F1", ""] if base else []) + ["precision", "recall", "support"]
    align = "lr" + ("rrl" if base else "") + "rrr"
    return [heading, "", *_table(header, rows, align)]


def _residuals(inputs: ReportInputs) -> list[str]:
    if not inputs.residuals:
        return []
    base = inputs.base_residuals if inputs.compared else None
    compared = inputs.compared and base is not None
    names = {"mae": "MAE", "rmse": "RMSE", "r2": "R²", "rows": "rows"}
    rows = []
    for key, value in inputs.residuals.items():
        row = [names.get(key, _cell(key)), _number(value)]
        if compared:
            # MAE and RMSE take the verdict of their Δ interval (the intervals table's), not the face value.
            row += [_number(base.get(key)), *_marked(inputs, key, value, base.get(key))]
        rows.append(row)
    header = ["statistic", "this PR"] + (["base", "Δ", ""] if compared else [])
    return [
        f"### Residuals (from `{PREDICTIONS}`)",
        "",
        *_table(header, rows, "lr" + ("rrl" if compared else "")),
        "",
        "Residual = prediction − target; MAE and RMSE are better lower, R² higher.",
    ]


def _slices(inputs: ReportInputs) -> list[str]:
    pr = slices_of(inputs.metrics)
    if not pr:
        return []
    base = slices_of(inputs.base_metrics or {}) if inputs.compared else {}
    fields = list(dict.fromkeys(f for scores in pr.values() for f in scores if f != "support"))
    main, others = (fields[0], fields[1:]) if fields else ("", [])
    rows = []
    for name in sorted(pr):
        scores = pr[name]
        row = [_code(name), _number(scores.get(main))]
        if inputs.compared:
            base_value = base.get(name, {}).get(main)
            row += [_number(base_value), *_delta_and_marker(main, scores.get(main), base_value)]
        rows.append(row + [_number(scores.get(f)) for f in others] + [_number(scores.get("support"))])
    header = ["slice", _cell(main)] + (["base", "Δ", ""] if inputs.compared else []) + [*map(_cell, others), "support"]
    align = "lr" + ("rrl" if inputs.compared else "") + "r" * len(others) + "r"
    return ["### Slices", "", *_table(header, rows, align)]


def _images(inputs: ReportInputs, image_note: str | None) -> list[str]:
    if not inputs.images:
        return []
    lines = ["### Plots", ""]
    if image_note is not None:
        return lines + [image_note]
    return lines + [f"![{title}]({name})" for title, name in inputs.images]


def _validation(inputs: ReportInputs) -> list[str]:
    if inputs.validation is None:
        return ["### Data validation", "", f"_No validation summary (`{VALIDATION_SUMMARY}`)._"]
    return [summary_markdown(dict(inputs.validation)).rstrip("\n")]


def _target_table(inputs: ReportInputs) -> list[str]:
    data = inputs.data
    if data.task == "classification":
        labels = list(dict.fromkeys([*data.base_target, *data.pr_target]))

        def share(counts: Mapping[str, float], total: int, label: str) -> str:
            count = int(counts.get(label, 0))
            return f"{count} ({100 * count / total:.1f}%)" if total else "0"

        rows = [
            [_code(label), share(data.base_target, data.base_rows, label), share(data.pr_target, data.pr_rows, label)]
            for label in labels
        ]
        return _table([_code(data.target), "base", "this PR"], rows, "lrr")
    statistics = list(dict.fromkeys([*data.base_target, *data.pr_target]))
    rows = [[s, _number(data.base_target.get(s)), _number(data.pr_target.get(s))] for s in statistics]
    return _table([_code(data.target), "base", "this PR"], rows, "lrr")


def _data(inputs: ReportInputs) -> list[str]:
    lines = ["### Data", ""]
    if not inputs.base_name:
        return lines + ["_No base to compare the data with._"]
    if inputs.baseline_reset:
        return lines + ["_Baseline reset: the data is not compared with the base's._"]
    if not inputs.data_changed:
        return lines + [f"`{DATA_DVC}` is the same as on the base: the data did not change."]
    if inputs.data is None:
        return lines + [f"`{DATA_DVC}` changed, but the data could not be compared: {inputs.data_note or 'unknown'}."]
    data = inputs.data
    lines += [f"`{DATA_DVC}` changed: {data.base_rows} rows on the base, {data.pr_rows} in this PR.", ""]
    lines += _target_table(inputs)
    drift = data.drift
    if not drift.tests:
        lines += ["", "No drift test applies to these columns."]
    else:
        verdict = "⚠️ **Drift detected**" if drift.drift else "No drift detected"
        lines += ["", f"#### Drift tests, base vs this PR: {verdict}", ""]
        lines += drift_test_table(drift)
    return lines + drift_findings(drift)


def drift_test_table(drift: DriftResult, drift_word: str = "drift", sides: str | None = None) -> list[str]:
    """The drift tests as a table and the decision rule (the report's and the monitor's). `sides` replaces
    "base vs PR" in the details, e.g. "training vs recent"."""
    rows = [
        [
            t.name,
            f"{t.statistic:.4g}",
            f"{t.p_value:.3g}",
            f"{t.threshold:.4f}",
            drift_word if t.drift else "no drift",
            _cell(t.detail.replace("base vs PR", sides) if sides else t.detail),
        ]
        for t in drift.tests
    ]
    table = _table(["test", "statistic", "p-value", "threshold", "result", "detail"], rows, "lrrrll")
    return [*table, "", decision_rule(drift)]


def drift_findings(drift: DriftResult) -> list[str]:
    """The features whose own test rejects, and what was not tested."""
    lines: list[str] = []
    if drift.drifted_features:
        listed = ", ".join(_code(f) for f in drift.drifted_features[:FEATURES_LISTED])
        more = len(drift.drifted_features) - FEATURES_LISTED
        lines += ["", f"Features whose own test rejects: {listed}" + (f" and {more} more." if more > 0 else ".")]
    if drift.notes:
        lines += ["", "Not tested:", "", *(f"- {_cell(note)}" for note in drift.notes)]
    return lines


def _run(inputs: ReportInputs) -> list[str]:
    lines = ["### Training run", ""]
    run = inputs.train_run
    if run is None:
        lines.append(f"_No training record (`{TRAIN_RUN}`)._")
    else:
        processes = run.get("processes", 1)
        text = (
            f"Trained on {_code(run.get('device'))} ({_cell(run.get('precision'))}, "
            f"{processes} process{'es' if processes != 1 else ''}): {run.get('epochs')} epochs"
        )
        if run.get("wall_seconds") is not None:
            text += f" in {float(run['wall_seconds']):.1f} s."
        else:  # only the run that trained the model knows it; a model from the DVC cache comes without
            text += (
                f". No wall time for this model here: the run that trains it writes `{TRAIN_RUN_LOCAL}`, a model "
                "restored from the DVC cache has none."
            )
        if run.get("resumed_from_epoch") is not None:
            text += f" Resumed from a checkpoint after epoch {run['resumed_from_epoch']}."
        lines.append(text)
    lines += ["", f"[Workflow run]({inputs.run_url})" if inputs.run_url else "Built outside a workflow run."]
    return lines


def _dvc_diffs(inputs: ReportInputs) -> list[str]:
    lines: list[str] = []
    for kind in ("metrics", "params"):
        text = inputs.dvc_diffs.get(kind, "").strip()
        if len(text.splitlines()) > 2:  # a header and its rule only: DVC found no difference
            lines += [
                f"<details><summary>DVC's view: <code>dvc {kind} diff --md</code></summary>",
                "",
                text,
                "",
                "</details>",
                "",
            ]
    return lines[:-1]


def _against(inputs: ReportInputs) -> str:
    if not inputs.base_name:
        return "_No base to compare with: this branch's results only._"
    if inputs.baseline_reset:
        return (
            f"**Baseline reset:** {_cell(inputs.baseline_reset)}. The base {_code(inputs.base_name)} is not "
            "comparable: this branch's results only."
        )
    return f"Compared with the base {_code(inputs.base_name)}."


def render_markdown(inputs: ReportInputs, image_note: str | None = None) -> str:
    """The report as GitHub-flavoured markdown. With `image_note`, that text stands in for the image links."""
    sections = [
        [TITLE, "", _against(inputs), "", _verdict(inputs)],
        _quality(inputs),
        _metrics(inputs),
        _params(inputs),
        _per_class(inputs),
        _residuals(inputs),
        _slices(inputs),
        _images(inputs, image_note),
        _validation(inputs),
        _data(inputs),
        _run(inputs),
        _dvc_diffs(inputs),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"

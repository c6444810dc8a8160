"""Golden-file tests of the report's markdown: fixed inputs give exactly the committed text.

After an intended change to the report, regenerate with `UPDATE_GOLDEN=1 pytest tests/mlci/test_report_markdown.py`
and review the diff.
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from pathlib import Path

import pytest

from mlci.drift import (
    CHI2_FAMILY,
    KS_FAMILY,
    MMD_FAMILY,
    TARGET_CHI2,
    TARGET_KS,
    DataComparison,
    DriftResult,
    DriftTest,
)
from mlci.gate import BREACHED, FLOOR, PASSED, REGRESSION, SKIPPED, WORST_SLICE, Check, GateResult
from mlci.report import ReportInputs, render_markdown
from mlci.report.render import gate_summary_markdown, interval_lines
from mlci.stats import NO_BASE, NO_BASE_PREDICTIONS, PAIRED, UNPAIRED, Comparison, Interval, McNemar, MetricComparison

GOLDEN = Path(__file__).parent / "golden"
RUN_URL = "https://github.com/octo/ml-template/actions/runs/42"
IMAGES = (("Training curves", "training_curves.png"), ("Confusion matrix", "confusion_matrix.png"))
TRAIN = "runs/train/metrics.json"
EVALUATE = "runs/evaluate/metrics.json"

BASE_METRICS = {
    TRAIN: {"train": {"loss": 0.2, "accuracy": 0.94}, "val": {"loss": 0.25, "accuracy": 0.93}, "step": 12},
    EVALUATE: {
        "accuracy": 0.95,
        "macro_f1": 0.948,
        "slices": {"small": {"accuracy": 0.9, "support": 30}, "late": {"accuracy": 0.85, "support": 20}},
    },
}
BASE_PER_CLASS = {
    "cat": {"precision": 1.0, "recall": 0.98, "f1": 0.989899, "support": 50},
    "dog": {"precision": 0.9, "recall": 0.92, "f1": 0.90989, "support": 50},
    "eel": {"precision": 0.95, "recall": 0.94, "f1": 0.944974, "support": 50},
}
BASE_PARAMS = {"split": {"seed": 42}, "train": {"epochs": 12, "learning_rate": 0.003, "channels": 32}}
VALID = {"success": True, "rows": 1797, "evaluated": 220, "successful": 220, "failed": 0, "failed_expectations": []}
TRAIN_RUN = {
    "device": "cpu",
    "precision": "fp32",
    "processes": 1,
    "wall_seconds": 4.413,
    "epochs": 12,
    "resumed_from_epoch": None,
}


def improved_metrics() -> dict:
    metrics = copy.deepcopy(BASE_METRICS)
    metrics[TRAIN] = {"train": {"loss": 0.1, "accuracy": 0.97}, "val": {"loss": 0.12, "accuracy": 0.96}, "step": 15}
    metrics[EVALUATE]["accuracy"], metrics[EVALUATE]["macro_f1"] = 0.97, 0.969
    metrics[EVALUATE]["slices"]["small"]["accuracy"] = 0.95
    return metrics


def improved_per_class() -> dict:
    per_class = copy.deepcopy(BASE_PER_CLASS)
    per_class["dog"]["f1"] = 0.96
    per_class["eel"]["f1"] = 0.93  # one class still gets worse: it must come first
    return per_class


def comparison(accuracy: tuple, macro_f1: tuple, mode: str = PAIRED, note: str | None = None) -> Comparison:
    """(pr, base, delta) intervals, each (estimate, low, high) or None, on 269 rows."""

    def metric(name: str, sides: tuple) -> MetricComparison:
        return MetricComparison(name, *(Interval(*side) if side else None for side in sides))

    return Comparison(
        task="classification",
        rows=269,
        metrics=(metric("accuracy", accuracy), metric("macro_f1", macro_f1)),
        mode=mode,
        base_rows=269 if mode != NO_BASE_PREDICTIONS else None,
        note=note,
        mcnemar=McNemar(3, 8, 0.2266) if mode == PAIRED else None,
    )


# A noise-level change: 5 more rows right of 269, paired intervals that cover 0.
NOISE = comparison(
    ((0.97, 0.9480, 0.9888), (0.95, 0.9219, 0.9740), (0.02, -0.0037, 0.0446)),
    ((0.969, 0.9466, 0.9880), (0.948, 0.9201, 0.9731), (0.021, -0.0035, 0.0452)),
)
PASSING_CHECKS = (
    Check("accuracy >= 0.95", FLOOR, "0.9700", PASSED),
    Check("accuracy: -0.01", REGRESSION, "Δ +0.0200 [-0.0037, +0.0446]", PASSED),
    Check("accuracy >= 0.85", WORST_SLICE, "0.8500 (`late`)", PASSED),
)
# A real regression: 11 points of accuracy.
DROP = comparison(
    ((0.91, 0.8736, 0.9405), (0.95, 0.9219, 0.9740), (-0.04, -0.0632, -0.0186)),
    ((0.905, 0.8699, 0.9368), (0.948, 0.9201, 0.9731), (-0.043, -0.0660, -0.0201)),
)
FAILING_CHECKS = (
    Check("accuracy >= 0.95", FLOOR, "0.9100", BREACHED, "accuracy is 0.9100, not >= 0.95"),
    Check(
        "accuracy: -0.01",
        REGRESSION,
        "Δ -0.0400 [-0.0632, -0.0186]",
        BREACHED,
        "accuracy changed by -0.0400 (this PR − base; 95% paired interval [-0.0632, -0.0186]), "
        "beyond the allowed -0.01",
    ),
    Check(
        "accuracy >= 0.85", WORST_SLICE, "0.7000 (`late`)", BREACHED, "slice `late` has accuracy 0.7000, not >= 0.85"
    ),
)


def inputs(**overrides) -> ReportInputs:
    fields = dict(
        metrics=improved_metrics(),
        base_metrics=BASE_METRICS,
        per_class=improved_per_class(),
        base_per_class=BASE_PER_CLASS,
        params={"split": {"seed": 42}, "train": {"epochs": 15, "learning_rate": 0.003, "channels": 64}},
        base_params=BASE_PARAMS,
        validation=VALID,
        train_run=TRAIN_RUN,
        base_name="main (1a2b3c4)",
        run_url=RUN_URL,
        images=IMAGES,
        quality=GateResult(PASSING_CHECKS, NOISE, base_name="main (1a2b3c4)"),
    )
    fields.update(overrides)
    return ReportInputs(**fields)


def regressed() -> ReportInputs:
    metrics = copy.deepcopy(BASE_METRICS)
    metrics[TRAIN] = {"train": {"loss": 0.3, "accuracy": 0.9}, "val": {"loss": 0.4, "accuracy": 0.89}, "step": 12}
    metrics[EVALUATE]["accuracy"], metrics[EVALUATE]["macro_f1"] = 0.91, 0.905
    metrics[EVALUATE]["slices"]["late"]["accuracy"] = 0.7
    per_class = copy.deepcopy(BASE_PER_CLASS)
    per_class["cat"]["f1"] = 0.95
    per_class["dog"]["f1"] = 0.80
    return inputs(
        metrics=metrics,
        per_class=per_class,
        params={"split": {"seed": 7}, "train": {"epochs": 12, "learning_rate": 0.03, "channels": 32}},
        validation={
            **VALID,
            "success": False,
            "failed": 1,
            "successful": 219,
            "failed_expectations": [
                {
                    "expectation": "expect_column_values_to_be_between",
                    "column": "x3",
                    "description": "x3 in 0..16",
                    "observed": "2 values | out of range",
                }
            ],
        },
        train_run={**TRAIN_RUN, "device": "cuda", "precision": "bf16", "resumed_from_epoch": 5},
        quality=GateResult(FAILING_CHECKS, DROP, base_name="main (1a2b3c4)"),
    )


def overridden() -> ReportInputs:
    result = GateResult(FAILING_CHECKS, DROP, override="label `accept-regression`", base_name="main (1a2b3c4)")
    return replace(regressed(), quality=result)


def unpaired() -> ReportInputs:
    note = "not paired: the test split differs (200 rows in both, 69 only in this PR); unpaired intervals (wider)"
    result = comparison(
        ((0.97, 0.9480, 0.9888), (0.95, 0.9219, 0.9740), (0.02, -0.0150, 0.0560)),
        ((0.969, 0.9466, 0.9880), (0.948, 0.9201, 0.9731), (0.021, -0.0145, 0.0571)),
        mode=UNPAIRED,
        note=note,
    )
    return inputs(quality=GateResult(PASSING_CHECKS, result, base_name="main (1a2b3c4)"))


def no_base_predictions() -> ReportInputs:
    note = "the base has no per-row predictions: this PR's intervals only, no Δ interval"
    result = comparison(
        ((0.97, 0.9480, 0.9888), None, None), ((0.969, 0.9466, 0.9880), None, None), NO_BASE_PREDICTIONS, note
    )
    checks = (
        PASSING_CHECKS[0],
        Check("accuracy: -0.01", REGRESSION, "—", SKIPPED, "the base has no per-row predictions"),
    )
    return inputs(base_per_class=None, quality=GateResult(checks, result, base_name="main (1a2b3c4)"))


def no_gates() -> ReportInputs:
    return inputs(quality=GateResult((), NOISE, declared=False, base_name="main (1a2b3c4)"))


def new_metric() -> ReportInputs:
    metrics = improved_metrics()
    metrics[EVALUATE]["top2_accuracy"] = 0.99
    params = {"split": {"seed": 42}, "train": {"epochs": 12, "learning_rate": 0.003, "channels": 32, "depth": 3}}
    return inputs(metrics=metrics, params=params)


def missing_base() -> ReportInputs:
    alone = comparison(((0.97, 0.9480, 0.9888), None, None), ((0.969, 0.9466, 0.9880), None, None), mode=NO_BASE)
    checks = (PASSING_CHECKS[0], Check("accuracy: -0.01", REGRESSION, "—", SKIPPED, "no base to compare with"))
    return inputs(
        base_metrics=None,
        base_per_class=None,
        base_params=None,
        base_name=None,
        run_url=None,
        validation=None,
        quality=GateResult(checks, alone),
    )


def base_without_metrics() -> ReportInputs:
    return inputs(
        base_metrics={TRAIN: None, EVALUATE: None},
        base_per_class=None,
        base_params=None,
        dvc_diffs={
            "metrics": "| Path | Metric | main | workspace | Change |\n|---|---|---|---|---|\n"
            f"| {EVALUATE} | accuracy | - | 0.97 | - |"
        },
    )


def data_drift() -> ReportInputs:
    threshold = 0.05 / 4
    drift = DriftResult(
        level=0.05,
        tests=(
            DriftTest(
                KS_FAMILY, 0.61, 1.2e-30, threshold, "largest D on `x2`; Holm-adjusted over 64 features; 14 drifted"
            ),
            DriftTest(
                CHI2_FAMILY, 3.2, 0.2, threshold, "largest χ² on `colour`; Holm-adjusted over 1 feature; 0 drifted"
            ),
            DriftTest(TARGET_CHI2, 1.5, 0.47, threshold, "`kind` class counts, base vs PR"),
            DriftTest(
                MMD_FAMILY,
                0.2184,
                0.000999,
                threshold,
                "64 features z-scored on the pooled mean and SD (2 constant dropped); Gaussian kernel, "
                "median-distance bandwidth, 1000 permutations",
            ),
        ),
        drifted_features=tuple(f"x{i}" for i in range(14)),
        notes=("`notes` is text: not tested for drift",),
    )
    comparison = DataComparison(
        150, 160, "kind", "classification", {"cat": 50, "dog": 50, "eel": 50}, {"cat": 50, "dog": 60, "eel": 50}, drift
    )
    return inputs(data_changed=True, data=comparison)


def data_not_compared() -> ReportInputs:
    return inputs(data_changed=True, data_note="the base data could not be fetched through DVC (PathMissingError: x)")


def baseline_reset() -> ReportInputs:
    per_class = {label: dict(scores) for label, scores in improved_per_class().items()}
    per_class["fox"] = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}  # a new class nobody predicts yet
    return inputs(
        per_class=per_class,
        base_metrics=None,
        base_per_class=None,
        baseline_reset="the classes changed (added `fox`); the features changed (added `x9`; removed `x0`)",
        data_changed=True,
        quality=None,
        quality_note="no per-row predictions (`reports/predictions.csv`): no intervals and no gate",
    )


def regression() -> ReportInputs:
    drift = DriftResult(
        level=0.05,
        tests=(
            DriftTest(KS_FAMILY, 0.05, 0.9, 0.05 / 3, "largest D on `area`; Holm-adjusted over 3 features; 0 drifted"),
            DriftTest(TARGET_KS, 0.31, 2.5e-6, 0.05 / 3, "`price` values, base vs PR"),
            DriftTest(MMD_FAMILY, 0.001, 0.6, 0.05 / 3, "3 features z-scored on the pooled mean and SD; ..."),
        ),
        drifted_features=(),
    )
    summary = {"mean": 10.0, "std": 2.0, "min": 4.1, "max": 16.2}
    comparison = DataComparison(300, 310, "price", "regression", summary, {**summary, "mean": 11.5, "max": 18.0}, drift)
    return inputs(
        task="regression",
        metrics={EVALUATE: {"mae": 1.1, "rmse": 1.5, "r2": 0.81}},
        base_metrics={EVALUATE: {"mae": 1.2, "rmse": 1.4, "r2": 0.8}},
        per_class=None,
        base_per_class=None,
        residuals={"mae": 1.1, "rmse": 1.5, "r2": 0.81, "rows": 310},
        base_residuals={"mae": 1.2, "rmse": 1.4, "r2": 0.8, "rows": 300},
        images=(("Training curves", "training_curves.png"), ("Predicted vs actual", "predicted_vs_actual.png")),
        data_changed=True,
        data=comparison,
        quality=None,
    )


CASES = {
    "improved": inputs,
    "regressed": regressed,
    "new_metric": new_metric,
    "missing_base": missing_base,
    "base_without_metrics": base_without_metrics,
    "data_drift": data_drift,
    "data_not_compared": data_not_compared,
    "baseline_reset": baseline_reset,
    "regression": regression,
    "overridden": overridden,
    "unpaired": unpaired,
    "no_base_predictions": no_base_predictions,
    "no_gates": no_gates,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_markdown_matches_golden_file(case):
    text = render_markdown(CASES[case]())
    golden = GOLDEN / f"{case}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest tests/mlci/test_report_markdown.py"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ["improved", "regressed", "overridden"])
def test_gate_job_summary_matches_golden_file(case):
    text = gate_summary_markdown(CASES[case]().quality)
    golden = GOLDEN / f"gate_{case}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest tests/mlci/test_report_markdown.py"
    assert text == golden.read_text(encoding="utf-8")


def test_a_noise_level_change_is_within_noise_not_better():
    text = render_markdown(inputs())
    assert "| `accuracy` | 0.9700 | 0.9500 | +0.0200 | ⚪ within noise |" in text
    assert "**At a glance:** accuracy 0.9700 (+0.0200 vs base, ⚪ within noise); quality gate passed;" in text
    assert "| `val.accuracy` | 0.9600 | 0.9300 | +0.0300 | 🟢 better |" in text  # no interval: face value


def test_every_headline_metric_has_an_interval():
    for case in ("improved", "regressed", "unpaired", "no_base_predictions"):
        text = render_markdown(CASES[case]())
        for metric in ("accuracy", "macro_f1"):
            line = next(line for line in text.splitlines() if line.startswith(f"| `{metric}` | 0.9") and "[" in line)
            assert line.count("[") >= 1, (case, line)


def test_rendering_is_deterministic():
    assert render_markdown(data_drift()) == render_markdown(data_drift())


def test_largest_regression_comes_first_in_per_class_table():
    text = render_markdown(inputs())
    first = next(line for line in text.splitlines() if line.startswith("| `cat`") or line.startswith("| `eel`"))
    assert first.startswith("| `eel` | 0.9300 | 0.9450 | -0.0150 | 🔴 worse")


def test_baseline_reset_shows_no_comparison_and_keeps_every_class():
    text = render_markdown(baseline_reset())
    assert "**Baseline reset:** the classes changed (added `fox`)" in text
    assert "🔴" not in text and "🟢" not in text and "| base | Δ |" not in text
    assert "| `fox` | 0.0000 | 0.0000 | 0.0000 | 0 |" in text


def test_lower_is_better_for_loss_and_regression_errors():
    text = render_markdown(regression())
    assert "| `mae` | 1.1000 | 1.2000 | -0.1000 | 🟢 better |" in text
    assert "| `rmse` | 1.5000 | 1.4000 | +0.1000 | 🔴 worse |" in text
    assert "| `train.loss` | 0.1000 | 0.2000 | -0.1000 | 🟢 better |" in render_markdown(inputs())
    assert "| `step` | 15 | 12 | +3 |  |" in render_markdown(inputs())  # a counter: neither better nor worse


def test_the_residuals_table_takes_the_interval_verdict_of_mae_and_rmse():
    """RMSE 1.4 -> 1.5 at face value is worse; its paired Δ interval covers 0, so both tables say within noise."""
    noise = Comparison(
        "regression",
        310,
        (
            MetricComparison("mae", Interval(1.1, 1.0, 1.2), Interval(1.2, 1.1, 1.3), Interval(-0.1, -0.15, -0.05)),
            MetricComparison("rmse", Interval(1.5, 1.3, 1.7), Interval(1.4, 1.2, 1.6), Interval(0.1, -0.05, 0.25)),
        ),
        mode=PAIRED,
        base_rows=300,
    )
    quality = GateResult((), noise, declared=False, base_name="main (1a2b3c4)")
    text = render_markdown(replace(regression(), quality=quality))
    residuals = text[text.index("### Residuals") :]
    assert "| RMSE | 1.5000 | 1.4000 | +0.1000 | ⚪ within noise |" in residuals
    assert "| MAE | 1.1000 | 1.2000 | -0.1000 | 🟢 better |" in residuals
    assert "| R² | 0.8100 | 0.8000 | +0.0100 | 🟢 better |" in residuals  # no interval: the face value
    assert "🔴" not in text


def test_comment_variant_names_the_images_instead_of_linking_them():
    text = render_markdown(inputs(), image_note="Images are in the `pr-report` artifact.")
    assert "![" not in text
    assert "Images are in the `pr-report` artifact." in text


def test_untrusted_text_cannot_break_out_of_a_table_cell():
    metrics = improved_metrics()
    metrics[EVALUATE]["bad|name`"] = "x\ny"
    text = render_markdown(inputs(metrics=metrics))
    assert "| `bad\\|name'` | x y | — | — | 🆕 new |" in text


def test_a_small_test_split_is_warned_of_with_the_width_of_its_first_interval():
    small = replace(NOISE, rows=40)
    lines = interval_lines(small, "main")
    assert (
        "> **Warning:** the test split has 40 rows (fewer than 100): the 95% interval of `accuracy` is 0.0408 wide, so "
        "a change smaller than that cannot be told from luck. More rows in the test split (more data, or a larger test "
        "share in `params.yaml`) narrow every interval."
    ) in lines
    assert not [line for line in interval_lines(NOISE, "main") if "Warning" in line]  # 269 rows: no warning


def test_the_per_class_table_shows_the_contracts_display_names_beside_the_classes():
    markdown = render_markdown(inputs(class_names={"dog": "Canis familiaris"}))
    rows = [line for line in markdown.splitlines() if line.startswith("| `dog`") or line.startswith("| `cat`")]
    assert any(line.startswith("| `dog` Canis familiaris |") for line in rows), rows
    assert any(line.startswith("| `cat` |") for line in rows), rows  # no name: the class alone

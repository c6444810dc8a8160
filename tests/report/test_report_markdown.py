"""Golden-file tests of the report's markdown: fixed metrics/params pairs give exactly the committed text.

After an intended change to the report, regenerate with `UPDATE_GOLDEN=1 pytest tests/report` and review the diff.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from digitnet.drift import DataComparison, DriftResult, DriftTest
from digitnet.report import ReportInputs, render_markdown

GOLDEN = Path(__file__).parent / "golden"
RUN_URL = "https://github.com/octo/ml-template/actions/runs/42"
IMAGES = (("Training curves", "training_curves.png"), ("Confusion matrix", "confusion_matrix.png"))

BASE_METRICS = {
    "accuracy": 0.950000,
    "macro_f1": 0.948000,
    "per_class": {
        "0": {"precision": 1.0, "recall": 0.98, "f1": 0.989899, "support": 50},
        "1": {"precision": 0.9, "recall": 0.92, "f1": 0.909890, "support": 50},
        "2": {"precision": 0.95, "recall": 0.94, "f1": 0.944974, "support": 50},
    },
    "slices": {"faint_ink": {"accuracy": 0.9, "support": 30}, "off_centre": {"accuracy": 0.85, "support": 20}},
}
BASE_TRAIN = {"train": {"loss": 0.2, "accuracy": 0.94}, "val": {"loss": 0.25, "accuracy": 0.93}, "step": 12}
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
    metrics["accuracy"], metrics["macro_f1"] = 0.97, 0.969
    metrics["per_class"]["1"]["f1"] = 0.96
    metrics["per_class"]["2"]["f1"] = 0.93  # one class still gets worse: it must come first
    metrics["slices"]["faint_ink"]["accuracy"] = 0.95
    return metrics


def inputs(**overrides) -> ReportInputs:
    fields = dict(
        metrics=improved_metrics(),
        base_metrics=BASE_METRICS,
        train_metrics={"train": {"loss": 0.1, "accuracy": 0.97}, "val": {"loss": 0.12, "accuracy": 0.96}, "step": 15},
        base_train_metrics=BASE_TRAIN,
        params={"split": {"seed": 42}, "train": {"epochs": 15, "learning_rate": 0.003, "channels": 64}},
        base_params=BASE_PARAMS,
        validation=VALID,
        train_run=TRAIN_RUN,
        base_name="main (1a2b3c4)",
        run_url=RUN_URL,
        images=IMAGES,
    )
    fields.update(overrides)
    return ReportInputs(**fields)


def regressed() -> ReportInputs:
    metrics = copy.deepcopy(BASE_METRICS)
    metrics["accuracy"], metrics["macro_f1"] = 0.91, 0.905
    metrics["per_class"]["0"]["f1"] = 0.95
    metrics["per_class"]["1"]["f1"] = 0.80
    metrics["slices"]["off_centre"]["accuracy"] = 0.7
    return inputs(
        metrics=metrics,
        train_metrics={"train": {"loss": 0.3, "accuracy": 0.9}, "val": {"loss": 0.4, "accuracy": 0.89}, "step": 12},
        params={"split": {"seed": 7}, "train": {"epochs": 12, "learning_rate": 0.03, "channels": 32}},
        validation={
            **VALID,
            "success": False,
            "failed": 1,
            "successful": 219,
            "failed_expectations": [
                {
                    "expectation": "expect_column_values_to_be_between",
                    "column": "pixel_3_3",
                    "description": "pixel in 0..16",
                    "observed": "2 values | out of range",
                }
            ],
        },
        train_run={**TRAIN_RUN, "device": "cuda", "precision": "bf16", "resumed_from_epoch": 5},
    )


def new_metric() -> ReportInputs:
    metrics = {**improved_metrics(), "top2_accuracy": 0.99}
    params = {"split": {"seed": 42}, "train": {"epochs": 12, "learning_rate": 0.003, "channels": 32, "depth": 3}}
    return inputs(metrics=metrics, params=params)


def missing_base() -> ReportInputs:
    return inputs(base_metrics=None, base_train_metrics=None, base_params=None, base_name=None, run_url=None)


def base_without_metrics() -> ReportInputs:
    return inputs(
        base_metrics=None,
        base_train_metrics=None,
        base_params=None,
        dvc_diffs={
            "metrics": "| Path | Metric | main | workspace | Change |\n|---|---|---|---|---|\n"
            "| dvclive/evaluate/metrics.json | accuracy | - | 0.97 | - |"
        },
    )


def data_drift() -> ReportInputs:
    drift = DriftResult(
        level=0.05,
        tests=(
            DriftTest(
                "Kolmogorov-Smirnov per feature",
                0.61,
                1.2e-30,
                0.05 / 3,
                "largest D on `pixel_0_2`; Holm-adjusted over 64 features; 14 drifted",
            ),
            DriftTest("Chi-squared on labels", 1.5, 0.47, 0.05 / 3, "label counts, base vs PR"),
            DriftTest("MMD on features", 0.2184, 0.000999, 0.05 / 3, "Gaussian kernel, 1000 permutations"),
        ),
        drifted_features=tuple(f"pixel_{i}_1" for i in range(8)) + tuple(f"pixel_{i}_2" for i in range(6)),
    )
    comparison = DataComparison(150, 160, {"0": 50, "1": 50, "2": 50}, {"0": 50, "1": 60, "2": 50}, drift)
    return inputs(data_changed=True, data=comparison)


def data_not_compared() -> ReportInputs:
    return inputs(data_changed=True, data_note="the base data could not be fetched through DVC (PathMissingError: x)")


CASES = {
    "improved": inputs,
    "regressed": regressed,
    "new_metric": new_metric,
    "missing_base": missing_base,
    "base_without_metrics": base_without_metrics,
    "data_drift": data_drift,
    "data_not_compared": data_not_compared,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_markdown_matches_golden_file(case):
    text = render_markdown(CASES[case]())
    golden = GOLDEN / f"{case}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest tests/report"
    assert text == golden.read_text(encoding="utf-8")


def test_rendering_is_deterministic():
    assert render_markdown(data_drift()) == render_markdown(data_drift())


def test_largest_regression_comes_first_in_per_class_table():
    text = render_markdown(inputs())
    rows = [line for line in text.splitlines() if line.startswith("| `") and "F1" not in line and "|" in line]
    per_class = [r for r in rows if r.split("|")[1].strip() in ("`0`", "`1`", "`2`")]
    assert per_class[0].startswith("| `2` | 0.9300 | 0.9450 | -0.0150 | 🔴 worse")


def test_comment_variant_names_the_images_instead_of_linking_them():
    text = render_markdown(inputs(), image_note="Images are in the `pr-report` artifact.")
    assert "![" not in text
    assert "Images are in the `pr-report` artifact." in text


def test_untrusted_text_cannot_break_out_of_a_table_cell():
    text = render_markdown(regressed())
    assert "| `expect_column_values_to_be_between` | pixel_3_3 | 2 values \\| out of range |" in text

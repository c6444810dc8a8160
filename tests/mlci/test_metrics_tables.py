"""`mlci metrics`: every metrics file dvc.yaml lists, the per-class scores from the predictions, the slices."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlci.metrics_tables import (
    MetricsError,
    format_metrics,
    format_metrics_markdown,
    per_class_metrics,
    predictions_from_text,
    residual_metrics,
    scalar_metrics,
)
from tests.mlci.frames import contract_dict, make_contract, write_project


def predictions(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["target", "prediction"]).astype(str)


def test_per_class_scores_come_from_the_predictions_and_keep_classes_never_seen():
    frame = predictions([("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")])
    scores = per_class_metrics(frame, ["a", "b", "c"])
    assert scores["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(0.666667), "support": 2}
    assert scores["b"] == {"precision": pytest.approx(0.666667), "recall": 1.0, "f1": 0.8, "support": 2}
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_residual_statistics_of_a_regression():
    frame = pd.DataFrame({"target": [1.0, 2.0, 3.0, None], "prediction": [1.0, 3.0, 2.0, 5.0]})
    residuals = residual_metrics(frame)
    assert residuals == {
        "mae": pytest.approx(2 / 3, abs=1e-6),
        "rmse": pytest.approx(math.sqrt(2 / 3), abs=1e-6),
        "r2": 0.0,
        "rows": 3,
    }


def test_predictions_need_target_and_prediction_columns():
    with pytest.raises(
        MetricsError, match=r"^reports/predictions.csv has no column prediction \(columns: id, target\)$"
    ):
        predictions_from_text("id,target\n1,a\n", make_contract())


def test_nested_metrics_are_dotted_and_the_per_class_and_slice_tables_left_out():
    metrics = {"accuracy": 0.9, "train": {"loss": 0.1}, "per_class": {"a": {}}, "slices": {"s": {}}, "hist": [1, 2]}
    assert scalar_metrics(metrics) == {"accuracy": 0.9, "train.loss": 0.1}


def test_plain_tables_show_every_metrics_file_then_per_class_then_slices(tmp_path: Path):
    write_project(tmp_path, accuracy=0.9, epochs=3)
    text = format_metrics(tmp_path)
    blocks = text.split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [
        "runs/train/metrics.json",
        "runs/evaluate/metrics.json",
        "per class (reports/predictions.csv)",
        "slices",
    ]
    assert [line.split() for line in blocks[0].splitlines()[1:]] == [
        ["metric", "value"],
        ["train.loss", "0.1000"],
        ["step", "3"],
    ]
    assert "cat" in blocks[2] and "support" in blocks[2]


def test_markdown_tables_for_a_job_summary(tmp_path: Path):
    write_project(tmp_path, accuracy=0.9, epochs=3)
    text = format_metrics_markdown(tmp_path)
    assert "**runs/evaluate/metrics.json**\n\n| metric | value |\n|:---|---:|\n| accuracy | 0.9000 |" in text
    assert "| slice | accuracy | support |\n|:---|---:|---:|\n| small | 0.9000 | 5 |" in text


def test_regression_shows_residuals_instead_of_classes(tmp_path: Path):
    frame = pd.DataFrame({"id": [0, 1], "target": [1.0, 2.0], "prediction": [1.5, 2.0]})
    write_project(tmp_path, 0.9, 3, contract=contract_dict(task="regression", target="price"), predictions=frame)
    text = format_metrics(tmp_path)
    assert "residuals (reports/predictions.csv)" in text and "mae" in text and "per class" not in text


def test_a_missing_metrics_file_is_named_not_fatal(tmp_path: Path):
    write_project(tmp_path, accuracy=0.9, epochs=3)
    (tmp_path / "runs/train/metrics.json").unlink()
    first = format_metrics(tmp_path).split("\n\n")[0].splitlines()
    assert first[0] == "runs/train/metrics.json" and first[2] == "(not found: run `dvc repro`)"


def test_metrics_tables_do_not_import_torch(tmp_path: Path):
    write_project(tmp_path, accuracy=0.9, epochs=3)
    code = (
        "import sys; from pathlib import Path; from mlci.metrics_tables import format_metrics; "
        f"format_metrics(Path({str(tmp_path)!r})); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

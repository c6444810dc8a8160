"""The same package on a regression target (the contract's `target.task: regression`): the digits' images with a
value to predict, each image's mean ink, instead of a class. split, train, evaluate and predict run unchanged: the
network predicts one value, the metrics are MAE, RMSE and R², the predictions file has no class probabilities, and
the training curves log MAE."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from digitnet.cli import main
from mlci.contract import Target, dump_contract

PARAMS = {
    "split": {"seed": 1},
    "train": {"epochs": 8, "channels": 8, "learning_rate": 0.01, "dropout": 0.0, "device": "cpu"},
}


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory, raw_data, contract):
    """A scratch project on data/ink.csv, run through split, train, evaluate and predict from inside it."""
    root = tmp_path_factory.mktemp("regression")
    frame = raw_data.drop(columns=[contract.target.name])
    frame["ink"] = frame[contract.feature_names].to_numpy(dtype=np.float64).mean(axis=1).round(4)
    (root / "data").mkdir()
    frame.to_csv(root / "data/ink.csv", index=False)
    ink = replace(contract, path="data/ink.csv", target=Target(name="ink", task="regression", min=0.0, max=16.0))
    dump_contract(ink, root / "data.schema.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for command in (["split"], ["train"], ["evaluate"], ["predict", "--data", "data/ink.csv", "--out", "out.csv"]):
            assert main(command) == 0, command
    return root


def test_the_metrics_are_a_regressions_and_beat_predicting_the_mean(regression_project):
    metrics = json.loads((regression_project / "dvclive/evaluate/metrics.json").read_text())
    assert list(metrics) == ["mae", "rmse", "r2", "slices"]
    test = pd.read_csv(regression_project / "artifacts/split/test.csv")
    baseline = float((test["ink"] - test["ink"].mean()).abs().mean())  # the MAE of always predicting the mean
    assert metrics["mae"] < 0.5 * baseline
    assert metrics["r2"] > 0.5
    assert set(metrics["slices"]) == {"faint_ink", "off_centre"}
    assert all(set(row) == {"mae", "support"} for row in metrics["slices"].values())


def test_the_predictions_are_values_with_no_class_probabilities(regression_project):
    predictions = pd.read_csv(regression_project / "reports/predictions.csv")
    assert list(predictions.columns) == ["id", "target", "prediction"]
    assert predictions["prediction"].dtype == np.float64
    mae = float((predictions["prediction"] - predictions["target"]).abs().mean())
    metrics = json.loads((regression_project / "dvclive/evaluate/metrics.json").read_text())
    assert mae == pytest.approx(metrics["mae"], abs=1e-5)
    assert list(pd.read_csv(regression_project / "out.csv").columns) == ["prediction"]


def test_the_training_curves_log_loss_and_mae(regression_project):
    plots = regression_project / "dvclive/train/plots/metrics"
    assert sorted(path.relative_to(plots).as_posix() for path in plots.rglob("*.tsv")) == [
        "train/loss.tsv",
        "train/mae.tsv",
        "val/loss.tsv",
        "val/mae.tsv",
    ]
    final = json.loads((regression_project / "dvclive/train/metrics.json").read_text())
    assert set(final["val"]) == {"loss", "mae"}

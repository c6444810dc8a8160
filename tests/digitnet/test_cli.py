"""The `digitnet` commands run from inside a scratch project with their default paths: what they
write, and on bad input one clear `error:` line, a non-zero exit and no output that DVC could
take as done."""

import io
import json
import logging
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest

from digitnet.cli import EXIT_FAILED, main
from mlci.files import TRAIN_RUN_LOCAL
from mlci.serving.bundle import model_files

PARAMS = {"split": {"seed": 1}, "train": {"epochs": 2, "channels": 8, "device": "cpu"}}


@pytest.fixture
def probabilities(contract) -> list[str]:
    """The class-probability columns of a predictions file, one per class of the contract (none for a regression)."""
    return [f"proba_{label}" for label in contract.target.classes or ()]


@pytest.fixture
def workdir(tmp_path, monkeypatch, write_project):
    """A scratch project (params.yaml, the data, data.schema.yaml), with the CLI run from inside it."""
    monkeypatch.chdir(tmp_path)
    return write_project(tmp_path, PARAMS)


@pytest.fixture
def trained_workdir(workdir):
    """A scratch project after `digitnet split` and `digitnet train`."""
    assert main(["split"]) == 0
    assert main(["train"]) == 0
    return workdir


def _errors(capsys) -> list[str]:
    """The error lines the user sees on stderr, without the log prefix."""
    prefix = "ERROR digitnet: "
    lines = capsys.readouterr().err.splitlines()
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]


def test_split_train_evaluate_write_their_outputs(trained_workdir, contract):
    workdir = trained_workdir
    assert main(["evaluate"]) == 0
    metrics = json.loads((workdir / "dvclive/evaluate/metrics.json").read_text())
    task_metrics = {"accuracy", "macro_f1", "per_class"} if contract.target.is_classification else {"mae", "rmse", "r2"}
    assert set(metrics) == {*task_metrics, "slices"}
    run = json.loads((workdir / "artifacts/model/train_run.json").read_text())
    assert run == {"device": "cpu", "precision": "fp32", "processes": 1, "epochs": 2}
    record = json.loads((workdir / TRAIN_RUN_LOCAL).read_text())  # outside the model folder DVC hashes
    assert record["wall_seconds"] > 0 and record["resumed_from_epoch"] is None
    assert record["model_files"] == model_files(workdir / "artifacts/model")
    assert (workdir / "dvclive/train/plots/metrics/val/loss.tsv").read_text().startswith("step\t")
    assert not (workdir / "checkpoints/train.pt").exists()
    assert not list(workdir.rglob("*.partial"))


def test_evaluate_writes_one_prediction_per_test_row(trained_workdir, contract, probabilities):
    workdir = trained_workdir
    assert main(["evaluate"]) == 0
    test = pd.read_csv(workdir / "artifacts/split/test.csv")
    predictions = pd.read_csv(workdir / "reports/predictions.csv")
    assert list(predictions.columns) == ["id", "target", "prediction", *probabilities]
    assert predictions["id"].tolist() == test[contract.id].tolist()
    assert predictions["target"].tolist() == test[contract.target.name].tolist()
    metrics = json.loads((workdir / "dvclive/evaluate/metrics.json").read_text())
    if not contract.target.is_classification:
        error = (predictions["prediction"] - predictions["target"]).abs().mean()
        assert error == pytest.approx(metrics["mae"], abs=1e-5)
        return
    assert predictions["prediction"].isin(contract.target.classes).all()
    assert np.allclose(predictions[probabilities].sum(axis=1), 1.0, atol=1e-4)
    assert (predictions["prediction"] == predictions["target"]).mean() == pytest.approx(metrics["accuracy"], abs=1e-6)


def test_predict_writes_a_prediction_and_class_probabilities_per_row(trained_workdir, contract, probabilities):
    workdir = trained_workdir
    features = pd.read_csv(workdir / "artifacts/split/test.csv").drop(columns=[contract.id, contract.target.name])
    features.to_csv(workdir / "rows.csv", index=False)
    assert main(["predict", "--data", "rows.csv", "--out", "out/predictions.csv"]) == 0
    predicted = pd.read_csv(workdir / "out/predictions.csv")
    assert list(predicted.columns) == ["prediction", *probabilities]
    assert len(predicted) == len(features)
    assert not probabilities or np.allclose(predicted[probabilities].sum(axis=1), 1.0, atol=1e-4)
    assert main(["evaluate"]) == 0
    evaluated = pd.read_csv(workdir / "reports/predictions.csv")
    pd.testing.assert_frame_equal(predicted, evaluated[["prediction", *probabilities]])


def test_predict_on_rows_missing_a_feature_names_the_columns(trained_workdir, contract, capsys):
    workdir = trained_workdir
    dropped = [contract.feature_names[1], contract.feature_names[-1]]
    rows = pd.read_csv(workdir / "artifacts/split/test.csv").drop(columns=dropped)
    rows.to_csv(workdir / "rows.csv", index=False)
    assert main(["predict", "--data", "rows.csv", "--out", "predictions.csv"]) == EXIT_FAILED
    assert _errors(capsys) == [f"rows.csv: missing feature column(s): {', '.join(dropped)}"]
    assert not (workdir / "predictions.csv").exists()


def test_train_gives_back_the_sigterm_handler_it_replaced(workdir):
    def handler(signum, frame):  # the caller's own (train may run inside another program)
        pass

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        assert main(["split"]) == 0
        assert main(["train"]) == 0
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_main_logs_to_stderr_then_restores_the_root_loggers_handlers_and_level(workdir, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    root.addHandler(logging.StreamHandler(stream))
    root.setLevel(logging.CRITICAL)
    handlers, level = root.handlers[:], root.level
    try:
        assert main(["split"]) == 0
        assert "INFO digitnet: split: train=" in capsys.readouterr().err
        assert root.handlers == handlers and root.level == level
        assert not stream.closed and stream.getvalue() == ""  # set aside during the command, not closed or written to
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_missing_data_tells_the_user_to_make_data_and_writes_nothing(workdir, contract, capsys):
    (workdir / contract.path).unlink()
    assert main(["split"]) == EXIT_FAILED
    assert _errors(capsys) == [
        f"{contract.path} not found: run `make data` (or `dvc pull {contract.path}`) to fetch the tracked data"
    ]
    assert not (workdir / "artifacts").exists()


def test_unknown_param_key_fails_naming_the_key_and_writes_nothing(workdir, capsys):
    (workdir / "params.yaml").write_text("train:\n  epoch: 3\n")
    assert main(["split"]) == EXIT_FAILED
    assert _errors(capsys) == [
        "params.yaml: train.epoch: unknown key (known: batch_size, channels, compile, depth, device, "
        "dropout, epochs, learning_rate, processes, seed, threads, weight_decay)"
    ]
    assert not (workdir / "artifacts").exists()


def test_nan_in_training_data_stops_training_and_leaves_no_model(workdir, contract, capsys):
    assert main(["split"]) == 0
    train_csv = workdir / "artifacts/split/train.csv"
    train = pd.read_csv(train_csv)
    # A blank in a numeric feature the contract does not allow to be null: nothing fills it in, so the loss is NaN.
    column = next(feature.name for feature in contract.features if feature.numeric and not feature.nullable)
    train.loc[0, column] = np.nan
    train.to_csv(train_csv, index=False)
    assert main(["train"]) == EXIT_FAILED
    assert _errors(capsys)[0].startswith("training diverged: the loss is nan in epoch 1;")
    assert not (workdir / "artifacts/model").exists()
    assert not (workdir / "dvclive").exists()


def test_evaluate_without_a_model_says_which_stage_to_run(workdir, capsys):
    assert main(["split"]) == 0
    assert main(["evaluate"]) == EXIT_FAILED
    assert _errors(capsys) == ["artifacts/model/model.pt not found: run `dvc repro train` first"]
    assert not (workdir / "dvclive").exists()
    assert not (workdir / "reports").exists()


def test_evaluate_in_a_repository_without_commits_asks_for_a_first_commit(trained_workdir, capsys):
    workdir = trained_workdir
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    assert main(["evaluate"]) == EXIT_FAILED
    assert _errors(capsys) == [
        "DVCLive cannot write metrics (Empty git repo): make a first commit, e.g. `git add -A && git commit -m init`"
    ]
    assert not (workdir / "dvclive/evaluate").exists()
    assert not (workdir / "dvclive/evaluate.partial").exists()
    assert not (workdir / "reports/predictions.csv").exists()

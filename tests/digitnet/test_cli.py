"""The CLI on bad input: one clear `error:` line, a non-zero exit, and no output that DVC could take as done."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from digitnet.cli import EXIT_FAILED, main


@pytest.fixture
def workdir(tmp_path, monkeypatch, digits):
    """A scratch project: params.yaml and the real data, with the CLI run from inside it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    digits.to_csv(tmp_path / "data" / "digits.csv", index=False)
    params = {"split": {"seed": 1}, "train": {"epochs": 2, "channels": 8, "device": "cpu"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _errors(capsys) -> list[str]:
    """The error lines the user sees on stderr, without the log prefix."""
    prefix = "ERROR digitnet: "
    lines = capsys.readouterr().err.splitlines()
    return [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]


def test_split_train_evaluate_write_their_outputs(workdir):
    assert main(["split"]) == 0
    assert main(["train"]) == 0
    assert main(["evaluate"]) == 0
    metrics = json.loads((workdir / "dvclive/evaluate/metrics.json").read_text())
    assert set(metrics) >= {"accuracy", "macro_f1", "per_class", "slices"}
    run = json.loads((workdir / "artifacts/model/train_run.json").read_text())
    assert run["device"] == "cpu" and run["epochs"] == 2 and run["resumed_from_epoch"] is None
    assert (workdir / "dvclive/train/plots/metrics/val/loss.tsv").read_text().startswith("step\t")
    confusion = json.loads((workdir / "dvclive/evaluate/plots/sklearn/confusion_matrix.json").read_text())
    assert len(confusion) == sum(row["support"] for row in metrics["per_class"].values())
    assert not (workdir / "checkpoints/train.pt").exists()
    assert not list(workdir.rglob("*.partial"))


def test_missing_data_tells_the_user_to_dvc_pull_and_writes_nothing(workdir, capsys):
    (workdir / "data" / "digits.csv").unlink()
    assert main(["split"]) == EXIT_FAILED
    assert _errors(capsys) == ["data/digits.csv not found: run `dvc pull` to fetch the tracked data"]
    assert not (workdir / "artifacts").exists()


def test_unknown_param_key_fails_naming_the_key(workdir, capsys):
    (workdir / "params.yaml").write_text("train:\n  epoch: 3\n")
    assert main(["split"]) == EXIT_FAILED
    assert _errors(capsys) == [
        "params.yaml: train.epoch: unknown key (known: batch_size, channels, compile, depth, device, "
        "dropout, epochs, learning_rate, processes, seed, weight_decay)"
    ]
    assert not (workdir / "artifacts").exists()


def test_wrong_param_type_fails_naming_the_key(workdir, capsys):
    (workdir / "params.yaml").write_text("split:\n  seed: forty-two\n")
    assert main(["split"]) == EXIT_FAILED
    assert _errors(capsys) == ["params.yaml: split.seed: expected int, got str 'forty-two'"]


def test_nan_in_training_data_stops_training_and_leaves_no_model(workdir, capsys):
    assert main(["split"]) == 0
    train_csv = workdir / "artifacts/split/train.csv"
    train_csv.write_text(train_csv.read_text().replace(",0,", ",,", 1))  # a blank pixel: NaN
    assert main(["train"]) == EXIT_FAILED
    assert _errors(capsys)[0].startswith("training diverged: the loss is nan in epoch 1;")
    assert not (workdir / "artifacts/model").exists()
    assert not (workdir / "dvclive").exists()


def test_evaluate_without_a_model_says_which_stage_to_run(workdir, capsys):
    assert main(["split"]) == 0
    assert main(["evaluate"]) == EXIT_FAILED
    assert _errors(capsys) == ["artifacts/model/model.pt not found: run `dvc repro train` first"]
    assert not (workdir / "dvclive").exists()


def test_cuda_requested_without_a_gpu_is_a_clear_error(workdir, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (workdir / "params.yaml").write_text("train:\n  device: cuda\n")
    assert main(["split"]) == 0
    assert main(["train"]) == EXIT_FAILED
    assert _errors(capsys) == ["params.yaml: train.device: 'cuda' but no CUDA device is available"]


def test_metrics_prints_a_table_of_the_evaluation(workdir, capsys):
    for command in ("split", "train", "evaluate"):
        assert main([command]) == 0
    capsys.readouterr()
    assert main(["metrics"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("accuracy 0.") and "macro-F1 0." in table[0]
    assert table[2].split() == ["class", "precision", "recall", "f1", "support"]
    assert [line.split()[0] for line in table[3:13]] == [str(label) for label in range(10)]
    assert {line.split()[0] for line in table[15:]} == {"faint_ink", "off_centre"}
    assert main(["metrics", "--markdown"]) == 0
    markdown = capsys.readouterr().out.splitlines()
    assert markdown[:2] == ["| metric | value |", "|---|---|"]
    assert markdown[2].startswith("| accuracy | 0.")
    assert sum(line.startswith("| ") and line.split()[1].isdigit() for line in markdown) == 10


def test_printing_metrics_does_not_import_torch(tmp_path):
    """CI steps print metrics several times a run; importing torch would cost seconds each time."""
    metrics = {"accuracy": 0.5, "macro_f1": 0.5, "per_class": {}, "slices": {}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    probe = "import sys; from digitnet.cli import main; main(sys.argv[1:]); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe, "metrics", "--metrics", "metrics.json", "--markdown"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines()[2:4] == ["| accuracy | 0.5000 |", "| macro-F1 | 0.5000 |"]
    assert result.stdout.splitlines()[-1] == "False"


def test_metrics_before_the_pipeline_ran_says_what_to_do(workdir, capsys):
    assert main(["metrics"]) == EXIT_FAILED
    assert _errors(capsys) == ["dvclive/evaluate/metrics.json not found: run `dvc repro` first"]


GX_ROOT = Path(__file__).resolve().parents[2] / "gx"


def test_validate_writes_the_summary_and_fails_on_bad_data(workdir, capsys):
    csv = workdir / "data" / "digits.csv"
    csv.write_text(csv.read_text().replace("\n0,0,0,5,", "\n0,0,0,99,", 1))  # pixel_0_2 of the first row
    code = main(["validate", "--gx-root", str(GX_ROOT), "--summary", "reports/validation.json"])
    assert code == EXIT_FAILED
    summary = json.loads((workdir / "reports/validation.json").read_text())
    assert summary["success"] is False and summary["failed"] == 1
    assert summary["failed_expectations"][0]["description"] == "pixel_0_2 is within 0..16"
    assert "data validation failed: 1 of 220 expectations" in capsys.readouterr().err


def test_evaluate_in_a_repository_without_commits_asks_for_a_first_commit(workdir, capsys):
    for command in ("split", "train"):
        assert main([command]) == 0
    subprocess.run(["git", "init", "-q"], cwd=workdir, check=True)
    assert main(["evaluate"]) == EXIT_FAILED
    assert _errors(capsys) == [
        "DVCLive cannot write metrics (Empty git repo): make a first commit, e.g. `git add -A && git commit -m init`"
    ]
    assert not (workdir / "dvclive/evaluate").exists()
    assert not (workdir / "dvclive/evaluate.partial").exists()

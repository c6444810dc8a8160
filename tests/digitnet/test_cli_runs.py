"""The train/evaluate commands as separate processes, against one uninterrupted run on the same split: a run stopped
by SIGTERM and one killed by SIGKILL each resume, in new processes, to the byte-identical model folder, metrics and
predictions. So the same params and data give the same bytes whichever processes run them."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitnet.cli import EXIT_PREEMPTED
from mlci.files import PREDICTIONS

pytestmark = pytest.mark.slow

# Epochs long enough (~0.4 s each) for a signal to land mid-run.
PARAMS = {"train": {"epochs": 6, "channels": 32, "depth": 2, "device": "cpu"}}


def _digitnet(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "digitnet.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
        check=False,
    )


@pytest.fixture(scope="module")
def split_project(tmp_path_factory, write_project):
    """Copy a scratch project, split once (the split command), into a folder: every run here trains on one split."""
    split = write_project(tmp_path_factory.mktemp("split"), PARAMS)
    done = _digitnet("split", cwd=split)
    assert done.returncode == 0, done.stderr

    def make(root: Path) -> Path:
        shutil.copytree(split, root, dirs_exist_ok=True)
        return root

    return make


def _evaluation_files(root: Path) -> dict[str, bytes]:
    """The model folder's files (a DVC output: the same bytes keep its hash, and dvc.lock, unchanged by a retrain),
    the test metrics and the predictions."""
    model = {path.relative_to(root).as_posix(): path.read_bytes() for path in (root / "artifacts/model").iterdir()}
    assert sorted(model) == ["artifacts/model/model.pt", "artifacts/model/train_run.json"]
    return {**model, **{name: (root / name).read_bytes() for name in ("dvclive/evaluate/metrics.json", PREDICTIONS)}}


def _train_and_evaluate(root: Path) -> dict[str, bytes]:
    for command in ("train", "evaluate"):
        result = _digitnet(command, cwd=root)
        assert result.returncode == 0, result.stderr
    return _evaluation_files(root)


def _start_training_and_wait_for_checkpoint(root: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "digitnet.cli", "train"],
        cwd=root,
        env={**os.environ, "CI": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = root / "checkpoints" / "train.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert process.poll() is None, f"training ended before its first checkpoint: {process.stderr}"
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.01)
    return process


@pytest.fixture(scope="module")
def reference_outputs(tmp_path_factory, split_project) -> dict[str, bytes]:
    """An uninterrupted train and evaluate, each in a process of its own."""
    return _train_and_evaluate(split_project(tmp_path_factory.mktemp("reference")))


def _resume_and_evaluate(root: Path) -> dict[str, bytes]:
    resumed = _digitnet("train", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint checkpoints/train.pt after epoch" in resumed.stderr
    evaluated = _digitnet("evaluate", cwd=root)
    assert evaluated.returncode == 0, evaluated.stderr
    return _evaluation_files(root)


def test_sigterm_saves_a_checkpoint_exits_with_the_preempted_code_and_the_rerun_is_byte_identical(
    reference_outputs, tmp_path, split_project
):
    root = split_project(tmp_path)
    process = _start_training_and_wait_for_checkpoint(root)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_PREEMPTED, stderr
    assert "checkpoint saved, run again to resume" in stderr
    assert (root / "checkpoints" / "train.pt").is_file()
    assert not (root / "artifacts/model").exists()
    assert _resume_and_evaluate(root) == reference_outputs


def test_training_killed_mid_run_resumes_to_the_same_model_folder_metrics_and_predictions(
    reference_outputs, tmp_path, split_project
):
    root = split_project(tmp_path)
    process = _start_training_and_wait_for_checkpoint(root)
    process.kill()
    process.wait()
    assert not (root / "artifacts/model/model.pt").exists()
    assert _resume_and_evaluate(root) == reference_outputs

"""A training run stopped by SIGTERM, and one killed by SIGKILL, each in a process of its own, resume from the
checkpoint it left to the byte-identical model folder, metrics and predictions of one uninterrupted run on the same
split. So the same params and data give the same bytes however often training is stopped, and in whichever process
it goes on (the uninterrupted and the resumed runs are the CLI's commands run in this test's process)."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digitnet.cli import EXIT_PREEMPTED, main
from mlci.files import PREDICTIONS

pytestmark = pytest.mark.slow

# Epochs long enough (~0.4 s each) for a signal to land mid-run, and few enough to keep the runs short.
PARAMS = {"train": {"epochs": 4, "channels": 32, "depth": 2, "device": "cpu"}}


def _digitnet(*args: str, cwd: Path) -> int:
    """A `digitnet` command run here, from inside `cwd`, as it runs there."""
    with contextlib.chdir(cwd):
        return main(list(args))


@pytest.fixture(scope="module")
def split_project(tmp_path_factory, write_project):
    """Copy a scratch project, split once (the split command), into a folder: every run here trains on one split."""
    split = write_project(tmp_path_factory.mktemp("split"), PARAMS)
    assert _digitnet("split", cwd=split) == 0

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


@pytest.fixture(scope="module")
def reference_outputs(tmp_path_factory, split_project) -> dict[str, bytes]:
    """An uninterrupted train and evaluate."""
    root = split_project(tmp_path_factory.mktemp("reference"))
    assert _digitnet("train", cwd=root) == 0
    assert _digitnet("evaluate", cwd=root) == 0
    return _evaluation_files(root)


def _start_training_and_wait_for_checkpoint(root: Path) -> subprocess.Popen:
    """The train command in a process of its own, once it has saved its first epoch's checkpoint."""
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


def _resume_and_evaluate(root: Path, capsys) -> dict[str, bytes]:
    capsys.readouterr()
    assert _digitnet("train", cwd=root) == 0
    assert "resuming from checkpoint checkpoints/train.pt after epoch" in capsys.readouterr().err
    assert _digitnet("evaluate", cwd=root) == 0
    return _evaluation_files(root)


def test_sigterm_saves_a_checkpoint_exits_with_the_preempted_code_and_the_rerun_is_byte_identical(
    reference_outputs, tmp_path, split_project, capsys
):
    root = split_project(tmp_path)
    process = _start_training_and_wait_for_checkpoint(root)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_PREEMPTED, stderr
    assert "checkpoint saved, run again to resume" in stderr
    assert (root / "checkpoints" / "train.pt").is_file()
    assert not (root / "artifacts/model").exists()
    assert _resume_and_evaluate(root, capsys) == reference_outputs


def test_training_killed_mid_run_resumes_to_the_same_model_folder_metrics_and_predictions(
    reference_outputs, tmp_path, split_project, capsys
):
    root = split_project(tmp_path)
    process = _start_training_and_wait_for_checkpoint(root)
    process.kill()
    process.wait()
    assert not (root / "artifacts/model/model.pt").exists()
    assert _resume_and_evaluate(root, capsys) == reference_outputs

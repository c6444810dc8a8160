"""The train/evaluate commands as separate processes: byte-identical metrics, resume after SIGKILL, SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from digitnet.cli import EXIT_PREEMPTED

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


def _project(root: Path, digits) -> Path:
    (root / "data").mkdir(parents=True)
    digits.to_csv(root / "data" / "digits.csv", index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    assert _digitnet("split", cwd=root).returncode == 0
    return root


def _train_and_evaluate(root: Path) -> bytes:
    for command in ("train", "evaluate"):
        result = _digitnet(command, cwd=root)
        assert result.returncode == 0, result.stderr
    return (root / "dvclive/evaluate/metrics.json").read_bytes()


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
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def reference_metrics(tmp_path_factory, digits) -> bytes:
    return _train_and_evaluate(_project(tmp_path_factory.mktemp("reference"), digits))


def test_same_params_and_data_give_byte_identical_metrics(reference_metrics, tmp_path, digits):
    assert _train_and_evaluate(_project(tmp_path, digits)) == reference_metrics


def test_training_killed_mid_run_resumes_to_the_same_metrics(reference_metrics, tmp_path, digits):
    root = _project(tmp_path, digits)
    process = _start_training_and_wait_for_checkpoint(root)
    process.kill()
    process.wait()
    assert not (root / "artifacts/model/model.pt").exists()
    resumed = _digitnet("train", cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint checkpoints/train.pt after epoch" in resumed.stderr
    evaluated = _digitnet("evaluate", cwd=root)
    assert evaluated.returncode == 0, evaluated.stderr
    assert (root / "dvclive/evaluate/metrics.json").read_bytes() == reference_metrics


def test_sigterm_saves_a_checkpoint_and_exits_with_the_preempted_code(tmp_path, digits):
    root = _project(tmp_path, digits)
    process = _start_training_and_wait_for_checkpoint(root)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_PREEMPTED, stderr
    assert "checkpoint saved, run again to resume" in stderr
    assert (root / "checkpoints" / "train.pt").is_file()
    assert not (root / "artifacts/model").exists()

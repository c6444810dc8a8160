"""Two processes under torchrun (gloo on the CPU) train to the same result as one process."""

import contextlib
import json

import pytest

from digitnet.cli import main
from digitnet.config import TrainConfig
from digitnet.distributed import Ranks, ranks_from_env
from digitnet.train import train

# Without dropout, each rank's half of every batch and DDP's gradient average reproduce the single-process
# step up to float rounding in the reduction; the stated tolerance covers that rounding after 4 epochs.
LOSS_TOLERANCE = 1e-3
ACCURACY_TOLERANCE = 0.01
CONFIG = TrainConfig(epochs=4, channels=16, depth=2, dropout=0.0, device="cpu")


def test_ranks_default_to_a_single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert ranks_from_env() == Ranks(rank=0, world_size=1, local_rank=0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ranks = ranks_from_env()
    assert ranks.is_distributed and not ranks.is_main


@pytest.mark.slow
def test_two_gloo_processes_match_a_single_process_run(
    tmp_path, data_split, split_tensors, spec_for, write_project, preprocessor, capfd
):
    params = {"train": {**{k: getattr(CONFIG, k) for k in ("epochs", "channels", "depth", "dropout", "device")}}}
    params["train"]["processes"] = 2
    write_project(tmp_path, params)
    split_dir = tmp_path / "artifacts" / "split"
    split_dir.mkdir(parents=True)
    data_split.train.to_csv(split_dir / "train.csv", index=False)
    data_split.val.to_csv(split_dir / "val.csv", index=False)

    # The train command, run here, relaunches itself under torchrun: the ranks are processes of their own, their
    # log on this process's stderr.
    with contextlib.chdir(tmp_path):
        assert main(["train"]) == 0, capfd.readouterr().err
    assert "training on cpu (fp32), 2 process(es)" in capfd.readouterr().err
    run = json.loads((tmp_path / "artifacts/model/train_run.json").read_text())
    assert run["processes"] == 2
    distributed = json.loads((tmp_path / "dvclive/train/metrics.json").read_text())

    unit = preprocessor.target_std if not preprocessor.classes else 1.0  # a regression's MAE is in its units
    result = train(CONFIG, split_tensors.train, split_tensors.val, spec=spec_for(CONFIG), target_std=unit)
    single = result.history[-1]
    assert distributed["train"]["loss"] == pytest.approx(single.train_loss, abs=LOSS_TOLERANCE)
    assert distributed["val"]["loss"] == pytest.approx(single.val_loss, abs=LOSS_TOLERANCE)
    assert distributed["val"][result.score_name] == pytest.approx(single.val_score, abs=ACCURACY_TOLERANCE * unit)

"""Print the project's speed figures: full and no-op `dvc repro`, training throughput, GX validation time.

Figures, not assertions: run `make benchmark` and compare with README's performance section.
Targets on a 2-core CPU machine: full repro <= 30 s, no-op repro <= 3 s, training >= 0.8x the lower-bound loop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from digitnet.config import load_config
from digitnet.data import load_data_contract, read_raw_csv, split_frame
from digitnet.model import ModelSpec, build_model
from digitnet.preprocess import fit_preprocessor, to_tensors
from digitnet.train import autocast_dtype, select_device, train

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the shared copy helper

from project_copy import copy_project  # noqa: E402


def _timed(function, repeats: int = 1) -> float:
    """Best wall time of `repeats` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def copy_project_with_data(destination: Path) -> None:
    """A fresh copy of the committed project (as a clone would have it) with its data pulled from the bundled remote."""
    copy_project(destination)
    subprocess.run(["dvc", "pull", "-q", "data.dvc"], cwd=destination, check=True)


def repro_times() -> tuple[float, float]:
    """Wall time of a full `dvc repro` from a fresh copy, then of a second, no-op `dvc repro`."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        copy_project_with_data(project)
        for name in ("dvc.lock", "reports", "dvclive"):
            (
                shutil.rmtree(project / name, ignore_errors=True)
                if (project / name).is_dir()
                else (project / name).unlink(missing_ok=True)
            )

        def repro() -> None:
            subprocess.run(["dvc", "repro", "-q"], cwd=project, check=True, env={**os.environ, "CI": "true"})

        return _timed(repro), _timed(repro)


def lower_bound_loop(config, spec, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> None:
    """The least a training run can cost for this model and batch size: tensors pre-loaded on the device,
    no DataLoader, no validation, no bookkeeping; the same mixed precision as `train()` uses there."""
    amp = autocast_dtype(device)
    model = build_model(spec, seed=config.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    images, labels = images.to(device), labels.to(device)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), device=device)
        for start in range(0, len(labels), config.batch_size):
            batch = order[start : start + config.batch_size]
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                loss = torch.nn.functional.cross_entropy(model(images[batch]).float(), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_throughput(width_factor: int = 1, device: str = "cpu", epochs: int | None = None) -> tuple[float, float]:
    """Samples per second of `train()` and of the lower-bound loop, for the params' model times `width_factor`."""
    config = load_config(REPO_ROOT / "params.yaml")
    contract = load_data_contract(REPO_ROOT / "data.schema.yaml")
    split = split_frame(read_raw_csv(REPO_ROOT / contract.path), config.split, contract)
    preprocessor = fit_preprocessor(split.train, contract)
    train_config = replace(
        config.train,
        channels=config.train.channels * width_factor,
        device=device,
        epochs=epochs or config.train.epochs,
    )
    train_set, val_set = (to_tensors(frame, preprocessor, contract.target.name) for frame in (split.train, split.val))
    spec = ModelSpec.for_data(train_config, preprocessor)
    samples = train_config.epochs * len(train_set[1])
    torch_device = select_device(device)
    train(replace(train_config, epochs=1), train_set, val_set, spec=spec)  # warm-up: imports, allocator, kernels
    ours = _timed(lambda: train(train_config, train_set, val_set, spec=spec), repeats=3)
    bound = _timed(lambda: lower_bound_loop(train_config, spec, *train_set, torch_device), repeats=3)
    return samples / ours, samples / bound


def validation_seconds() -> float:
    """Seconds for the GX checkpoint of the suite built from the data contract, on the project's data."""
    from mlci.contract import load_contract
    from mlci.validation import validate_data

    contract = load_contract(REPO_ROOT / "data.schema.yaml")
    data = REPO_ROOT / contract.path
    validate_data(contract, data, gx_root=REPO_ROOT / "gx")  # warm-up: GX import and context
    return _timed(lambda: validate_data(contract, data, gx_root=REPO_ROOT / "gx"), repeats=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-repro", action="store_true", help="skip the dvc repro timings")
    parser.add_argument("--widths", default="1,4,16", help="comma-separated model width factors")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_repro:
        full, noop = repro_times()
        print(f"dvc repro, full:   {full:6.1f} s   (target <= 30 s)")
        print(f"dvc repro, no-op:  {noop:6.1f} s   (target <= 3 s)")
    for factor in (int(value) for value in args.widths.split(",")):
        # Wider models use fewer epochs: the figure is a rate, and x16 costs ~200x the FLOPs of x1.
        ours, bound = training_throughput(factor, epochs=None if factor == 1 else 2)
        print(
            f"training x{factor:<3} width: {ours:9.0f} samples/s, lower-bound loop {bound:9.0f} samples/s, "
            f"ratio {ours / bound:.2f} (target >= 0.8)"
        )
    print(f"validation:        GX checkpoint {validation_seconds():.2f} s")


if __name__ == "__main__":
    main()

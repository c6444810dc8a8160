"""The prepared GPU check (one call, a few minutes): the pipeline on the GPU, and GPU throughput against the CPU
and against the lower-bound loop at three model widths.

Run on a machine with a CUDA GPU: `python benchmarks/gpu_check.py` (from the repository root, after `make install`
with a CUDA build of torch). Exits 2 with a message where there is no GPU. Prints figures; asserts nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_benchmarks import copy_project_with_data, training_throughput  # noqa: E402


def pipeline_on_gpu() -> dict:
    """`dvc repro` of a fresh copy with `train.device: cuda`; returns train_run.json, the run's wall time and the
    test metrics."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        copy_project_with_data(project)
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["train"]["device"] = "cuda"
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        subprocess.run(["dvc", "repro", "-q"], cwd=project, check=True, env={**os.environ, "CI": "true"})
        run = json.loads((project / "artifacts/model/train_run.json").read_text())
        run["wall_seconds"] = json.loads((project / "artifacts/train_run.local.json").read_text())["wall_seconds"]
        metrics = json.loads((project / "dvclive/evaluate/metrics.json").read_text())
        return {**run, "test_accuracy": metrics["accuracy"]}


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a machine with a GPU", file=sys.stderr)
        return 2
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    run = pipeline_on_gpu()
    print(
        f"dvc repro on GPU: device={run['device']} precision={run['precision']} "
        f"train wall={run['wall_seconds']:.1f} s test accuracy={run['test_accuracy']:.4f}"
    )
    for factor in (1, 4, 16):
        epochs = None if factor == 1 else 3
        gpu, gpu_bound = training_throughput(factor, device="cuda", epochs=epochs)
        cpu, _ = training_throughput(factor, device="cpu", epochs=1) if factor < 16 else (float("nan"), None)
        print(
            f"width x{factor:<3} GPU {gpu:10.0f} samples/s | lower-bound loop {gpu_bound:10.0f} "
            f"(ratio {gpu / gpu_bound:.2f}) | CPU {cpu:8.0f} samples/s (GPU/CPU {gpu / cpu:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

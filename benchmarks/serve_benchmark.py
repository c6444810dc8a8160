"""Serving throughput and latency: `mlci serve` over HTTP against a bare `model(x)` loop in one process.

For batch 1 and batch 64 it times, one request after another (one client, keep-alive connection):
  - bare:   the trained network called on a ready tensor (`model(x)` under no_grad): the lower bound;
  - server: POST /predict to `mlci serve` in its own process (JSON in, rows checked against the contract, the
            project's predictor, JSON out), from this process.
Rows/s is rows over wall time; p50/p99 are per call. Figures, not assertions; target on 2 cores: the server at
batch 64 >= 0.5x the bare loop's rows/s. Run after `make repro`: `python benchmarks/serve_benchmark.py`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from digitnet.model import load_model

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL = REPO_ROOT / "artifacts" / "model" / "model.pt"
TEST_SPLIT = REPO_ROOT / "artifacts" / "split" / "test.csv"
BATCHES = (1, 64)
TARGET_RATIO = 0.5
TARGET_BATCH = 64  # the batch the target applies to


def figures(seconds: list[float], rows: int) -> dict:
    """rows/s over the whole run, p50 and p99 latency in milliseconds."""
    array = np.asarray(seconds)
    return {
        "rows_per_s": rows * len(array) / array.sum(),
        "p50_ms": float(np.percentile(array, 50) * 1e3),
        "p99_ms": float(np.percentile(array, 99) * 1e3),
    }


def bare_loop(model: torch.nn.Module, inputs: torch.Tensor, batch: int, calls: int) -> dict:
    x = inputs[:batch].contiguous()
    timings = []
    with torch.no_grad():
        for _ in range(calls // 10):
            model(x)
        for _ in range(calls):
            started = time.perf_counter()
            model(x)
            timings.append(time.perf_counter() - started)
    return figures(timings, batch)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "mlci.cli", "serve", "--port", str(port), "--device", "cpu"]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlci serve did not start: {server.stderr.read() if server.stderr else ''}")
        time.sleep(0.2)


def server_loop(port: int, rows: list[dict], batch: int, calls: int) -> dict:
    body = json.dumps({"rows": rows[:batch]}).encode()
    headers = {"content-type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call() -> None:
        connection.request("POST", "/predict", body=body, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"/predict answered {answer.status}: {payload[:300]!r}")

    for _ in range(calls // 10):
        call()
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    connection.close()
    return figures(timings, batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per case (after calls/10 warm-up)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    for path in (MODEL, TEST_SPLIT):
        if not path.is_file():
            print(f"error: {path} not found: run `make repro` first", file=sys.stderr)
            return 2
    frame = pd.read_csv(TEST_SPLIT)
    saved = load_model(MODEL)
    inputs = saved.preprocessor.inputs(frame)
    rows = json.loads(frame.head(max(BATCHES)).to_json(orient="records"))
    results: dict[str, dict] = {}
    for batch in BATCHES:
        results[f"bare batch {batch}"] = bare_loop(saved.model.eval(), inputs, batch, args.calls)
    port = free_port()
    server = start_server(port)
    try:
        for batch in BATCHES:
            results[f"server batch {batch}"] = server_loop(port, rows, batch, args.calls)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"serving benchmark: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'case':<18}{'rows/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name, result in results.items():
        print(f"{name:<18}{result['rows_per_s']:>12,.0f}{result['p50_ms']:>10.3f}{result['p99_ms']:>10.3f}")
    for batch in BATCHES:
        server, bare = results[f"server batch {batch}"], results[f"bare batch {batch}"]
        ratio = server["rows_per_s"] / bare["rows_per_s"]
        bare_ms, server_ms = (batch * 1e3 / figures["rows_per_s"] for figures in (bare, server))
        overhead_ms = server_ms - bare_ms
        results[f"ratio batch {batch}"] = {"server_over_bare": ratio, "overhead_ms_per_call": overhead_ms}
        if batch != TARGET_BATCH:
            print(f"server / bare at batch {batch}: {ratio:.2f}x; the server adds {overhead_ms:.3f} ms per call")
            continue
        print(
            f"server / bare at batch {batch}: {ratio:.2f}x (target >= {TARGET_RATIO}); the server adds "
            f"{overhead_ms:.3f} ms per call"
        )
        # The ratio reaches the target once the model's own time per call is at least the server's fixed cost.
        print(
            f"at batch {batch} this model takes {bare_ms:.3f} ms per call; the ratio reaches {TARGET_RATIO} for a "
            f"model taking >= {overhead_ms * TARGET_RATIO / (1 - TARGET_RATIO):.3f} ms per {batch} rows"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

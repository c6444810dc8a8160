"""`make serve` in a project, as a user starts it, and a client of it: the template's tests that serve a copy's model.

`served(project, env, log)` starts the server on a free port in its own process group, waits for /health and yields
its base URL; `post` sends JSON (or GETs without a payload); `first_test_row` is a row of the copy's test split with
the prediction reports/predictions.csv holds for it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, payload: dict | None = None) -> tuple[int, dict]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.loads(answer.read())


def first_test_row(project: Path, id_column: str = "id") -> tuple[dict, object]:
    """The first row of the test split as a client sends it (plain JSON values), and its prediction on file."""
    first = pd.read_csv(project / "artifacts/split/test.csv").iloc[[0]]
    row = json.loads(first.to_json(orient="records"))[0]
    predictions = pd.read_csv(project / "reports/predictions.csv").set_index("id")
    return row, predictions.loc[row[id_column], "prediction"]


@contextmanager
def served(project: Path, env: dict, log: Path) -> Iterator[str]:
    """`make serve` on a free port; its base URL once /health answers. Stopped (the whole group) on the way out."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            ["make", "serve", f"PORT={port}"],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                status, health = post(f"{base}/health")
                break
            except OSError:  # not listening yet
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"no answer on /health in {STARTUP_SECONDS} s:\n{log.read_text()}"
                time.sleep(0.5)
        assert status == 200 and health["status"] == "ok", health
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)

"""The release's smoke test: a running server answers the test split exactly as the evaluate stage predicted it, and
refuses a row outside the contract with a 422. A failure stops the release before anything is published."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from mlci.contract import DataContract
from mlci.errors import UserFacingError
from mlci.files import PREDICTION_VALUE, PROBA_PREFIX
from mlci.metrics_tables import read_predictions

TOLERANCE = 1e-6  # probabilities are written rounded to 6 decimals; another batch size may move the last decimal place


class SmokeTestFailed(UserFacingError):
    """The served model does not answer as the evaluated one did."""


def _call(url: str, payload: dict | None = None, timeout: float = 60) -> tuple[int, dict]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_until_healthy(url: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, body = _call(f"{url}/health", timeout=5)
            if status == 200:
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise SmokeTestFailed(f"{url}/health did not answer 200 within {seconds:.0f} s")
        time.sleep(1)


def smoke_test(url: str, contract: DataContract, rows_csv: Path, expected_csv: Path, batch: int = 64) -> int:
    """Post every row of `rows_csv`, compare with `expected_csv` (the evaluate stage's predictions), then a bad row.
    Returns the number of rows checked; raises SmokeTestFailed naming the first difference."""
    wait_until_healthy(url)
    rows = json.loads(pd.read_csv(rows_csv).to_json(orient="records"))
    expected = read_predictions(Path(expected_csv), contract)
    if expected is None:
        raise SmokeTestFailed(f"{expected_csv} not found: run `make repro` (the evaluate stage writes it)")
    served = []
    for start in range(0, len(rows), batch):
        status, body = _call(f"{url}/predict", {"rows": rows[start : start + batch]})
        if status != 200:
            raise SmokeTestFailed(f"/predict answered {status} for rows {start}..{start + batch - 1}: {body}")
        served += body["predictions"]
    answers = pd.DataFrame(served)
    if len(answers) != len(expected):
        raise SmokeTestFailed(f"{len(answers)} answers for {len(expected)} expected predictions")
    kind = str if contract.target.is_classification else float
    served_values = answers[PREDICTION_VALUE].astype(kind).to_numpy()
    expected_values = expected[PREDICTION_VALUE].astype(kind).to_numpy()
    wrong = served_values != expected_values
    if wrong.any():
        first = int(wrong.argmax())
        raise SmokeTestFailed(
            f"{int(wrong.sum())} of {len(expected)} predictions differ from {expected_csv}; first at row {first}: "
            f"served {served_values[first]}, evaluated {expected_values[first]}"
        )
    probabilities = [c for c in expected.columns if c.startswith(PROBA_PREFIX)]
    if probabilities:
        gap = (answers[probabilities].astype(float) - expected[probabilities].astype(float)).abs().to_numpy().max()
        if gap > TOLERANCE:
            raise SmokeTestFailed(f"probabilities differ from {expected_csv} by up to {gap:.2g} (> {TOLERANCE})")
    feature = next((f for f in contract.features if f.numeric and f.max is not None), None)
    if feature is not None:
        status, body = _call(f"{url}/predict", {"rows": [dict(rows[0], **{feature.name: feature.max + 1})]})
        if status != 422 or body.get("detail", [{}])[0].get("column") != feature.name:
            raise SmokeTestFailed(f"a row with {feature.name} above its maximum got {status}, not a 422 naming it")
    return len(expected)

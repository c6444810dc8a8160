"""The model server on a synthetic contract with a fake predictor: every row checked against the contract before the
predictor sees it, bad rows answered 422 naming the row and the column, the batch limit, the seam that finds the
project's predictor (an entry point), the serving bundle, and `mlci serve` on a real port."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_client import free_port

from mlci import serve as serve_module
from mlci.contract import contract_from_dict, dump_contract
from mlci.serve import (
    PREDICTOR_GROUP,
    PREDICTOR_NAME,
    LoadedModel,
    RowsRejected,
    ServeError,
    create_app,
    load_factory,
    load_served_model,
    rows_to_frame,
)
from mlci.serving.bundle import BundleError, collect_metadata, read_bundle, write_bundle

CONTRACT = contract_from_dict(
    {
        "path": "data/animals.csv",
        "id": "row_id",
        "target": {"name": "species", "task": "classification", "classes": ["cat", "dog"]},
        "features": {
            "width": {"type": "float", "min": 0, "max": 10},
            "count": {"type": "int", "min": 0, "max": 5},
            "floors": {"type": "int", "min": 1, "max": 3, "nullable": True},
            "colour": {"type": "category", "values": ["red", "green"]},
            "size": {"type": "category", "values": [1, 2, 3]},
            "note": {"type": "text", "nullable": True},
        },
    }
)
GOOD = {"width": 2.5, "count": 3, "floors": 2, "colour": "red", "size": 2, "note": "tall"}
FAKE_MODULE = '''
import pandas as pd


def load_predictor(model_dir, device):
    """A fake project's predictor: dog when width > 5; records what it saw in model_dir/seen.json."""
    def predict(rows):
        dog = (rows["width"] > 5).astype(float)
        labels = ["dog" if d else "cat" for d in dog]
        return pd.DataFrame({"prediction": labels, "proba_cat": 1 - dog, "proba_dog": dog})

    predict.device = "cpu"
    return predict
'''


class Recorder:
    """A fake predictor that answers `cat` with fixed probabilities and keeps every frame it was given."""

    def __init__(self, rows_out: int | None = None) -> None:
        self.frames: list[pd.DataFrame] = []
        self.rows_out = rows_out

    def __call__(self, rows: pd.DataFrame) -> pd.DataFrame:
        self.frames.append(rows)
        n = len(rows) if self.rows_out is None else self.rows_out
        proba = np.full(n, 0.25, dtype=np.float32)
        return pd.DataFrame({"prediction": ["cat"] * n, "proba_cat": 1 - proba, "proba_dog": proba})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder: Recorder) -> TestClient:
    metadata = {"version": "v1.2.3", "metrics": {"m.json": {"accuracy": 0.9}}, "params_digest": "sha256:abc"}
    return TestClient(create_app(LoadedModel(recorder, CONTRACT, metadata, max_rows=8)))


def rejected(client: TestClient, rows, status: int = 422) -> list[tuple]:
    answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"]
    return [(p["row"], p["column"], p["message"]) for p in body["detail"]]


# ------------------------------------------------------------------------------------------------------- endpoints
def test_health_and_metadata_answer_once_the_model_is_loaded(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "model_version": "v1.2.3"}
    metadata = client.get("/metadata").json()
    assert metadata["version"] == "v1.2.3"
    assert metadata["metrics"] == {"m.json": {"accuracy": 0.9}}
    assert metadata["params_digest"] == "sha256:abc"
    assert metadata["max_rows"] == 8
    assert metadata["features"] == ["width", "count", "floors", "colour", "size", "note"]


def test_predict_answers_one_prediction_per_row_with_the_id_echoed(client: TestClient, recorder: Recorder) -> None:
    rows = [{**GOOD, "row_id": 7, "species": "dog"}, {**GOOD, "row_id": 9}]
    answer = client.post("/predict", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "model_version": "v1.2.3",
        "predictions": [
            {"row_id": 7, "prediction": "cat", "proba_cat": 0.75, "proba_dog": 0.25},
            {"row_id": 9, "prediction": "cat", "proba_cat": 0.75, "proba_dog": 0.25},
        ],
    }
    (seen,) = recorder.frames
    assert list(seen.columns) == CONTRACT.feature_names  # the target never reaches the predictor
    assert seen["count"].dtype == np.int64 and seen["width"].dtype == np.float64


def test_float32_probabilities_come_back_as_written_not_widened(client: TestClient, recorder: Recorder) -> None:
    recorder.rows_out = None
    body = client.post("/predict", json={"rows": [GOOD]}).text
    assert '"proba_dog":0.25' in body.replace(" ", "")


def test_optional_features_may_be_null_or_left_out(client: TestClient, recorder: Recorder) -> None:
    rows = [{**GOOD, "floors": None, "note": None}, {k: v for k, v in GOOD.items() if k not in ("floors", "note")}]
    assert client.post("/predict", json={"rows": rows}).status_code == 200
    seen = recorder.frames[0]
    assert seen["floors"].isna().all() and seen["note"].isna().all()


def test_a_whole_number_written_as_a_float_is_an_integer(client: TestClient, recorder: Recorder) -> None:
    assert client.post("/predict", json={"rows": [{**GOOD, "count": 3.0}]}).status_code == 200
    assert recorder.frames[0]["count"].tolist() == [3]


# ------------------------------------------------------------------------------------------------------- bad rows
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("width", 10.5, "10.5 is above the contract's maximum 10"),
        ("width", -1, "-1 is below the contract's minimum 0"),
        ("width", "wide", 'expected a number (float), got "wide"'),
        ("count", 2.5, "expected an integer, got 2.5"),
        ("count", True, "expected a number (int), got true"),
        ("count", None, "null, but the contract does not allow nulls here"),
        ("colour", "blue", 'is not one of the allowed values ("red", "green")'),
        ("size", "2", '"2" is not one of the allowed values (1, 2, 3)'),
        ("note", 5, "expected text, got 5"),
    ],
)
def test_a_bad_value_is_422_naming_its_row_and_column(client, recorder, column, value, message) -> None:
    problems = rejected(client, [GOOD, GOOD, {**GOOD, column: value}])
    assert [(row, col) for row, col, _ in problems] == [(2, column)]
    assert message in problems[0][2]
    assert recorder.frames == []  # the predictor never sees a bad batch


def test_every_bad_cell_is_listed_in_row_order(client: TestClient) -> None:
    rows = [{**GOOD, "size": 9}, GOOD, {**GOOD, "width": 11, "colour": "pink"}]
    assert [(row, col) for row, col, _ in rejected(client, rows)] == [(0, "size"), (2, "width"), (2, "colour")]


def test_a_missing_required_feature_and_an_unknown_column_are_named(client: TestClient) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "count"}
    assert rejected(client, [GOOD, missing]) == [(1, "count", "missing (the contract requires this feature)")]
    assert rejected(client, [{**GOOD, "flors": 2}]) == [(0, "flors", "not a column of the data contract")]


def test_the_answer_lists_at_most_twenty_problems_and_counts_the_rest() -> None:
    model = LoadedModel(Recorder(), CONTRACT, {}, max_rows=100)
    with pytest.raises(RowsRejected) as caught:
        model.answer([{**GOOD, "width": 99}] * 30)
    body = caught.value.to_dict()
    assert len(body["detail"]) == 20 and body["more"] == 10
    assert body["error"] == "row 0, column width: 99 is above the contract's maximum 10 (and 29 more)"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"rows": []}, "no rows to predict"),
        ({"rows": {"width": 1}}, 'expected {"rows": [{column: value, ...}, ...]}'),
        ({"data": [GOOD]}, 'expected {"rows": [{column: value, ...}, ...]}'),
        ({"rows": [GOOD, [1, 2]]}, "expected an object of column: value, got [1, 2]"),
    ],
)
def test_a_malformed_request_is_422(client: TestClient, payload, message) -> None:
    answer = client.post("/predict", json=payload)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["message"] == message


def test_a_body_that_is_not_json_or_holds_nan_is_422(client: TestClient) -> None:
    for body in (b"{not json", b'{"rows": [{"width": NaN}]}'):
        answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 422
        assert answer.json()["error"].startswith("request body is not valid JSON")


def test_a_batch_over_the_limit_is_413_and_at_the_limit_is_answered(client: TestClient) -> None:
    assert client.post("/predict", json={"rows": [GOOD] * 8}).status_code == 200
    answer = client.post("/predict", json={"rows": [GOOD] * 9})
    assert answer.status_code == 413
    assert "9 rows is more than this server's limit of 8" in answer.json()["error"]


def test_a_predictor_that_loses_rows_is_a_500_not_a_wrong_answer() -> None:
    app = create_app(LoadedModel(Recorder(rows_out=1), CONTRACT, {}))
    answer = TestClient(app).post("/predict", json={"rows": [GOOD, GOOD]})
    assert answer.status_code == 500
    assert "returned 1 rows for 2" in answer.json()["error"]


def test_rows_to_frame_keeps_the_features_in_contract_order_and_the_id() -> None:
    frame = rows_to_frame(CONTRACT, [{"row_id": "a", **dict(reversed(list(GOOD.items())))}])
    assert list(frame.columns) == ["row_id", *CONTRACT.feature_names]


# ------------------------------------------------------------------------------------------------------- the seam
def test_the_predictor_is_found_through_the_mlci_entry_point(monkeypatch, tmp_path: Path) -> None:
    from importlib.metadata import EntryPoint

    (tmp_path / "fake_project_serving.py").write_text(FAKE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint(PREDICTOR_NAME, "fake_project_serving:load_predictor", PREDICTOR_GROUP)
    monkeypatch.setattr(serve_module.metadata, "entry_points", lambda group: [point] if group == "mlci" else [])
    factory = load_factory()
    assert factory.__module__ == "fake_project_serving"


def test_without_a_registered_predictor_the_error_says_what_to_add(monkeypatch) -> None:
    monkeypatch.setattr(serve_module.metadata, "entry_points", lambda group: [])
    with pytest.raises(ServeError, match=r'\[project.entry-points."mlci"\] predictor = '):
        load_factory()


def test_a_predictor_named_on_the_command_line_must_be_module_colon_function() -> None:
    with pytest.raises(ServeError, match="expected module:function"):
        load_factory("no_colon_here")
    with pytest.raises(ServeError, match="cannot be loaded"):
        load_factory("no_such_module_anywhere:load")


def test_load_served_model_reports_the_predictors_device_and_refuses_a_missing_model(tmp_path, monkeypatch) -> None:
    (tmp_path / "fake_project_serving.py").write_text(FAKE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    dump_contract(CONTRACT, tmp_path / "schema.yaml")
    spec = "fake_project_serving:load_predictor"
    with pytest.raises(ServeError) as missing:
        load_served_model(tmp_path / "absent", tmp_path / "schema.yaml", predictor=spec)
    assert str(missing.value) == f"{tmp_path / 'absent'} not found: run `make repro` to build the model"
    model = load_served_model(tmp_path, tmp_path / "schema.yaml", {"version": "v0.1.0"}, "auto", spec)
    assert model.metadata == {"version": "v0.1.0", "device": "cpu"}
    answer = model.answer([{**GOOD, "width": 7.0}, GOOD])["predictions"]
    assert answer["prediction"].tolist() == ["dog", "cat"]


# ------------------------------------------------------------------------------------------------------- the bundle
def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A tagged repository with a contract, params, one metrics file in dvc.yaml, data.dvc and a model folder."""
    root = tmp_path / "repo"
    (root / "out" / "model").mkdir(parents=True)
    from mlci.files import CONTRACT as contract_path

    dump_contract(CONTRACT, root / contract_path)
    (root / "params.yaml").write_text("# comment\ntrain: {lr: 0.1, epochs: 3}\n", encoding="utf-8")
    (root / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: echo\n    metrics:\n      - scores.json:\n          cache: false\n",
        encoding="utf-8",
    )
    (root / "scores.json").write_text('{"accuracy": 0.8, "per_class": {"cat": {"f1": 0.7}}}', encoding="utf-8")
    (root / "data.dvc").write_text("outs:\n- md5: abc123.dir\n  path: data\n", encoding="utf-8")
    (root / "out" / "model" / "weights.bin").write_bytes(b"\x00\x01")
    git(root, "init", "--quiet")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "init")
    git(root, "tag", "v2.0.0")
    return root


def test_metadata_names_version_commit_data_params_and_metrics(workspace: Path) -> None:
    metadata = collect_metadata(workspace, workspace / "out" / "model")
    assert metadata["version"] == "v2.0.0"
    assert len(metadata["commit"]) == 40
    assert metadata["data"]["dvc"] == {"data": "abc123.dir"}
    assert metadata["metrics"] == {"scores.json": {"accuracy": 0.8}}
    assert metadata["model_files"] == {"weights.bin": hashlib.sha256(b"\x00\x01").hexdigest()}
    # the digest is of the values: a comment or key order does not change it, a value does
    digest = metadata["params_digest"]
    (workspace / "params.yaml").write_text("train: {epochs: 3, lr: 0.1}\n", encoding="utf-8")
    assert collect_metadata(workspace, workspace / "out" / "model")["params_digest"] == digest
    (workspace / "params.yaml").write_text("train: {epochs: 4, lr: 0.1}\n", encoding="utf-8")
    assert collect_metadata(workspace, workspace / "out" / "model")["params_digest"] != digest


def test_a_bundle_round_trips_and_a_missing_model_says_what_to_run(workspace: Path, tmp_path: Path) -> None:
    out = write_bundle(workspace, tmp_path / "bundle", workspace / "out" / "model", version="v2.0.1")
    model_dir, contract, metadata = read_bundle(out)
    assert (model_dir / "weights.bin").read_bytes() == b"\x00\x01"
    assert contract.read_text(encoding="utf-8").startswith("path: data/animals.csv")
    assert metadata["version"] == "v2.0.1"
    with pytest.raises(BundleError) as missing:
        write_bundle(workspace, tmp_path / "other", workspace / "absent")
    assert str(missing.value) == f"{workspace / 'absent'} not found: run `make repro` to build the model"
    with pytest.raises(BundleError, match="is not a serving bundle"):
        read_bundle(tmp_path)


# ------------------------------------------------------------------------------------------------------- model card
def write_predictions(root: Path, rows: int = 40) -> None:
    from mlci.files import PREDICTIONS

    target = ["cat", "dog"] * (rows // 2)
    prediction = [t if i % 10 else ("dog" if t == "cat" else "cat") for i, t in enumerate(target)]  # 90% right
    path = root / PREDICTIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": range(rows), "target": target, "prediction": prediction}).to_csv(path, index=False)


def test_the_model_card_shows_version_data_params_intervals_and_slices(workspace: Path) -> None:
    from mlci.model_card import write_model_card

    write_predictions(workspace)
    (workspace / "scores.json").write_text(
        '{"accuracy": 0.9, "slices": {"wide": {"accuracy": 0.8, "support": 12}}}', encoding="utf-8"
    )
    template = Path(__file__).resolve().parents[2] / "templates" / "model_card.md.j2"
    bundle = write_bundle(workspace, workspace / "bundle", workspace / "out" / "model", version="v2.0.0")
    card = write_model_card(workspace, workspace / "card.md", template, bundle).read_text(encoding="utf-8")
    assert card.split("---\n", 2)[2].startswith("# Model card: species (classification), v2.0.0")  # after model-index
    assert "`data`: `abc123.dir`" in card and "sha256:" in card
    assert "| accuracy | 0.9000 | " in card  # estimate, then its bootstrap interval
    low, high = (float(x) for x in card.split("| accuracy | 0.9000 | ")[1].split(" |")[0].split(" – "))
    assert low < 0.9 < high
    assert "| wide | 0.8 | 12 |" in card
    assert "lr: 0.1" in card


def test_a_template_that_names_an_unknown_value_fails_with_its_path(workspace: Path) -> None:
    from mlci.model_card import ModelCardError, write_model_card

    template = workspace / "card.j2"
    template.write_text("{{ no_such_value }}", encoding="utf-8")
    bundle = write_bundle(workspace, workspace / "bundle", workspace / "out" / "model")
    with pytest.raises(ModelCardError, match=r"card.j2: 'no_such_value' is undefined"):
        write_model_card(workspace, workspace / "card.md", template, bundle)
    with pytest.raises(ModelCardError, match="not found"):
        write_model_card(workspace, workspace / "card.md", workspace / "absent.j2", bundle)


# ------------------------------------------------------------------------------------------------------- on a port
def http(url: str, payload: dict | None = None) -> tuple[int, dict]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_mlci_serve_answers_on_a_real_port_from_a_bundle(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "fake_project_serving.py").write_text(FAKE_MODULE, encoding="utf-8")
    bundle = write_bundle(workspace, tmp_path / "bundle", workspace / "out" / "model")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "mlci.cli", "serve", "--bundle", str(bundle), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--predictor", "fake_project_serving:load_predictor", "--allow-unsigned"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, health = http(f"{base}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.2)
        assert (status, health) == (200, {"status": "ok", "model_version": "v2.0.0"})
        assert http(f"{base}/metadata")[1]["device"] == "cpu"
        status, body = http(f"{base}/predict", {"rows": [{**GOOD, "width": 9}, GOOD]})
        assert status == 200 and [p["prediction"] for p in body["predictions"]] == ["dog", "cat"]
        status, body = http(f"{base}/predict", {"rows": [GOOD, {**GOOD, "colour": "blue"}]})
        assert status == 422 and body["detail"][0]["row"] == 1 and body["detail"][0]["column"] == "colour"

        from mlci.serving.smoke import SmokeTestFailed, smoke_test

        rows = pd.DataFrame([{"row_id": i, **GOOD, "width": float(i)} for i in range(10)])
        rows.to_csv(tmp_path / "rows.csv", index=False)
        expected = pd.DataFrame({"id": rows["row_id"], "target": "cat", "prediction": ["cat"] * 6 + ["dog"] * 4})
        expected.to_csv(tmp_path / "expected.csv", index=False)
        assert smoke_test(base, CONTRACT, tmp_path / "rows.csv", tmp_path / "expected.csv", batch=3) == 10
        expected.loc[7, "prediction"] = "cat"
        expected.to_csv(tmp_path / "expected.csv", index=False)
        with pytest.raises(SmokeTestFailed, match="1 of 10 predictions differ .* first at row 7: served dog"):
            smoke_test(base, CONTRACT, tmp_path / "rows.csv", tmp_path / "expected.csv")
    finally:
        server.terminate()
        server.wait(timeout=30)


NUMERIC = contract_from_dict(
    {
        "path": "data/grid.csv",
        "target": {"name": "y", "task": "regression"},
        "features": {f"x{i}": {"type": "int", "min": 0, "max": 9} for i in range(4)},
    }
)


def test_an_all_numeric_contract_takes_one_block_and_still_names_a_bad_cell() -> None:
    rows = [{f"x{i}": (i + r) % 10 for i in range(4)} for r in range(5)]
    frame = rows_to_frame(NUMERIC, rows)
    assert frame.dtypes.tolist() == [np.int64] * 4 and frame.to_numpy().tolist()[1] == [1, 2, 3, 4]
    for value, message in ((10, "10 is above the contract's maximum 9"), (True, "expected a number (int), got true")):
        with pytest.raises(RowsRejected) as caught:
            rows_to_frame(NUMERIC, [*rows[:3], {**rows[3], "x2": value}])
        assert [(p.row, p.column, p.message) for p in caught.value.problems] == [(3, "x2", message)]


def test_a_contract_with_display_names_adds_each_predictions_name() -> None:
    named = replace(CONTRACT, target=replace(CONTRACT.target, names=(("cat", "Felis catus"),)))
    client = TestClient(create_app(LoadedModel(Recorder(), named, {"version": "v1"}, max_rows=8)))
    answer = client.post("/predict", json={"rows": [{**GOOD, "row_id": 7}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [
        {"row_id": 7, "prediction": "cat", "prediction_name": "Felis catus", "proba_cat": 0.75, "proba_dog": 0.25}
    ]

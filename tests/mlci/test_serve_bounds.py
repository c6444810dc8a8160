"""The model server against hostile requests: what a client sends is bounded (a 413 before the body is parsed, a 415
for a type other than JSON, a 422 that quotes at most a few dozen characters of a value) and never answered with a
500 — numbers no 64-bit type holds, JSON nested past Python's recursion limit, bytes that are not UTF-8 — and a
bounded fuzz run against a real server on 127.0.0.1 that asserts no 5xx."""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlci.contract import contract_from_dict
from mlci.serve import LoadedModel, create_app

CONTRACT = contract_from_dict(
    {
        "path": "data/parts.csv",
        "id": "part_id",
        "target": {"name": "kind", "task": "classification", "classes": ["bolt", "nut"]},
        "features": {
            "length": {"type": "float", "min": 0, "max": 100},
            "count": {"type": "int", "min": 0, "max": 50},
            "weight": {"type": "float", "nullable": True},
            "serial": {"type": "int"},
            "finish": {"type": "category", "values": ["zinc", "black"]},
            "note": {"type": "text", "nullable": True},
        },
    }
)
GOOD = {"length": 12.5, "count": 3, "weight": 1.25, "serial": 7, "finish": "zinc", "note": "m8"}
# All-numeric (as the reference project's pixels): the server checks these rows in one vectorised block.
NUMERIC = contract_from_dict(
    {
        "path": "data/grid.csv",
        "id": "cell",
        "target": {"name": "digit", "task": "classification", "classes": [0, 1]},
        "features": {f"p{i}": {"type": "int", "min": 0, "max": 16} for i in range(8)},
    }
)
NUMERIC_GOOD = {f"p{i}": i for i in range(8)}
CONTRACTS = {"mixed": (CONTRACT, GOOD), "numeric": (NUMERIC, NUMERIC_GOOD)}
LIMIT = 64 * 1024  # the body limit these servers run with


def predict(rows: pd.DataFrame) -> pd.DataFrame:
    """A fake predictor: bolt, with fixed probabilities."""
    proba = np.full(len(rows), 0.75)
    return pd.DataFrame({"prediction": ["bolt"] * len(rows), "proba_bolt": proba, "proba_nut": 1 - proba})


def make_app(contract=CONTRACT):
    return create_app(LoadedModel(predict, contract, {"version": "v0.0.1"}, max_rows=64, max_body_bytes=LIMIT))


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


def post(client: TestClient, body: bytes | Iterator[bytes], content_type: str | None = "application/json"):
    headers = {"content-type": content_type} if content_type else {}
    return client.post("/predict", content=body, headers=headers)


def problems(answer) -> list[tuple]:
    return [(p["row"], p["column"], p["message"]) for p in answer.json()["detail"]]


def rows_text(value_text: str, column: str = "serial") -> bytes:
    """A one-row request whose `column` is the JSON text `value_text`, written as is (not through json.dumps)."""
    row = json.dumps({**GOOD, column: 0})
    return ('{"rows": [' + row.replace(f'"{column}": 0', f'"{column}": {value_text}') + "]}").encode()


# ------------------------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("column", "text", "message"),
    [
        ("serial", "1" + "0" * 309, "1" + "0" * 59 + "… (310 characters) is outside the 64-bit integer range"),
        ("length", "-1" + "0" * 309, "-1" + "0" * 58 + "… (311 characters) is too large for a 64-bit float"),
        ("weight", "1" + "0" * 309, "1" + "0" * 59 + "… (310 characters) is too large for a 64-bit float"),
        ("serial", str(2**63), f"{2**63} is outside the 64-bit integer range"),
        ("serial", "1e300", "1e+300 is outside the 64-bit integer range"),
        ("serial", "1e400", "expected a number (int), got Infinity"),
    ],
)
def test_a_number_no_64_bit_type_holds_is_422_not_500(client, column, text, message) -> None:
    answer = post(client, rows_text(text, column))
    assert answer.status_code == 422, answer.text
    assert problems(answer) == [(0, column, message)]


def test_the_int64_edges_are_answered(client) -> None:
    answer = client.post("/predict", json={"rows": [{**GOOD, "serial": 2**63 - 1}, {**GOOD, "serial": -(2**63)}]})
    assert answer.status_code == 200, answer.text


def test_an_id_that_is_not_text_or_a_64_bit_number_is_422(client) -> None:
    answer = client.post("/predict", json={"rows": [{**GOOD, "part_id": {"a": 1}}, {**GOOD, "part_id": 10**30}]})
    assert answer.status_code == 422
    assert problems(answer) == [
        (0, "part_id", 'expected an id (text or a 64-bit number), got {"a": 1}'),
        (1, "part_id", f"expected an id (text or a 64-bit number), got {10**30}"),
    ]


# ------------------------------------------------------------------------------------------------------- nesting
@pytest.mark.parametrize("body", [b"[" * 1_000 + b"]" * 1_000, b'{"rows": ' + b'{"a": ' * 10_000, b"[" * (LIMIT - 1)])
def test_json_nested_past_the_recursion_limit_is_422(client, body: bytes) -> None:
    answer = post(client, body)
    assert answer.status_code == 422
    assert answer.json() == {"error": "request body is not valid JSON: it is nested too deeply", "detail": []}


def test_a_value_nested_just_under_the_limit_is_quoted_without_recursing(client) -> None:
    nested = "[" * 900 + "]" * 900
    answer = post(client, rows_text(nested, "finish"))
    assert answer.status_code == 422, answer.text
    ((row, column, message),) = problems(answer)
    assert (row, column) == (0, "finish")
    assert len(message) < 200


def test_a_body_that_is_not_utf8_is_422_naming_the_byte(client) -> None:
    answer = post(client, b'{"rows": [{"note": "\xff"}]}')
    assert answer.status_code == 422
    assert answer.json()["error"] == "request body is not valid JSON: it is not UTF-8 (invalid start byte at byte 20)"


# ------------------------------------------------------------------------------------------------------- echo
def test_a_long_value_is_quoted_cut_to_sixty_characters(client) -> None:
    answer = client.post("/predict", json={"rows": [{**GOOD, "count": "9" * 50_000}]})
    assert answer.status_code == 422
    expected = '"' + "9" * 60 + '…" (50,000 characters)'
    assert problems(answer) == [(0, "count", f"expected a number (int), got {expected}")]
    assert answer.json()["error"] == f"row 0, column count: expected a number (int), got {expected}"
    assert len(answer.content) < 400


def test_a_long_unknown_column_name_is_cut_too(client) -> None:
    answer = client.post("/predict", json={"rows": [{**GOOD, "x" * 10_000: 1}]})
    assert answer.status_code == 422
    assert problems(answer) == [(0, "x" * 60 + "… (10,000 characters)", "not a column of the data contract")]


def test_a_long_row_that_is_not_an_object_is_cut(client) -> None:
    answer = client.post("/predict", json={"rows": [list(range(5_000))]})
    assert problems(answer) == [
        (0, None, f"expected an object of column: value, got {json.dumps(list(range(18)))[:60]}… (28,890 characters)")
    ]


# ------------------------------------------------------------------------------------------------------- size, type
TOO_LARGE = f"request body is over this server's limit of {LIMIT:,} bytes (--max-body-bytes): send fewer rows"


def test_a_body_over_the_limit_is_413_naming_it(client) -> None:
    answer = post(client, b" " * (LIMIT + 1))
    assert answer.status_code == 413
    assert answer.json() == {"error": TOO_LARGE, "detail": []}
    assert answer.headers["connection"] == "close"
    assert post(client, b" " * (LIMIT - 200) + json.dumps({"rows": [GOOD]}).encode()).status_code == 200


def test_a_streamed_body_without_a_length_is_counted_as_it_comes(client) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(1_000):
            sent.append(1)
            yield b" " * 1024

    answer = post(client, chunks())
    assert answer.status_code == 413
    assert answer.json()["error"] == TOO_LARGE


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (None, "expected Content-Type: application/json, got no Content-Type"),
        ("text/plain", "expected Content-Type: application/json, got Content-Type text/plain"),
        (
            "application/x-www-form-urlencoded",
            "expected Content-Type: application/json, got Content-Type application/x-www-form-urlencoded",
        ),
    ],
)
def test_a_body_that_is_not_declared_json_is_415(client, content_type, message) -> None:
    answer = post(client, json.dumps({"rows": [GOOD]}).encode(), content_type)
    assert answer.status_code == 415
    assert answer.json() == {"error": message, "detail": []}
    assert answer.headers["connection"] == "close"


def test_json_with_a_charset_is_accepted(client) -> None:
    answer = post(client, json.dumps({"rows": [GOOD]}).encode(), "Application/JSON; charset=utf-8")
    assert answer.status_code == 200, answer.text


def test_no_page_loads_assets_from_a_cdn(client) -> None:
    assert client.get("/docs").status_code == 404
    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "/predict" in schema.json()["paths"]
    assert "cdn" not in schema.text.lower() and "http" not in schema.text.lower()


# ------------------------------------------------------------------------------------------------------- a real port
@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[str, int]]]:
    """The app of each contract under uvicorn in a thread, on 127.0.0.1 and a free port: name -> address."""
    import uvicorn

    started = []
    for name, (contract, _) in CONTRACTS.items():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        config = uvicorn.Config(make_app(contract), log_level="warning", access_log=False, lifespan="off")
        running = uvicorn.Server(config)
        thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        started.append((name, listener, running, thread))
    deadline = time.monotonic() + 30
    for _, _, running, thread in started:
        while not running.started:
            assert thread.is_alive() and time.monotonic() < deadline, "a server did not start within 30 s"
            time.sleep(0.05)
    yield {name: listener.getsockname() for name, listener, _, _ in started}
    for _, listener, running, thread in started:
        running.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture
def server(servers) -> tuple[str, int]:
    return servers["mixed"]


def raw_exchange(address: tuple[str, int], head: bytes, body: bytes = b"") -> bytes:
    """Send a request's head (and the start of its body) on a socket; the server's answer, read until it closes."""
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server) -> None:
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    started = time.monotonic()
    answer = raw_exchange(server, head, b'{"rows": [')
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": TOO_LARGE, "detail": []}
    assert time.monotonic() - started < 5  # answered at once: the server never waited for the 100 MB


def test_a_chunked_body_over_the_limit_is_refused_as_it_streams(server) -> None:
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
    answer = raw_exchange(server, head, chunk * 5)
    assert answer.startswith(b"HTTP/1.1 413 ")


def hostile_value(rng: random.Random) -> str:
    """The JSON text of a value a hostile or careless client might send for one cell."""
    choices = [
        lambda: "1" + "0" * rng.randint(300, 4000),
        lambda: "-" + "9" * rng.randint(19, 400),
        lambda: str(rng.choice([2**63, 2**63 - 1, -(2**63) - 1, 2**64])),
        lambda: rng.choice(["1e308", "1e309", "-1e400", "5e-324", "-0.0", "0.5", "1.0", "3.0"]),
        lambda: rng.choice(["true", "false", "null", '""', "[]", "{}", '"NaN"', '"\\u0000"', '"\\ud800"']),
        lambda: json.dumps("é" * rng.randint(1, 5000)),
        lambda: "[" * (d := rng.randint(1, 3000)) + "]" * d,
        lambda: '{"a":' * (d := rng.randint(1, 1500)) + "1" + "}" * d,
        lambda: json.dumps([rng.random() for _ in range(rng.randint(0, 200))]),
        lambda: str(rng.randint(-(10**6), 10**6)),
        lambda: json.dumps(rng.choice(["zinc", "black", "ZINC", "red", 1, 2.5])),
    ]
    return rng.choice(choices)()


def hostile_body(rng: random.Random, contract, good: dict) -> tuple[bytes, str | None]:
    """One request body and its Content-Type: mostly rows with hostile cells, some broken or oversized bodies."""
    kind = rng.random()
    if kind < 0.6:
        rows = []
        for _ in range(rng.randint(1, 4)):
            row = {**good}
            for _ in range(rng.randint(0, 3)):
                row[rng.choice([*good, contract.id, contract.target.name, "extra" * rng.randint(1, 30)])] = 0
            text = json.dumps(row)
            for key in row:
                if rng.random() < 1.5 / len(row):  # about one or two hostile cells a row, sometimes none
                    text = text.replace(f'"{key}": {json.dumps(row[key])}', f'"{key}": {hostile_value(rng)}', 1)
            rows.append(text)
        return ('{"rows": [' + ", ".join(rows) + "]}").encode(), "application/json"
    if kind < 0.7:
        return ('{"rows": ' + hostile_value(rng) + "}").encode(), "application/json"
    if kind < 0.8:
        valid = json.dumps({"rows": [good] * rng.randint(1, 80)}).encode()
        return valid[: rng.randint(0, len(valid))], rng.choice(["application/json", "application/json; charset=utf-8"])
    if kind < 0.88:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 2000))), "application/json"
    if kind < 0.94:
        return b" " * rng.randint(LIMIT - 100, LIMIT + 100) + b'{"rows": []}', "application/json"
    return json.dumps({"rows": [good]}).encode(), rng.choice([None, "text/plain", "application/xml", "json", ""])


@pytest.mark.parametrize("name", list(CONTRACTS))
def test_fuzzed_requests_to_a_real_server_never_get_a_5xx(servers, name: str) -> None:
    """400 hostile requests (at most 90 s) on 127.0.0.1: never a 5xx, and a 4xx answer stays under 16 KB."""
    contract, good = CONTRACTS[name]
    server = servers[name]
    rng = random.Random(24)
    deadline = time.monotonic() + 90
    statuses: dict[int, int] = {}
    for case in range(400):
        if time.monotonic() > deadline:
            break
        body, content_type = hostile_body(rng, contract, good)
        connection = http.client.HTTPConnection(*server, timeout=30)
        try:
            headers = {"content-type": content_type} if content_type is not None else {}
            connection.request("POST", "/predict", body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
        finally:
            connection.close()
        assert answer.status < 500, f"case {case}: {answer.status} for {body[:200]!r}: {content[:500]!r}"
        if answer.status != 200:
            assert len(content) < 16_384, f"case {case}: a {len(content)}-byte {answer.status} answer"
            assert json.loads(content)["error"]
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    assert sum(statuses.values()) >= 100, f"only {sum(statuses.values())} requests within the time bound"
    assert {200, 413, 415, 422} <= set(statuses), statuses

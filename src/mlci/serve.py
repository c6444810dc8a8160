"""`mlci serve`: the project's model behind HTTP (FastAPI on uvicorn), rows checked against the data contract first.

The server knows no project. It loads the project's predictor through one seam, the `mlci.predictor` entry point a
project declares in its pyproject.toml:

    [project.entry-points."mlci"]
    predictor = "yourpackage.serving:load_predictor"

`load_predictor(model_dir, device)` is called once at start-up and returns a callable from a frame of rows (the
contract's feature columns) to a frame with one row per input row (`prediction`, and `proba_<class>` for a
classifier). Before any row reaches it, every row is checked against the contract (types, ranges, allowed values,
nulls); a bad row is a 422 that names the row and the column.

    GET  /health     {"status": "ok"} once the model is loaded
    GET  /metadata   model version, commit, data version, metrics, params digest (see mlci.serving.bundle), and
                     `verification`: whether the bundle's signature was verified and by whom (mlci.serving.verify)
    POST /predict    {"rows": [{feature: value, ...}, ...]} -> {"model_version": ..., "predictions": [...]}

What a client sends is bounded and never answered with a 500: a body over `max_body_bytes` is a 413 before any of it
is parsed (Content-Length, then the bytes as they stream in), a type other than JSON a 415, JSON too deeply nested
or a number no 64-bit type holds a 422; a 422 quotes at most QUOTE_CHARS of an offending value. There is no Swagger
UI (FastAPI's loads from a CDN): the schema is at /openapi.json.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mlci.contract import DataContract, Feature
from mlci.errors import UserFacingError

logger = logging.getLogger("mlci.serve")

PREDICTOR_GROUP = "mlci"  # the entry-point group and name a project registers its predictor under
PREDICTOR_NAME = "predictor"
DEFAULT_MAX_ROWS = 1024  # rows per request; a bigger batch is a 413 (split it: latency stays predictable)
MAX_PROBLEMS = 20  # problems listed in one 422 answer (the rest are counted)
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body over this is a 413 (1024 rows of 64 numbers: about 1 MB)
QUOTE_CHARS = 60  # an offending value is quoted up to this many characters in a 422
JSON_TYPES = ("application/json",)  # the request Content-Types /predict accepts (parameters such as charset aside)
INT64 = (-(2**63), 2**63 - 1)  # an int feature's values reach the project as int64
FLOAT_MAX = sys.float_info.max
DEFAULT_PORT = 8000

Predictor = Callable[[pd.DataFrame], pd.DataFrame]
PredictorFactory = Callable[[Path, str], Predictor]


class ServeError(UserFacingError):
    """The server cannot start: no predictor registered, no model, or a predictor that misbehaves."""


# ------------------------------------------------------------------------------------------------------- the seam
def load_factory(spec: str | None = None) -> PredictorFactory:
    """The project's `load_predictor`: `spec` ("module:function") when given, else the `mlci.predictor` entry point."""
    if spec:
        module, _, name = spec.partition(":")
        if not module or not name:
            raise ServeError(f"predictor {spec!r}: expected module:function, e.g. yourpackage.serving:load_predictor")
        try:
            return getattr(import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise ServeError(f"predictor {spec!r} cannot be loaded: {error}") from error
    found = [e for e in metadata.entry_points(group=PREDICTOR_GROUP) if e.name == PREDICTOR_NAME]
    if not found:
        raise ServeError(
            f'no predictor registered: add `[project.entry-points."{PREDICTOR_GROUP}"] {PREDICTOR_NAME} = '
            '"yourpackage.serving:load_predictor"` to pyproject.toml and reinstall (`make install`)'
        )
    if len({e.value for e in found}) > 1:
        raise ServeError(f"several predictors registered: {', '.join(sorted(e.value for e in found))}; keep one")
    try:
        return found[0].load()
    except (ImportError, AttributeError) as error:
        raise ServeError(f"the registered predictor {found[0].value!r} cannot be loaded: {error}") from error


# ------------------------------------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class RowProblem:
    """Why one value of one row (or the request itself, row None) breaks the contract."""

    row: int | None
    column: str | None
    message: str

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "request"
        return f"{where}, column {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


class RowsRejected(Exception):
    """The request's rows break the contract: every problem found (up to MAX_PROBLEMS), first one in the message."""

    def __init__(self, problems: Sequence[RowProblem], total: int | None = None, status: int = 422) -> None:
        self.problems = list(problems)
        self.total = total if total is not None else len(self.problems)
        self.status = status
        super().__init__(str(self.problems[0]) if self.problems else "rows rejected")

    def to_dict(self) -> dict:
        more = self.total - len(self.problems)
        return {
            "error": str(self) + (f" (and {self.total - 1} more)" if self.total > 1 else ""),
            "detail": [p.to_dict() for p in self.problems],
            **({"more": more} if more > 0 else {}),
        }


_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clipped(text: str) -> str:
    """`text` cut to QUOTE_CHARS characters, with its length when cut."""
    return text if len(text) <= QUOTE_CHARS else f"{text[:QUOTE_CHARS]}… ({len(text):,} characters)"


def quoted(value: Any) -> str:
    """`value` as JSON, cut to QUOTE_CHARS characters (a 422 never echoes a request's bulk back)."""
    if isinstance(value, str) and len(value) > QUOTE_CHARS:
        return f'{json.dumps(value[:QUOTE_CHARS])[:-1]}…" ({len(value):,} characters)'
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**QUOTE_CHARS:
        return f"{str(value)[:QUOTE_CHARS]}… ({len(str(value)):,} characters)"
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):
        return f"a {'list' if isinstance(value, list) else 'object'} nested too deeply to quote"
    return _clipped(text)


def _range_problem(feature: Feature, value: int | float) -> str | None:
    """Why a number is not a value of a 64-bit `feature.type` (no float holds 1e309, no int64 holds 2**63), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a number ({feature.type}), got {quoted(value)}"
    if feature.type == "float" and abs(value) > FLOAT_MAX:
        return f"{quoted(value)} is too large for a 64-bit float"
    if feature.type == "int" and value == int(value) and not INT64[0] <= int(value) <= INT64[1]:
        return f"{quoted(value)} is outside the 64-bit integer range"
    return None


def _cell_problem(feature: Feature, value: Any) -> str | None:
    """Why `value` breaks `feature`'s contract, or None."""
    if value is _MISSING:
        return None if feature.nullable else "missing (the contract requires this feature)"
    if value is None:
        return None if feature.nullable else "null, but the contract does not allow nulls here"
    if feature.type in ("int", "float"):
        if not _is_number(value):
            return f"expected a number ({feature.type}), got {quoted(value)}"
        if problem := _range_problem(feature, value):
            return problem
        if feature.type == "int" and value != int(value):
            return f"expected an integer, got {quoted(value)}"
        if feature.min is not None and value < feature.min:
            return f"{quoted(value)} is below the contract's minimum {feature.min!r}"
        if feature.max is not None and value > feature.max:
            return f"{quoted(value)} is above the contract's maximum {feature.max!r}"
        return None
    if feature.type == "category":
        if isinstance(value, (bool, list, dict)) or value not in feature.values:
            allowed = ", ".join(json.dumps(v) for v in feature.values)
            return f"{quoted(value)} is not one of the allowed values ({allowed})"
        return None
    if not isinstance(value, str):
        return f"expected text, got {quoted(value)}"
    return None


def _numeric_column(feature: Feature, values: list) -> np.ndarray | None:
    """The column as an array when every value is a plain number inside the contract, else None (check cell by cell).

    The fast path for the common request: one type check per column and vectorised range checks.
    """
    types = set(map(type, values))
    if not types <= {int, float}:
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int no float holds: the cell-by-cell check names it
        return None
    if not np.isfinite(array).all():
        return None
    if feature.min is not None and (array < feature.min).any():
        return None
    if feature.max is not None and (array > feature.max).any():
        return None
    if feature.type == "int":
        if (np.abs(array) >= 2.0**63).any():  # beyond int64 (or at its edge, where a float rounds): check each cell
            return None
        if float not in types:
            return np.asarray(values, dtype=np.int64)
        if (array != np.floor(array)).any():
            return None
        return array.astype(np.int64)
    return array


def _column(feature: Feature, values: list) -> np.ndarray | list:
    """A checked column as what the project would read from a CSV: int64/float64 arrays, NaN for a missing number."""
    if feature.type == "int":
        if any(v is None or v is _MISSING for v in values):
            return np.asarray([np.nan if v is None or v is _MISSING else v for v in values], dtype=np.float64)
        return np.asarray(values, dtype=np.int64)
    if feature.type == "float":
        return np.asarray([np.nan if v is None or v is _MISSING else v for v in values], dtype=np.float64)
    return [None if v is _MISSING else v for v in values]


def check_rows(contract: DataContract, rows: Any, max_rows: int = DEFAULT_MAX_ROWS) -> tuple[pd.DataFrame, list | None]:
    """Check a request's rows against the contract: (the feature columns as a frame, the ids or None).

    A row is an object of column: value. The id and target columns may be present (the target is ignored); any other
    column the contract does not name is an error, so a misspelt optional feature cannot pass as a null. Raises
    RowsRejected naming each bad row and column (status 413 for more than `max_rows` rows).
    """
    if not isinstance(rows, list):
        raise RowsRejected([RowProblem(None, None, 'expected {"rows": [{column: value, ...}, ...]}')])
    if not rows:
        raise RowsRejected([RowProblem(None, None, "no rows to predict")])
    if len(rows) > max_rows:
        message = f"{len(rows)} rows is more than this server's limit of {max_rows}: split them"
        raise RowsRejected([RowProblem(None, None, message)], status=413)
    names = contract.feature_names
    expected = set(names)
    allowed_extra = {c for c in (contract.id, contract.target.name) if c}
    problems: list[RowProblem] = []
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            problems.append(RowProblem(position, None, f"expected an object of column: value, got {quoted(row)}"))
            continue
        if row.keys() != expected:
            problems += [
                RowProblem(position, _clipped(key), "not a column of the data contract")
                for key in row
                if key not in expected and key not in allowed_extra
            ]
        if contract.id and (problem := _id_problem(row.get(contract.id))):
            problems.append(RowProblem(position, contract.id, problem))
    if problems:
        raise RowsRejected(problems[:MAX_PROBLEMS], total=len(problems))
    block = _numeric_block(contract, rows)
    if block is not None:
        frame = pd.DataFrame(block, columns=names)
    else:
        frame = _checked_columns(contract, rows)
    ids = [row.get(contract.id) for row in rows] if contract.id and any(contract.id in row for row in rows) else None
    return frame, ids


def _id_problem(value: Any) -> str | None:
    """Why a row's id cannot be echoed (an id is text, a 64-bit number or null), or None."""
    if value is None or isinstance(value, str):
        return None
    if _is_number(value) and (math.isfinite(value) if isinstance(value, float) else INT64[0] <= value <= INT64[1]):
        return None
    return f"expected an id (text or a 64-bit number), got {quoted(value)}"


def _numeric_block(contract: DataContract, rows: list) -> np.ndarray | None:
    """All rows as one array when every feature is a number present in every row and inside its range, else None.

    The common request of an all-numeric contract, checked with one type scan and vectorised range checks; anything
    else (a null, a word, a value out of range, a category) goes through the column-by-column check that names it.
    """
    features = contract.features
    if not all(f.type in ("int", "float") for f in features):
        return None
    names = contract.feature_names
    try:
        values = [[row[name] for name in names] for row in rows]
    except KeyError:
        return None
    kinds = {type(v) for row in values for v in row}
    if not kinds <= {int, float}:
        return None
    try:
        block = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int no float holds: the cell-by-cell check names it
        return None
    low = np.asarray([-np.inf if f.min is None else f.min for f in features])
    high = np.asarray([np.inf if f.max is None else f.max for f in features])
    if not (np.isfinite(block).all() and (block >= low).all() and (block <= high).all()):
        return None
    integer = np.asarray([f.type == "int" for f in features])
    if integer.any() and (block[:, integer] != np.floor(block[:, integer])).any():
        return None
    if integer.any() and (np.abs(block[:, integer]) >= 2.0**63).any():
        return None
    return block.astype(np.int64) if integer.all() else block


def _checked_columns(contract: DataContract, rows: list) -> pd.DataFrame:
    """The features column by column, every bad cell named (RowsRejected)."""
    names = contract.feature_names
    problems: list[RowProblem] = []
    columns: dict[str, Any] = {}
    for feature in contract.features:
        values = [row.get(feature.name, _MISSING) for row in rows]
        array = _numeric_column(feature, values) if feature.numeric else None
        if array is not None:
            columns[feature.name] = array
            continue
        bad = [
            RowProblem(row, feature.name, problem)
            for row, v in enumerate(values)
            if (problem := _cell_problem(feature, v))
        ]
        problems += bad
        if not bad:
            columns[feature.name] = _column(feature, values)
    if problems:
        problems.sort(key=lambda p: (p.row, names.index(p.column)))
        raise RowsRejected(problems[:MAX_PROBLEMS], total=len(problems))
    arrays = list(columns.values())
    if all(isinstance(a, np.ndarray) for a in arrays) and len({a.dtype for a in arrays}) == 1:
        return pd.DataFrame(np.column_stack(arrays), columns=names)  # one block: ten times quicker than by column
    return pd.DataFrame(columns)


def rows_to_frame(contract: DataContract, rows: Any, max_rows: int = DEFAULT_MAX_ROWS) -> pd.DataFrame:
    """The checked rows as one frame: the id column (when the rows carry it), then the features in contract order."""
    frame, ids = check_rows(contract, rows, max_rows)
    if ids is not None:
        frame.insert(0, contract.id, ids)
    return frame


# ------------------------------------------------------------------------------------------------------- the model
@dataclass
class LoadedModel:
    """The predictor (loaded once), the contract its rows are checked against, and what /metadata answers."""

    predict: Predictor
    contract: DataContract
    metadata: dict = field(default_factory=dict)
    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @property
    def version(self) -> str:
        return str(self.metadata.get("version") or "unversioned")

    def answer(self, rows: Any) -> dict:
        """Check the rows, predict, and return the answer's body; RowsRejected for bad rows."""
        features, ids = check_rows(self.contract, rows, self.max_rows)
        predictions = self.predict(features)
        if not isinstance(predictions, pd.DataFrame) or len(predictions) != len(features):
            got = len(predictions) if isinstance(predictions, pd.DataFrame) else type(predictions).__name__
            raise ServeError(f"the predictor returned {got} rows for {len(features)}: it must return one row per row")
        if ids is not None:
            predictions = predictions.reset_index(drop=True)
            predictions.insert(0, self.contract.id, ids)
        if self.contract.target.names and "prediction" in predictions.columns:
            place = list(predictions.columns).index("prediction") + 1
            names = [self.contract.target.display(label) for label in predictions["prediction"]]
            predictions.insert(place, "prediction_name", names)  # the contract's display names
        return {"model_version": self.version, "predictions": predictions}


def load_served_model(
    model_dir: Path,
    contract_path: Path,
    metadata: Mapping | None = None,
    device: str = "auto",
    predictor: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> LoadedModel:
    """Load the project's predictor once (on `device`: auto takes CUDA when the project finds one) with its contract."""
    from mlci.contract import load_contract

    contract = load_contract(contract_path)
    factory = load_factory(predictor)
    if not Path(model_dir).exists():
        raise ServeError(f"{model_dir} not found: run `make repro` to build the model")
    predict = factory(Path(model_dir), device)
    described = {**(metadata or {}), "device": str(getattr(predict, "device", device))}
    logger.info("model %s loaded from %s on %s", described.get("version"), model_dir, described["device"])
    return LoadedModel(predict, contract, described, max_rows, max_body_bytes)


def predictions_json(body: Mapping) -> str:
    """The answer as JSON text; the frame through pandas' writer (NaN as null), far quicker than per-value encoding."""
    frame = body["predictions"]
    if any(dtype == np.float32 for dtype in frame.dtypes):
        # float32 0.994961 is 0.99496102333... as a double: go through its shortest text, as a CSV writer does
        frame = pd.DataFrame(
            {
                name: values.astype(str).astype(np.float64) if values.dtype == np.float32 else values
                for name, values in ((name, frame[name].to_numpy()) for name in frame.columns)
            }
        )
    head = json.dumps({k: v for k, v in body.items() if k != "predictions"})[:-1]
    return f'{head}, "predictions": {frame.to_json(orient="records", double_precision=15)}}}'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class BodyTooLarge(Exception):
    """The request body is over the server's limit (a 413, sent before the rest of the body is read)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused once it is over `limit` bytes: by its Content-Length, else counted as it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in JSON_TYPES


def _error(message: str, status: int, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message, "detail": []}, status_code=status, headers=headers or None)


def parse_body(raw: bytes) -> Any:
    """The body's JSON (NaN and Infinity refused); ValueError with the reason."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"it is not UTF-8 ({error.reason} at byte {error.start})") from None


def create_app(model: LoadedModel) -> FastAPI:
    """The FastAPI application around an already loaded model (no Swagger UI: it loads from a CDN)."""
    app = FastAPI(title="mlci model server", version=model.version, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model_version": model.version}

    @app.get("/metadata")
    def describe() -> dict:
        limits = {"max_rows": model.max_rows, "max_body_bytes": model.max_body_bytes}
        return {**model.metadata, **limits, "features": model.contract.feature_names}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        # The body is parsed here, not by a pydantic model, so that a bad row's answer names the row and the column
        # in the contract's words (and a 64-row request costs microseconds, not a model per value).
        content_type = request.headers.get("content-type", "")
        if not _is_json(content_type):
            got = f"Content-Type {_clipped(content_type)}" if content_type else "no Content-Type"
            # answered unread: closing the connection spares the server reading the rest of the body
            return _error(f"expected Content-Type: {', '.join(JSON_TYPES)}, got {got}", 415, connection="close")
        try:
            raw = await read_body(request, model.max_body_bytes)
        except BodyTooLarge:
            limit = model.max_body_bytes
            message = f"request body is over this server's limit of {limit:,} bytes (--max-body-bytes): send fewer rows"
            return _error(message, 413, connection="close")
        try:
            payload = parse_body(raw)
        except ValueError as error:
            return _error(f"request body is not valid JSON: {error}", 422)
        rows = payload.get("rows") if isinstance(payload, dict) else None
        try:
            body = model.answer(rows)
        except RowsRejected as rejected:
            return JSONResponse(rejected.to_dict(), status_code=rejected.status)
        except ServeError as error:
            logger.error("%s", error)
            return JSONResponse({"error": str(error), "detail": []}, status_code=500)
        return Response(predictions_json(body), media_type="application/json")

    return app


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Run the app with uvicorn until interrupted (one process; the model is loaded once)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)

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
"""

from __future__ import annotations

import json
import logging
import math
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


def _cell_problem(feature: Feature, value: Any) -> str | None:
    """Why `value` breaks `feature`'s contract, or None."""
    if value is _MISSING:
        return None if feature.nullable else "missing (the contract requires this feature)"
    if value is None:
        return None if feature.nullable else "null, but the contract does not allow nulls here"
    if feature.type in ("int", "float"):
        if not _is_number(value) or not math.isfinite(value):
            return f"expected a number ({feature.type}), got {json.dumps(value)}"
        if feature.type == "int" and value != int(value):
            return f"expected an integer, got {value!r}"
        if feature.min is not None and value < feature.min:
            return f"{value!r} is below the contract's minimum {feature.min!r}"
        if feature.max is not None and value > feature.max:
            return f"{value!r} is above the contract's maximum {feature.max!r}"
        return None
    if feature.type == "category":
        if isinstance(value, bool) or value not in feature.values:
            allowed = ", ".join(json.dumps(v) for v in feature.values)
            return f"{json.dumps(value)} is not one of the allowed values ({allowed})"
        return None
    if not isinstance(value, str):
        return f"expected text, got {json.dumps(value)}"
    return None


def _numeric_column(feature: Feature, values: list) -> np.ndarray | None:
    """The column as an array when every value is a plain number inside the contract, else None (check cell by cell).

    The fast path for the common request: one type check per column and vectorised range checks.
    """
    types = set(map(type, values))
    if not types <= {int, float}:
        return None
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        return None
    if feature.min is not None and (array < feature.min).any():
        return None
    if feature.max is not None and (array > feature.max).any():
        return None
    if feature.type == "int":
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
            problems.append(RowProblem(position, None, f"expected an object of column: value, got {json.dumps(row)}"))
            continue
        if row.keys() != expected:
            problems += [
                RowProblem(position, str(key), "not a column of the data contract")
                for key in row
                if key not in expected and key not in allowed_extra
            ]
    if problems:
        raise RowsRejected(problems[:MAX_PROBLEMS], total=len(problems))
    block = _numeric_block(contract, rows)
    if block is not None:
        frame = pd.DataFrame(block, columns=names)
    else:
        frame = _checked_columns(contract, rows)
    ids = [row.get(contract.id) for row in rows] if contract.id and any(contract.id in row for row in rows) else None
    return frame, ids


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
    block = np.asarray(values, dtype=np.float64)
    low = np.asarray([-np.inf if f.min is None else f.min for f in features])
    high = np.asarray([np.inf if f.max is None else f.max for f in features])
    if not (np.isfinite(block).all() and (block >= low).all() and (block <= high).all()):
        return None
    integer = np.asarray([f.type == "int" for f in features])
    if integer.any() and (block[:, integer] != np.floor(block[:, integer])).any():
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
        return {"model_version": self.version, "predictions": predictions}


def load_served_model(
    model_dir: Path,
    contract_path: Path,
    metadata: Mapping | None = None,
    device: str = "auto",
    predictor: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
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
    return LoadedModel(predict, contract, described, max_rows)


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


def create_app(model: LoadedModel) -> FastAPI:
    """The FastAPI application around an already loaded model."""
    app = FastAPI(title="mlci model server", version=model.version, docs_url="/docs", redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model_version": model.version}

    @app.get("/metadata")
    def describe() -> dict:
        return {**model.metadata, "max_rows": model.max_rows, "features": model.contract.feature_names}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        # The body is parsed here, not by a pydantic model, so that a bad row's answer names the row and the column
        # in the contract's words (and a 64-row request costs microseconds, not a model per value).
        try:
            payload = json.loads(await request.body(), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as error:
            return JSONResponse({"error": f"request body is not valid JSON: {error}", "detail": []}, status_code=422)
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

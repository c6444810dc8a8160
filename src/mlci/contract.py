"""The data contract (`data.schema.yaml`): where the data is, its id and target, each feature's type and range.

One committed, reviewable file says what the raw data must look like. The GX suite is generated from it, drift picks
its tests from its column types, and the project reads its id, target and feature names from it. `infer_contract`
drafts one from a file for a person to review.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlci.errors import ContractError, DataError
from mlci.files import CONTRACT

FEATURE_TYPES = ("int", "float", "category", "text")
TASKS = ("classification", "regression")
DEFAULT_MARGIN = 0.1  # inferred ranges are widened by this share of the observed span on each side
MAX_CATEGORIES = 20  # an inferred string column with more distinct values than this is text, not a category
MAX_NUMERIC_FLAG_VALUES = 2  # an inferred integer column with this few distinct values is a flag: a category


@dataclass(frozen=True)
class Feature:
    """One input column: its type, its allowed range (int, float) or values (category), and whether it may be null."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple | None = None
    nullable: bool = False

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "float")


@dataclass(frozen=True)
class Target:
    """The column the model predicts. Classification: its classes, share bounds and display names; regression: its
    range."""

    name: str
    task: str
    classes: tuple | None = None
    min_share: float | None = None
    max_share: float | None = None
    min: float | None = None
    max: float | None = None
    names: tuple[tuple[str, str], ...] = ()  # (class as text, display name) for the classes that have one

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def display(self, label: object) -> str:
        """A class's display name (`names:` in the contract), else the class as text."""
        return dict(self.names).get(str(label), str(label))


@dataclass(frozen=True)
class DataContract:
    """The whole contract, as loaded and checked from `data.schema.yaml`."""

    path: str
    target: Target
    features: tuple[Feature, ...]
    id: str | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    source: str = CONTRACT  # the file it came from, for messages

    @property
    def columns(self) -> list[str]:
        """Every column the data must have, in reading order: id, features, target."""
        return [*([self.id] if self.id else []), *(f.name for f in self.features), self.target.name]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def to_dict(self) -> dict:
        """The contract as the mapping `data.schema.yaml` holds (None and defaults left out)."""
        target: dict[str, Any] = {"name": self.target.name, "task": self.target.task}
        for key in ("classes", "min_share", "max_share", "min", "max"):
            value = getattr(self.target, key)
            if value is not None:
                target[key] = list(value) if isinstance(value, tuple) else value
        if self.target.names:
            by_text = {str(label): label for label in self.target.classes or ()}
            target["names"] = {by_text[text]: name for text, name in self.target.names}
        features = {}
        for feature in self.features:
            entry: dict[str, Any] = {"type": feature.type}
            for key in ("min", "max"):
                if getattr(feature, key) is not None:
                    entry[key] = getattr(feature, key)
            if feature.values is not None:
                entry["values"] = list(feature.values)
            if feature.nullable:
                entry["nullable"] = True
            features[feature.name] = entry
        mapping: dict[str, Any] = {"path": self.path}
        if self.id:
            mapping["id"] = self.id
        mapping["target"] = target
        rows = {k: v for k, v in (("min", self.min_rows), ("max", self.max_rows)) if v is not None}
        if rows:
            mapping["rows"] = rows
        mapping["features"] = features
        return mapping


# ------------------------------------------------------------------------------------------------------- loading
def _fail(source: str, where: str, reason: str) -> ContractError:
    return ContractError(f"{source}: {where}: {reason}")


def _number(source: str, where: str, value: Any, *, integer: bool = False) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, where, f"expected a finite number, got {value!r}")
    if integer and value != int(value):
        raise _fail(source, where, f"expected a whole number, got {value!r}")
    return int(value) if integer else value


def _check_keys(source: str, where: str, raw: Mapping, known: Sequence[str]) -> None:
    unknown = [key for key in raw if key not in known]
    if unknown:
        raise _fail(
            source, f"{where}.{unknown[0]}" if where else str(unknown[0]), f"unknown key (known: {', '.join(known)})"
        )


def _mapping(source: str, where: str, raw: Any) -> Mapping:
    if not isinstance(raw, Mapping):
        raise _fail(source, where, f"expected a mapping, got {type(raw).__name__}")
    return raw


def _bounds(source: str, where: str, low: Any, high: Any, integer: bool = False) -> tuple:
    low, high = _number(source, f"{where}.min", low, integer=integer), _number(
        source, f"{where}.max", high, integer=integer
    )
    if low is not None and high is not None and low > high:
        raise _fail(source, where, f"min {low} is above max {high}")
    return low, high


def _feature(source: str, name: str, raw: Any) -> Feature:
    where = f"features.{name}"
    raw = _mapping(source, where, raw)
    _check_keys(source, where, raw, ("type", "min", "max", "values", "nullable"))
    kind = raw.get("type")
    if kind not in FEATURE_TYPES:
        raise _fail(source, f"{where}.type", f"{kind!r} is not one of {', '.join(FEATURE_TYPES)}")
    low, high = _bounds(source, where, raw.get("min"), raw.get("max"))
    values = raw.get("values")
    if kind == "category":
        if not isinstance(values, list) or not values:
            raise _fail(source, f"{where}.values", "a category needs a non-empty list of allowed values")
        values = tuple(values)
    elif values is not None:
        raise _fail(source, f"{where}.values", f"only a category has values (this is {kind})")
    if kind in ("category", "text") and (low is not None or high is not None):
        raise _fail(source, where, f"min/max apply to int and float columns, not {kind}")
    nullable = raw.get("nullable", False)
    if not isinstance(nullable, bool):
        raise _fail(source, f"{where}.nullable", f"expected true or false, got {nullable!r}")
    return Feature(name=str(name), type=kind, min=low, max=high, values=values, nullable=nullable)


def _target(source: str, raw: Any) -> Target:
    raw = _mapping(source, "target", raw)
    _check_keys(source, "target", raw, ("name", "task", "classes", "min_share", "max_share", "min", "max", "names"))
    name, task = raw.get("name"), raw.get("task")
    if not isinstance(name, str) or not name:
        raise _fail(source, "target.name", "the target column's name is required")
    if task not in TASKS:
        raise _fail(source, "target.task", f"{task!r} is not one of {', '.join(TASKS)}")
    if task == "regression":
        if any(raw.get(key) is not None for key in ("classes", "min_share", "max_share", "names")):
            raise _fail(source, "target", "classes, shares and names apply to classification, not regression")
        low, high = _bounds(source, "target", raw.get("min"), raw.get("max"))
        return Target(name=name, task=task, min=low, max=high)
    classes = raw.get("classes")
    if not isinstance(classes, list) or len(classes) < 2:
        raise _fail(source, "target.classes", "classification needs a list of at least two classes")
    if len(set(map(str, classes))) != len(classes):
        raise _fail(source, "target.classes", "classes must be distinct")
    low, high = (_number(source, f"target.{key}", raw.get(key)) for key in ("min_share", "max_share"))
    for key, share in (("min_share", low), ("max_share", high)):
        if share is not None and not 0 <= share <= 1:
            raise _fail(source, f"target.{key}", f"{share} is not a share between 0 and 1")
    if low is not None and high is not None and low > high:
        raise _fail(source, "target", f"min_share {low} is above max_share {high}")
    if raw.get("min") is not None or raw.get("max") is not None:
        raise _fail(source, "target", "min/max apply to a regression target; use min_share/max_share")
    names = _class_names(source, raw.get("names"), classes)
    return Target(name=name, task=task, classes=tuple(classes), min_share=low, max_share=high, names=names)


def _class_names(source: str, raw: Any, classes: list) -> tuple[tuple[str, str], ...]:
    """`names: {class: display name}`, for the report, the model card and /predict; every key one of the classes."""
    if raw is None:
        return ()
    names = _mapping(source, "target.names", raw)
    known = [str(label) for label in classes]
    found = []
    for label, name in names.items():
        if str(label) not in known:
            raise _fail(source, f"target.names.{label}", f"{label!r} is not one of the classes ({', '.join(known)})")
        if not isinstance(name, str) or not name.strip():
            raise _fail(source, f"target.names.{label}", "a display name is a non-empty string")
        found.append((str(label), name.strip()))
    return tuple(sorted(found, key=lambda pair: known.index(pair[0])))


def contract_from_dict(raw: Any, source: str = CONTRACT) -> DataContract:
    """Check a parsed contract mapping and return the DataContract; a ContractError names the key and the reason."""
    raw = _mapping(source, "top level", raw)
    _check_keys(source, "", raw, ("path", "id", "target", "rows", "features"))
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise _fail(source, "path", "the data file's path (relative to the repository root) is required")
    identifier = raw.get("id")
    if identifier is not None and not isinstance(identifier, str):
        raise _fail(source, "id", f"expected a column name, got {identifier!r}")
    target = _target(source, raw.get("target"))
    rows = _mapping(source, "rows", raw.get("rows") or {})
    _check_keys(source, "rows", rows, ("min", "max"))
    min_rows, max_rows = _bounds(source, "rows", rows.get("min"), rows.get("max"), integer=True)
    features_raw = _mapping(source, "features", raw.get("features"))
    if not features_raw:
        raise _fail(source, "features", "at least one feature is required")
    features = tuple(_feature(source, str(name), value) for name, value in features_raw.items())
    names = [identifier, target.name]
    clash = next((f.name for f in features if f.name in names), None)
    if clash or identifier == target.name:
        raise _fail(source, "features", f"{clash or identifier!r} is named twice (id, target and features differ)")
    return DataContract(
        path=path,
        id=identifier,
        target=target,
        features=features,
        min_rows=min_rows,
        max_rows=max_rows,
        source=source,
    )


def load_contract(path: str | Path = CONTRACT) -> DataContract:
    """Read and check the data contract."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(
            f"{path} not found: draft one with `mlci schema infer DATA.csv --target COLUMN`, review it, commit it"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML ({error})") from error
    return contract_from_dict(raw, source=str(path))


def _flow(mapping: Mapping) -> str:
    """A mapping as one line of flow-style YAML."""
    return yaml.safe_dump(mapping, default_flow_style=True, sort_keys=False, allow_unicode=True, width=math.inf).strip()


# What a drafted contract starts with when the file it replaces has no comment block of its own.
CONTRACT_GUIDE = """\
# The data contract: what the raw data must look like before any training.
# The GX suite under gx/ is generated from it (`make suite`), drift picks its tests from the feature types, and the
# project reads its id, target and features from here.
#
# path: the data file (tracked by data.dvc); id: a unique row id (optional); target: what the model predicts
#   (classification: classes, the share of rows each may hold, and display names `names: {class: name}` for the
#   report, the model card and /predict; regression: min/max);
# rows: row-count bounds; features: type int | float | category | text, min/max or values, nullable (default false).
"""
DRAFT_NOTE = "# Drafted by `mlci schema infer`"


def contract_header(path: str | Path | None) -> str:
    """The comment block a redrafted contract keeps: the leading comments of the file at `path` (an earlier draft's
    note left out), or CONTRACT_GUIDE when there is none (or no file: a draft to stdout)."""
    path = Path(path) if path is not None else None
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path and path.is_file() else []
    block = []
    for line in lines:
        if not line.startswith("#"):
            break
        block.append(line)
    while block and block[0].startswith(DRAFT_NOTE):  # the note and its continuation line
        block = block[2:]
    return "".join(block) or CONTRACT_GUIDE


def dump_contract(contract: DataContract, path: str | Path, header: str = "") -> None:
    """Write the contract as YAML (atomically), features one per line so a review reads it column by column."""
    path = Path(path)
    mapping = contract.to_dict()
    features = mapping.pop("features")
    # width=inf: PyYAML folds long flow lists at 80 characters, mid-value; one line per feature reads better.
    text = header + yaml.safe_dump(
        mapping, sort_keys=False, default_flow_style=None, allow_unicode=True, width=math.inf
    )
    text += "features:\n" + "".join(f"  {_flow({name: spec})[1:-1]}\n" for name, spec in features.items())
    contract_from_dict(yaml.safe_load(text), source=str(path))  # what is written must load back
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


# ------------------------------------------------------------------------------------------------------- reading data
def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a raw CSV, turning every way it can be unreadable into a DataError that says what to do.

    Rows with more or fewer fields than the header are named by line number (pandas pads short rows silently).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found: run `make data` (or `dvc pull {path}`) to fetch the tracked data")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path} is empty: run `dvc pull --force {path}` to restore the tracked data") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not a text CSV (not valid UTF-8)") from error
    except pd.errors.ParserError as error:
        reason = str(error).strip().splitlines()[-1]
        raise DataError(f"{path} is not a well-formed CSV: {reason}") from error
    ragged = _ragged_lines(path, len(frame.columns))
    if ragged:
        shown = ", ".join(f"line {line} has {count}" for line, count in ragged[:5])
        more = f" and {len(ragged) - 5} more" if len(ragged) > 5 else ""
        raise DataError(
            f"{path}: {len(ragged)} row(s) do not have the header's {len(frame.columns)} fields: {shown}{more}"
        )
    return frame


def _ragged_lines(path: Path, expected: int) -> list[tuple[int, int]]:
    """(line number, field count) of each record whose field count differs from the header's (1-based lines)."""
    import csv

    ragged = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for record in reader:
            if record and len(record) != expected:
                ragged.append((reader.line_num, len(record)))
    return ragged


def read_data(contract: DataContract, path: str | Path | None = None) -> pd.DataFrame:
    """Read the contract's data file (or `path`) as a frame."""
    return read_csv(path if path is not None else contract.path)


# ------------------------------------------------------------------------------------------------------- inference
def _widen(low: float, high: float, margin: float, integer: bool) -> tuple[float, float]:
    """Widen [low, high] by `margin` of its span on each side; a range observed non-negative stays non-negative."""
    span = (high - low) or abs(high) or 1.0
    low, high = (max(low - margin * span, 0.0) if low >= 0 else low - margin * span), high + margin * span
    if integer:
        return int(math.floor(low)), int(math.ceil(high))
    return float(f"{low:.6g}"), float(f"{high:.6g}")


def _infer_feature(name: str, column: pd.Series, margin: float) -> Feature:
    nullable = bool(column.isna().any())
    values = column.dropna()
    if pd.api.types.is_bool_dtype(column) or (not pd.api.types.is_numeric_dtype(column)):
        distinct = sorted(values.astype(str).unique())
        if len(distinct) <= MAX_CATEGORIES:
            return Feature(name=name, type="category", values=tuple(distinct), nullable=nullable)
        return Feature(name=name, type="text", nullable=nullable)
    # A column of integers with nulls reads as floats; whole floats without nulls (`127.0`) are floats as written.
    whole_with_nulls = nullable and bool(len(values) and (values == values.round()).all())
    integer = pd.api.types.is_integer_dtype(column) or whole_with_nulls
    if integer and 0 < values.nunique() <= MAX_NUMERIC_FLAG_VALUES:
        # As integers, as the file holds them: a client of the model server sends them as JSON numbers.
        flags = tuple(int(value) for value in sorted(values.unique()))
        return Feature(name=name, type="category", values=flags, nullable=nullable)
    kind = "int" if integer else "float"
    if values.empty:
        return Feature(name=name, type=kind, nullable=True)
    low, high = _widen(float(values.min()), float(values.max()), margin, integer)
    return Feature(name=name, type=kind, min=low, max=high, nullable=nullable)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML writes plainly."""
    return value.item() if hasattr(value, "item") else value


def infer_contract(
    frame: pd.DataFrame,
    path: str,
    target: str,
    id_column: str | None = None,
    task: str | None = None,
    margin: float = DEFAULT_MARGIN,
) -> DataContract:
    """Draft a contract from a frame: observed ranges widened by `margin` of their span, shares by half their value.

    Classification is assumed for a string target or an integer one with at most MAX_CATEGORIES values.
    """
    for column in (target, id_column):
        if column is not None and column not in frame.columns:
            raise ContractError(f"{path}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
    labels = frame[target].dropna()
    if task is None:
        few = labels.nunique() <= MAX_CATEGORIES
        task = (
            "classification"
            if (not pd.api.types.is_numeric_dtype(labels) or (few and (labels == labels.round()).all()))
            else "regression"
        )
    if task == "classification":
        shares = labels.value_counts(normalize=True)
        classes = tuple(sorted((_plain(c) for c in shares.index), key=lambda c: (str(type(c)), c)))
        spec = Target(
            name=target,
            task=task,
            classes=classes,
            min_share=round(float(shares.min()) * (1 - margin * 5), 4),
            max_share=min(1.0, round(float(shares.max()) * (1 + margin * 5), 4)),
        )
    else:
        low, high = _widen(float(labels.min()), float(labels.max()), margin, integer=False)
        spec = Target(name=target, task=task, min=low, max=high)
    features = tuple(
        _infer_feature(str(name), frame[name], margin) for name in frame.columns if name not in (target, id_column)
    )
    rows = len(frame)
    return DataContract(
        path=path,
        id=id_column,
        target=spec,
        features=features,
        min_rows=max(1, rows // 2),
        max_rows=rows * 10,
    )

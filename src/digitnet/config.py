"""YOURS to replace: params.yaml into typed, validated dataclasses; a bad key fails at once, named."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from digitnet.errors import UserFacingError


class ConfigError(UserFacingError):
    """params.yaml has an unknown key, a wrong type or an out-of-range value."""


@dataclass(frozen=True)
class SplitConfig:
    seed: int = 42
    val_fraction: float = 0.15
    test_fraction: float = 0.15


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 42
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 0.003
    weight_decay: float = 0.0001
    channels: int = 32
    depth: int = 2
    dropout: float = 0.1
    device: str = "auto"
    compile: bool = False
    processes: int = 1
    threads: int = 1


@dataclass(frozen=True)
class EvaluateConfig:
    batch_size: int = 512


@dataclass(frozen=True)
class Config:
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


# (low, high) inclusive bounds; None leaves that side open.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "split.seed": (0, 2**32 - 1),
    "split.val_fraction": (0.01, 0.5),
    "split.test_fraction": (0.01, 0.5),
    "train.seed": (0, 2**32 - 1),  # torch.manual_seed takes 64 bits, and train reseeds each epoch from seed * 100_003
    "train.epochs": (1, 1000),
    "train.batch_size": (1, 65536),
    "train.learning_rate": (1e-6, 10.0),
    "train.weight_decay": (0.0, 1.0),
    "train.channels": (1, 4096),
    "train.depth": (1, 3),
    "train.dropout": (0.0, 0.9),
    "train.processes": (1, 64),
    "train.threads": (1, 256),
    "evaluate.batch_size": (1, 65536),
}
_CHOICES: dict[str, tuple[str, ...]] = {"train.device": ("auto", "cpu", "cuda")}


def _yaml_hint(value: Any, expected: type) -> str:
    """PyYAML reads `1e-3` (no dot) as a string: say so, since the value looks right to the user."""
    if expected is float and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads a number without a dot as text: write it like 1.0e-3)"
    return ""


def _check_value(key: str, value: Any, expected: type) -> Any:
    """Return `value` as `expected`, or raise ConfigError naming `key`.

    Types are strict: an int field rejects a float even when it is integral (`epochs: 12.0`), and a float
    field rejects NaN and infinities, which would otherwise slip through the range checks (NaN compares false).
    """
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is bool and isinstance(value, bool):
        return value
    if isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(
            f"params.yaml: {key}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
            + _yaml_hint(value, expected)
        )
    if expected is float and not math.isfinite(value):
        raise ConfigError(f"params.yaml: {key}: expected a finite float, got {value!r}")
    low, high = _RANGES.get(key, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ConfigError(f"params.yaml: {key}: {value!r} is outside {bounds}")
    choices = _CHOICES.get(key)
    if choices and value not in choices:
        raise ConfigError(f"params.yaml: {key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _build_section(name: str, cls: type, raw: Any) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params.yaml: {name}: expected a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"params.yaml: {name}.{key}: unknown key (known: {', '.join(sorted(fields))})")
    types = {"int": int, "float": float, "str": str, "bool": bool}
    values = {key: _check_value(f"{name}.{key}", value, types[fields[key].type]) for key, value in raw.items()}
    return cls(**values)


def config_from_dict(raw: Any) -> Config:
    """Validate a parsed params mapping and return the typed Config."""
    if not isinstance(raw, dict):
        raise ConfigError("params.yaml: expected a mapping of sections (split, train, evaluate)")
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for name in raw:
        if name not in sections:
            raise ConfigError(f"params.yaml: {name}: unknown section (known: {', '.join(sorted(sections))})")
    built = {name: _build_section(name, sections[name].default_factory, raw.get(name)) for name in sections}
    split = built["split"]
    if split.val_fraction + split.test_fraction >= 0.9:
        raise ConfigError("params.yaml: split.val_fraction + split.test_fraction must leave at least 10% for training")
    return Config(**built)


def load_config(path: str | Path = "params.yaml") -> Config:
    """Read and validate params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} not found: run from the repository root, or pass --params PATH")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error.__class__.__name__}: {error})") from error
    return config_from_dict(raw)

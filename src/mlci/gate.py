"""The quality gate: the gates declared in `gates.yaml`, checked on this branch's per-row predictions and the base's.

Three kinds of gate, each on the metrics computed from the predictions (`mlci.stats`: accuracy and macro_f1, or mae
and rmse), so nothing here knows the project:
- a floor this branch must meet (`accuracy >= 0.95`), on the point estimate;
- the largest regression allowed against the base (`accuracy: -0.01`), breached only when the whole interval of the
  paired Δ lies beyond it: a change the test split could produce by chance passes;
- a floor for the worst slice the evaluation reports (`slices:` in a metrics file `dvc.yaml` lists).
A maintainer's override (a PR label, in CI) turns a breach into a warning; the result says so and by whom.

`assess` is the edge (reads the workspace, the base commit and the gates file); `evaluate_gates` is the pure core.
`mlci gate` (and `make gate`) run both and exit 1 on a breach, on a laptop as in CI.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlci.errors import UserFacingError
from mlci.files import CONTRACT, PREDICTIONS
from mlci.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    LOWER_IS_BETTER,
    NO_BASE,
    NO_BASE_PREDICTIONS,
    PAIRED,
    Comparison,
    compare_predictions,
    metric_names,
)

logger = logging.getLogger(__name__)

# The gates file (committed, the user's) and what `mlci gate` writes into its output folder (the report's folder,
# so `make report` shows the same verdict). TODO(files.py): move these three names to mlci.files.
GATES = "gates.yaml"
GATE_JSON = "gate.json"
GATE_MD = "gate.md"

FLOOR, REGRESSION, WORST_SLICE = "floor", "max regression", "worst slice"
PASSED, BREACHED, SKIPPED = "passed", "breached", "skipped"
_BOUND = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$"
)
_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


class GateError(UserFacingError):
    """The gates file is unreadable or declares a gate that cannot be checked."""


# ------------------------------------------------------------------------------------------------------- the file
@dataclass(frozen=True)
class Bound:
    """`metric op value`, e.g. `accuracy >= 0.95`."""

    metric: str
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        return not math.isnan(observed) and _OPS[self.op](observed, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Gates:
    """What `gates.yaml` declares (nothing declared: every check passes)."""

    floors: tuple[Bound, ...] = ()
    max_regression: Mapping[str, float] = field(default_factory=dict)  # metric -> signed allowed change
    worst_slice: tuple[Bound, ...] = ()
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    source: str = GATES

    @property
    def declared(self) -> bool:
        return bool(self.floors or self.max_regression or self.worst_slice)


def _fail(source: str, where: str, reason: str) -> GateError:
    return GateError(f"{source}: {where}: {reason}")


def _bounds(source: str, where: str, raw) -> tuple[Bound, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(source, where, "expected a list of `metric >= value` lines")
    bounds = []
    for position, item in enumerate(raw):
        match = _BOUND.match(str(item))
        if match is None:
            raise _fail(source, f"{where}[{position}]", f"{item!r} is not `metric >= value` (or <=, >, <)")
        bounds.append(Bound(match["metric"], match["op"], float(match["value"])))
    return tuple(bounds)


def _number(source: str, where: str, value, kind=float):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, where, f"expected a number, got {value!r}")
    if kind is int and value != int(value):
        raise _fail(source, where, f"expected a whole number, got {value!r}")
    return kind(value)


def gates_from_dict(raw, source: str = GATES) -> Gates:
    """Check a parsed gates file (`{"gates": {...}}`) and return its Gates; a GateError names the key and why."""
    if raw is None:
        return Gates(source=source)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("gates", {}), (Mapping, type(None))):
        raise _fail(source, "gates", "expected a mapping under `gates:`")
    unknown = [key for key in raw if key != "gates"]
    if unknown:
        raise _fail(source, str(unknown[0]), "unknown key (this file holds one section, `gates:`)")
    body = raw.get("gates") or {}
    known = ("floors", "max_regression", "worst_slice", "confidence", "resamples", "seed")
    unknown = [key for key in body if key not in known]
    if unknown:
        raise _fail(source, f"gates.{unknown[0]}", f"unknown key (known: {', '.join(known)})")
    regression = body.get("max_regression") or {}
    if not isinstance(regression, Mapping):
        raise _fail(source, "gates.max_regression", "expected a mapping `metric: allowed change`, e.g. accuracy: -0.01")
    allowed = {}
    for metric, value in regression.items():
        value = _number(source, f"gates.max_regression.{metric}", value)
        if value != 0 and (value > 0) != (str(metric) in LOWER_IS_BETTER):
            direction = "lower" if str(metric) in LOWER_IS_BETTER else "higher"
            example = "+0.05" if direction == "lower" else "-0.01"
            raise _fail(
                source,
                f"gates.max_regression.{metric}",
                f"{metric} is better {direction}: its allowed regression is a change the other way, e.g. {example}",
            )
        allowed[str(metric)] = value
    confidence = _number(source, "gates.confidence", body.get("confidence", DEFAULT_CONFIDENCE))
    if not 0.5 <= confidence < 1:
        raise _fail(source, "gates.confidence", f"{confidence} is not between 0.5 and 1 (e.g. 0.95)")
    resamples = _number(source, "gates.resamples", body.get("resamples", DEFAULT_RESAMPLES), int)
    if resamples < 100:
        raise _fail(
            source, "gates.resamples", f"{resamples} is too few for a 95 % interval (at least 100; 2000 is usual)"
        )
    return Gates(
        floors=_bounds(source, "gates.floors", body.get("floors")),
        max_regression=allowed,
        worst_slice=_bounds(source, "gates.worst_slice", body.get("worst_slice")),
        confidence=confidence,
        resamples=resamples,
        seed=_number(source, "gates.seed", body.get("seed", DEFAULT_SEED), int),
        source=source,
    )


def load_gates(path: str | Path = GATES) -> Gates:
    """Read and check the gates file; an absent file declares no gates."""
    path = Path(path)
    if not path.is_file():
        return Gates(source=str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise GateError(f"{path}: not valid YAML ({error})") from None
    return gates_from_dict(raw, source=str(path))


def check_metric_names(gates: Gates, task: str) -> None:
    """Every metric a floor or a regression gate names must be one computed from the predictions of `task`."""
    known = metric_names(task)
    named = [(f"gates.floors ({bound})", bound.metric) for bound in gates.floors]
    named += [(f"gates.max_regression.{metric}", metric) for metric in gates.max_regression]
    for where, metric in named:
        if metric not in known:
            raise _fail(
                gates.source,
                where,
                f"{metric!r} is not computed from the predictions of a {task} (known: {', '.join(known)})",
            )


# ------------------------------------------------------------------------------------------------------- checking
@dataclass(frozen=True)
class Check:
    """One gate's outcome: `gate` as declared, its kind, what was observed, passed/breached/skipped and why."""

    gate: str
    kind: str
    observed: str
    status: str
    detail: str = ""

    @property
    def breached(self) -> bool:
        return self.status == BREACHED

    def line(self) -> str:
        """The one line a breach is reported with (log, annotation)."""
        return f"{self.kind} `{self.gate}`: {self.detail}"

    def to_dict(self) -> dict:
        return {
            "gate": self.gate,
            "kind": self.kind,
            "observed": self.observed,
            "status": self.status,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> Check:
        return cls(
            str(raw["gate"]), str(raw["kind"]), str(raw["observed"]), str(raw["status"]), str(raw.get("detail", ""))
        )


def _interval_text(low: float, high: float) -> str:
    return f"[{low:+.4f}, {high:+.4f}]"


def _floor_checks(gates: Gates, comparison: Comparison) -> list[Check]:
    checks = []
    for bound in gates.floors:
        metric = comparison.metric(bound.metric)
        observed = metric.pr.estimate if metric else math.nan
        text = "—" if math.isnan(observed) else f"{observed:.4f}"
        if bound.holds(observed):
            checks.append(Check(str(bound), FLOOR, text, PASSED))
        else:
            checks.append(
                Check(str(bound), FLOOR, text, BREACHED, f"{bound.metric} is {text}, not {bound.op} {bound.value:g}")
            )
    return checks


def _regression_checks(gates: Gates, comparison: Comparison, not_compared: str | None = None) -> list[Check]:
    checks = []
    for name, allowed in gates.max_regression.items():
        gate = f"{name}: {allowed:+g}"
        metric = comparison.metric(name)
        if comparison.mode in (NO_BASE, NO_BASE_PREDICTIONS) or metric is None or metric.delta is None:
            if comparison.mode == NO_BASE:
                why = not_compared or "no base to compare with"
            else:
                why = "the base has no per-row predictions"
            checks.append(Check(gate, REGRESSION, "—", SKIPPED, why))
            continue
        delta = metric.delta
        observed = f"Δ {delta.estimate:+.4f} {_interval_text(delta.low, delta.high)}"
        # Breached only when the whole interval lies beyond the allowed change (the metric's worse direction).
        beyond = delta.low > allowed if metric.lower_is_better else delta.high < allowed
        if math.isnan(delta.low) or not beyond:
            checks.append(Check(gate, REGRESSION, observed, PASSED))
            continue
        how = "paired" if comparison.mode == PAIRED else "unpaired"
        checks.append(
            Check(
                gate,
                REGRESSION,
                observed,
                BREACHED,
                f"{name} changed by {delta.estimate:+.4f} (this PR − base; {comparison.confidence:.0%} {how} interval "
                f"{_interval_text(delta.low, delta.high)}), beyond the allowed {allowed:+g}",
            )
        )
    return checks


def _slice_checks(gates: Gates, slices: Mapping[str, Mapping]) -> list[Check]:
    checks = []
    for bound in gates.worst_slice:
        values = {
            name: float(scores[bound.metric])
            for name, scores in slices.items()
            if isinstance(scores.get(bound.metric), (int, float)) and not isinstance(scores.get(bound.metric), bool)
        }
        if not values:
            detail = f"no slice reports `{bound.metric}` (slices come from `slices:` in a metrics file dvc.yaml lists)"
            checks.append(Check(str(bound), WORST_SLICE, "—", BREACHED, detail))
            continue
        lower_first = bound.op in (">=", ">")  # the worst slice of a floor is the lowest one
        worst = sorted(values, key=lambda n: (values[n] if lower_first else -values[n], n))[0]
        text = f"{values[worst]:.4f} (`{worst}`)"
        if bound.holds(values[worst]):
            checks.append(Check(str(bound), WORST_SLICE, text, PASSED))
        else:
            detail = f"slice `{worst}` has {bound.metric} {values[worst]:.4f}, not {bound.op} {bound.value:g}"
            checks.append(Check(str(bound), WORST_SLICE, text, BREACHED, detail))
    return checks


def evaluate_gates(
    gates: Gates, comparison: Comparison, slices: Mapping[str, Mapping], not_compared: str | None = None
) -> tuple[Check, ...]:
    """Each declared gate checked against the comparison (floors, regressions) and the slices (worst slice).

    `not_compared` says why a base that exists is not compared (a baseline reset): the skipped regressions say it.
    """
    check_metric_names(gates, comparison.task)
    regressions = _regression_checks(gates, comparison, not_compared)
    return (*_floor_checks(gates, comparison), *regressions, *_slice_checks(gates, slices))


# ------------------------------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class GateResult:
    """The checks, the comparison they were made on, and whether a maintainer's override accepted a breach."""

    checks: tuple[Check, ...]
    comparison: Comparison
    declared: bool = True
    override: str | None = None  # e.g. "label `accept-regression`": breaches become warnings
    base_name: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)  # digests of what was checked (see `input_digests`)
    note: str | None = None  # e.g. why the base is not compared (a baseline reset)

    @property
    def breached(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.breached)

    @property
    def status(self) -> str:
        """`passed`, `failed`, or `overridden` (breached, accepted by the override)."""
        if not self.breached:
            return "passed"
        return "overridden" if self.override else "failed"

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "declared": self.declared,
            "override": self.override,
            "base_name": self.base_name,
            "note": self.note,
            "inputs": dict(self.inputs),
            "checks": [check.to_dict() for check in self.checks],
            "comparison": self.comparison.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> GateResult:
        return cls(
            checks=tuple(Check.from_dict(c) for c in raw["checks"]),
            comparison=Comparison.from_dict(raw["comparison"]),
            declared=bool(raw.get("declared", True)),
            override=raw.get("override"),
            base_name=raw.get("base_name"),
            inputs=dict(raw.get("inputs") or {}),
            note=raw.get("note"),
        )


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()[:16]


def input_digests(predictions: str | None, base_commit: str | None, gates_text: str | None) -> dict[str, str]:
    """What a result was computed from: the report uses a stored result only when these match its own inputs."""
    return {"predictions": _digest(predictions), "base_commit": base_commit or "", "gates": _digest(gates_text)}


# ------------------------------------------------------------------------------------------------------- the edge
def assess(
    root: Path,
    base_ref: str | None,
    gates_path: str | Path | None = None,
    override: str | None = None,
) -> GateResult:
    """Read the workspace's predictions and slices, the base commit's predictions and `gates.yaml`; check the gates.

    Raises GateError when the gates file is invalid and a UserFacingError when the predictions are missing.
    """
    from mlci.contract import load_contract
    from mlci.dvcfiles import metrics_files
    from mlci.metrics_tables import MetricsError, predictions_from_text, read_json, slices_of
    from mlci.report.collect import _base_contract, baseline_change, resolve_commit, show_at

    root = Path(root)
    gates_file = root / (gates_path or GATES)
    gates = load_gates(gates_file)
    contract = load_contract(root / CONTRACT)
    predictions_path = root / PREDICTIONS
    if not predictions_path.is_file():
        raise GateError(f"{predictions_path} not found: run `dvc repro` (or `make repro`) first")
    text = predictions_path.read_text(encoding="utf-8")
    try:
        predictions = predictions_from_text(text, contract, PREDICTIONS)
        slices = slices_of({path: read_json(root / path) for path in metrics_files(root)})
    except MetricsError as error:
        raise GateError(str(error)) from None
    labels = [str(c) for c in contract.target.classes or ()]
    settings = dict(resamples=gates.resamples, confidence=gates.confidence, seed=gates.seed)
    base_frame, has_base, base_name, commit, note = None, False, None, None, None
    if base_ref:
        commit = resolve_commit(root, base_ref)
        base_name = commit[:7] if base_ref.startswith(commit[:7]) else f"{base_ref} ({commit[:7]})"  # a SHA: short
        reset = baseline_change(_base_contract(root, commit, base_ref), contract)
        if reset:
            note = f"baseline reset ({reset}): the base is not compared"
        else:
            has_base = True
            base_text = show_at(root, commit, PREDICTIONS)
            if base_text is not None:
                try:
                    base_frame = predictions_from_text(base_text, contract, f"{PREDICTIONS} at {base_ref}")
                except MetricsError as error:
                    raise GateError(str(error)) from None
    comparison = compare_predictions(
        predictions, base_frame, contract.target.task, labels=labels, has_base=has_base, **settings
    )
    gates_text = gates_file.read_text(encoding="utf-8") if gates_file.is_file() else None
    return GateResult(
        checks=evaluate_gates(gates, comparison, slices, not_compared=note),
        comparison=comparison,
        declared=gates.declared,
        override=override,
        base_name=base_name,
        inputs=input_digests(text, commit, gates_text),
        note=note,
    )


def _escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub requires (%, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(result: GateResult) -> list[str]:
    """One GitHub workflow command per breached gate: `::error` when it fails the check, `::warning` when accepted."""
    command = "warning" if result.override else "error"
    title = f"quality gate (accepted: {result.override})" if result.override else "quality gate"
    return [f"::{command} title={_escape_property(title)}::{_escape_data(check.line())}" for check in result.breached]

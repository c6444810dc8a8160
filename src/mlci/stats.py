"""How sure a test-set metric is: seeded bootstrap intervals, paired comparison with the base, McNemar's exact test.

Everything here works on the per-row predictions (id, target, prediction) and knows no project: the metrics are the
ones any classification (accuracy, macro-F1) or regression (MAE, RMSE) has. The bootstrap resamples test rows with
replacement; a paired comparison applies the same resampled rows to this branch's and the base's predictions, so the
noise both share (which rows happen to be in the test split) cancels out of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

from mlci.files import PREDICTION_ID, PREDICTION_TARGET, PREDICTION_VALUE

CLASSIFICATION_METRICS = ("accuracy", "macro_f1")
REGRESSION_METRICS = ("mae", "rmse")
LOWER_IS_BETTER = frozenset({"mae", "rmse"})
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
CELLS_PER_CHUNK = 4_000_000  # resamples x rows drawn at once: bounds memory on large test sets


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics computed from the predictions of a task (`classification` or `regression`)."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


# ------------------------------------------------------------------------------------------------------- samples
@dataclass(frozen=True)
class Sample:
    """One side's per-row predictions as arrays ready to resample.

    Classification: `target` and `prediction` are class codes in 0..len(labels)-1. Regression: the values.
    """

    task: str
    target: np.ndarray
    prediction: np.ndarray
    labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.target)


def sample_from_frame(frame: pd.DataFrame, task: str, labels: Sequence[str] | None = None) -> Sample:
    """The target and prediction columns of a predictions frame as a Sample (regression rows with a null dropped).

    `labels` fixes the class codes, so two sides coded with the same labels can be compared; by default every
    label either column holds.
    """
    if task != "classification":
        rows = frame[[PREDICTION_TARGET, PREDICTION_VALUE]].dropna()
        return Sample(
            task,
            rows[PREDICTION_TARGET].to_numpy(dtype=np.float64),
            rows[PREDICTION_VALUE].to_numpy(dtype=np.float64),
        )
    target = frame[PREDICTION_TARGET].astype(str).to_numpy()
    prediction = frame[PREDICTION_VALUE].astype(str).to_numpy()
    if labels is None:
        labels = sorted(set(target) | set(prediction))
    index = {label: code for code, label in enumerate(labels)}
    missing = (set(target) | set(prediction)) - set(index)
    if missing:
        raise ValueError(f"labels {sorted(missing)} are not among the labels given")
    encode = np.vectorize(index.__getitem__, otypes=[np.int64])
    return Sample(
        task,
        encode(target) if len(target) else target,
        encode(prediction) if len(target) else prediction,
        tuple(labels),
    )


# ------------------------------------------------------------------------------------------------------- metrics
def _classification_metrics(sample: Sample, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 of each resample; `rows` is (resamples, n) row indexes.

    Macro-F1 averages over the classes that occur in a resample (as target or prediction): a class absent from both
    has no F1, and counting it as 0 would drag the mean down by chance alone.
    """
    classes = len(sample.labels)
    target, prediction = sample.target[rows], sample.prediction[rows]
    correct = target == prediction
    offset = (np.arange(rows.shape[0]) * classes)[:, None]

    def counts(codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        flat = (codes + offset).ravel()
        return np.bincount(
            flat, weights=None if weights is None else weights.ravel(), minlength=rows.shape[0] * classes
        )

    true_positive = counts(target, correct.astype(np.float64)).reshape(-1, classes)
    denominator = (counts(target) + counts(prediction)).reshape(-1, classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * true_positive / denominator, np.nan)
        macro = np.nanmean(f1, axis=1) if classes else np.full(rows.shape[0], np.nan)
    return {"accuracy": correct.mean(axis=1), "macro_f1": macro}


def _regression_metrics(sample: Sample, rows: np.ndarray) -> dict[str, np.ndarray]:
    residual = sample.prediction[rows] - sample.target[rows]
    return {"mae": np.abs(residual).mean(axis=1), "rmse": np.sqrt((residual**2).mean(axis=1))}


def resampled_metrics(sample: Sample, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric of the task on each resample: `rows` is a (resamples, n) array of row indexes into `sample`."""
    if sample.task == "classification":
        return _classification_metrics(sample, rows)
    return _regression_metrics(sample, rows)


def point_metrics(sample: Sample) -> dict[str, float]:
    """The metrics on the sample as it is (every row once)."""
    if not len(sample):
        return {name: math.nan for name in metric_names(sample.task)}
    values = resampled_metrics(sample, np.arange(len(sample))[None, :])
    return {name: float(value[0]) for name, value in values.items()}


# ------------------------------------------------------------------------------------------------------- intervals
@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float

    def covers(self, value: float = 0.0) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping) -> Interval:
        return cls(float(raw["estimate"]), float(raw["low"]), float(raw["high"]))


def _row_chunks(rng: np.random.Generator, n: int, resamples: int):
    """(resamples, n) arrays of rows drawn with replacement, in chunks of at most CELLS_PER_CHUNK cells."""
    step = max(1, CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, resamples, step):
        yield rng.integers(0, n, size=(min(step, resamples - start), n))


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not values.size:
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def bootstrap(
    sample: Sample,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Each metric with its percentile bootstrap interval over the sample's rows (seeded: the same inputs give the
    same interval)."""
    _check(resamples, confidence)
    point = point_metrics(sample)
    if not len(sample):
        return {name: Interval(value, math.nan, math.nan) for name, value in point.items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for rows in _row_chunks(np.random.default_rng(seed), len(sample), resamples):
        for name, values in resampled_metrics(sample, rows).items():
            draws[name].append(values)
    return {name: Interval(point[name], *_percentiles(np.concatenate(draws[name]), confidence)) for name in point}


def paired_bootstrap(
    pr: Sample,
    base: Sample,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Each metric's difference pr − base with its interval, resampling the same rows on both sides.

    Row i of `pr` and row i of `base` must be the same test row (see `pair_predictions`).
    """
    _check(resamples, confidence)
    if len(pr) != len(base):
        raise ValueError(f"paired samples differ in length: {len(pr)} and {len(base)} rows")
    pr_point, base_point = point_metrics(pr), point_metrics(base)
    delta = {name: pr_point[name] - base_point[name] for name in pr_point}
    if not len(pr):
        return {name: Interval(value, math.nan, math.nan) for name, value in delta.items()}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in delta}
    for rows in _row_chunks(np.random.default_rng(seed), len(pr), resamples):
        pr_values, base_values = resampled_metrics(pr, rows), resampled_metrics(base, rows)
        for name in delta:
            draws[name].append(pr_values[name] - base_values[name])
    return {name: Interval(delta[name], *_percentiles(np.concatenate(draws[name]), confidence)) for name in delta}


def unpaired_bootstrap(
    pr: Sample,
    base: Sample,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Each metric's difference pr − base with its interval, resampling each side on its own (different test rows:
    wider than the paired interval, since neither side's luck of the split cancels)."""
    _check(resamples, confidence)
    pr_point, base_point = point_metrics(pr), point_metrics(base)
    delta = {name: pr_point[name] - base_point[name] for name in pr_point}
    if not len(pr) or not len(base):
        return {name: Interval(value, math.nan, math.nan) for name, value in delta.items()}
    rng_pr, rng_base = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    pr_draws = _all_draws(pr, rng_pr, resamples)
    base_draws = _all_draws(base, rng_base, resamples)
    return {name: Interval(delta[name], *_percentiles(pr_draws[name] - base_draws[name], confidence)) for name in delta}


def _all_draws(sample: Sample, rng: np.random.Generator, resamples: int) -> dict[str, np.ndarray]:
    draws: dict[str, list[np.ndarray]] = {}
    for rows in _row_chunks(rng, len(sample), resamples):
        for name, values in resampled_metrics(sample, rows).items():
            draws.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in draws.items()}


# ------------------------------------------------------------------------------------------------------- McNemar
@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired classifications: the rows only one side gets right.

    `base_only`: right on the base, wrong in this branch; `pr_only`: the other way round. Under "no difference in
    accuracy" each such row is equally likely to fall either way, so min(base_only, pr_only) is Binomial(n, 1/2).
    """

    base_only: int
    pr_only: int
    p_value: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping) -> McNemar:
        return cls(int(raw["base_only"]), int(raw["pr_only"]), float(raw["p_value"]))


def mcnemar_exact(base_only: int, pr_only: int) -> float:
    """Two-sided exact p-value of McNemar's test: 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2), at most 1."""
    if base_only < 0 or pr_only < 0:
        raise ValueError(f"counts must not be negative, got {base_only} and {pr_only}")
    discordant = base_only + pr_only
    if discordant == 0:
        return 1.0
    return float(min(1.0, 2 * binom.cdf(min(base_only, pr_only), discordant, 0.5)))


def mcnemar(pr: Sample, base: Sample) -> McNemar:
    """McNemar's exact test on two paired classification samples (same rows, same order)."""
    pr_right = pr.target == pr.prediction
    base_right = base.target == base.prediction
    base_only = int((base_right & ~pr_right).sum())
    pr_only = int((pr_right & ~base_right).sum())
    return McNemar(base_only, pr_only, mcnemar_exact(base_only, pr_only))


# ------------------------------------------------------------------------------------------------------- pairing
@dataclass(frozen=True)
class Pairing:
    """The two sides' rows in the same order when they are the same test rows; else why they are not."""

    pr: pd.DataFrame | None
    base: pd.DataFrame | None
    reason: str | None = None

    @property
    def paired(self) -> bool:
        return self.reason is None


def pair_predictions(pr: pd.DataFrame, base: pd.DataFrame) -> Pairing:
    """Match the rows of two predictions files by id: paired when both hold exactly the same ids, each once, with
    the same target; otherwise the test split differs and the reason says how."""
    for side, frame in (("this PR's", pr), ("the base's", base)):
        if PREDICTION_ID not in frame.columns:
            return Pairing(None, None, f"{side} predictions have no `{PREDICTION_ID}` column")
        if frame[PREDICTION_ID].duplicated().any():
            return Pairing(None, None, f"{side} predictions repeat an `{PREDICTION_ID}`")
    pr_ids = pr[PREDICTION_ID].astype(str)
    base_ids = base[PREDICTION_ID].astype(str)
    merged = pd.merge(
        pr.assign(_key=pr_ids.to_numpy()),
        base.assign(_key=base_ids.to_numpy()),
        on="_key",
        suffixes=("", "_base"),
    )
    same = merged[PREDICTION_TARGET].astype(str) == merged[f"{PREDICTION_TARGET}_base"].astype(str)
    only_pr, only_base = len(pr) - len(merged), len(base) - len(merged)
    differing = int((~same).sum())
    if only_pr or only_base or differing:
        parts = [f"{len(merged) - differing} rows in both"]
        if only_pr:
            parts.append(f"{only_pr} only in this PR")
        if only_base:
            parts.append(f"{only_base} only on the base")
        if differing:
            parts.append(f"{differing} with a different target")
        return Pairing(None, None, "the test split differs (" + ", ".join(parts) + ")")
    order = merged.sort_values("_key", kind="stable")
    columns = [PREDICTION_ID, PREDICTION_TARGET, PREDICTION_VALUE]
    pr_rows = order[columns].reset_index(drop=True)
    base_rows = order[[PREDICTION_ID, f"{PREDICTION_TARGET}_base", f"{PREDICTION_VALUE}_base"]]
    base_rows = base_rows.set_axis(columns, axis=1).reset_index(drop=True)
    return Pairing(pr_rows, base_rows)


# ------------------------------------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class MetricComparison:
    """One metric: this branch's value and interval, the base's, and the interval of their difference."""

    name: str
    pr: Interval
    base: Interval | None = None
    delta: Interval | None = None

    @property
    def lower_is_better(self) -> bool:
        return self.name in LOWER_IS_BETTER

    @property
    def verdict(self) -> str | None:
        """`better`, `worse`, `within noise` (the Δ interval covers 0) or `same` (no row changed); None: no Δ."""
        delta = self.delta
        if delta is None or math.isnan(delta.estimate):
            return None
        if delta.estimate == 0 and delta.low == 0 and delta.high == 0:
            return "same"
        if math.isnan(delta.low) or delta.covers(0.0):
            return "within noise"
        return "better" if (delta.estimate < 0) == self.lower_is_better else "worse"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "pr": self.pr.to_dict(),
            "base": self.base.to_dict() if self.base else None,
            "delta": self.delta.to_dict() if self.delta else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> MetricComparison:
        return cls(
            str(raw["name"]),
            Interval.from_dict(raw["pr"]),
            Interval.from_dict(raw["base"]) if raw.get("base") else None,
            Interval.from_dict(raw["delta"]) if raw.get("delta") else None,
        )


# How this branch was compared with the base.
PAIRED = "paired"  # the same test rows: paired bootstrap and McNemar
UNPAIRED = "unpaired"  # both sides have predictions, on different rows: each side resampled on its own
NO_BASE_PREDICTIONS = "no base predictions"  # the base has no per-row predictions: this branch's intervals only
NO_BASE = "no base"  # nothing to compare with


@dataclass(frozen=True)
class Comparison:
    """Every metric of the task with its interval, and against the base how and how sure."""

    task: str
    rows: int
    metrics: tuple[MetricComparison, ...]
    mode: str = NO_BASE
    base_rows: int | None = None
    note: str | None = None  # why the comparison is not paired
    mcnemar: McNemar | None = None
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def metric(self, name: str) -> MetricComparison | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "rows": self.rows,
            "metrics": [m.to_dict() for m in self.metrics],
            "mode": self.mode,
            "base_rows": self.base_rows,
            "note": self.note,
            "mcnemar": self.mcnemar.to_dict() if self.mcnemar else None,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, raw: Mapping) -> Comparison:
        return cls(
            task=str(raw["task"]),
            rows=int(raw["rows"]),
            metrics=tuple(MetricComparison.from_dict(m) for m in raw["metrics"]),
            mode=str(raw.get("mode", NO_BASE)),
            base_rows=raw.get("base_rows"),
            note=raw.get("note"),
            mcnemar=McNemar.from_dict(raw["mcnemar"]) if raw.get("mcnemar") else None,
            confidence=float(raw.get("confidence", DEFAULT_CONFIDENCE)),
            resamples=int(raw.get("resamples", DEFAULT_RESAMPLES)),
            seed=int(raw.get("seed", DEFAULT_SEED)),
        )


def compare_predictions(
    pr: pd.DataFrame,
    base: pd.DataFrame | None,
    task: str,
    labels: Sequence[str] | None = None,
    has_base: bool = True,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """This branch's predictions against the base's: paired on the same test rows when possible, else unpaired.

    `base` None with `has_base`: there is a base, but it has no predictions (this branch's intervals only).
    """
    settings = dict(resamples=resamples, confidence=confidence, seed=seed)
    if task == "classification":
        seen = set(pr[PREDICTION_TARGET].astype(str)) | set(pr[PREDICTION_VALUE].astype(str))
        if base is not None:
            seen |= set(base[PREDICTION_TARGET].astype(str)) | set(base[PREDICTION_VALUE].astype(str))
        labels = [str(label) for label in labels or ()]
        labels = labels + sorted(seen - set(labels))
    pr_sample = sample_from_frame(pr, task, labels)
    pr_intervals = bootstrap(pr_sample, **settings)
    common = dict(task=task, rows=len(pr_sample), **settings)
    if base is None:
        metrics = tuple(MetricComparison(name, interval) for name, interval in pr_intervals.items())
        if not has_base:
            return Comparison(metrics=metrics, **common)
        note = "the base has no per-row predictions: this PR's intervals only, no Δ interval"
        return Comparison(metrics=metrics, mode=NO_BASE_PREDICTIONS, note=note, **common)
    base_intervals = bootstrap(sample_from_frame(base, task, labels), **settings)
    pairing = pair_predictions(pr, base)
    test = None
    if pairing.paired:
        pr_paired, base_paired = (sample_from_frame(f, task, labels) for f in (pairing.pr, pairing.base))
        deltas = paired_bootstrap(pr_paired, base_paired, **settings)
        test = mcnemar(pr_paired, base_paired) if task == "classification" else None
        mode, note = PAIRED, None
    else:
        deltas = unpaired_bootstrap(pr_sample, sample_from_frame(base, task, labels), **settings)
        mode, note = UNPAIRED, f"not paired: {pairing.reason}; unpaired intervals (wider)"
    metrics = tuple(
        MetricComparison(name, pr_intervals[name], base_intervals[name], deltas[name]) for name in pr_intervals
    )
    return Comparison(metrics=metrics, mode=mode, base_rows=len(base), note=note, mcnemar=test, **common)

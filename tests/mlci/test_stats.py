"""The statistics against known answers: McNemar's exact test against scipy's binomial test and textbook values,
bootstrap intervals' coverage on simulated data, pairing by id, and the comparison's verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from mlci.stats import (
    NO_BASE,
    NO_BASE_PREDICTIONS,
    PAIRED,
    UNPAIRED,
    Comparison,
    Interval,
    MetricComparison,
    Sample,
    bootstrap,
    compare_predictions,
    mcnemar,
    mcnemar_exact,
    pair_predictions,
    paired_bootstrap,
    point_metrics,
    sample_from_frame,
    unpaired_bootstrap,
)

# Coverage is estimated from REPLICATES simulated test sets: its Monte Carlo standard error is about
# sqrt(0.95 * 0.05 / 300) = 0.013, and a percentile bootstrap of a proportion on a few hundred rows covers slightly
# less than its nominal level. A coverage within COVERAGE_TOLERANCE of 0.95 passes.
REPLICATES = 300
RESAMPLES = 500
COVERAGE_TOLERANCE = 0.04


def classification_frame(target: np.ndarray, prediction: np.ndarray, ids=None) -> pd.DataFrame:
    ids = np.arange(len(target)) if ids is None else ids
    return pd.DataFrame({"id": ids, "target": target.astype(str), "prediction": prediction.astype(str)})


# ------------------------------------------------------------------------------------------------------- McNemar
@pytest.mark.parametrize("b, c", [(0, 0), (1, 0), (0, 5), (3, 7), (10, 10), (12, 30), (45, 20), (150, 190)])
def test_mcnemar_exact_matches_scipy_binomtest(b: int, c: int):
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_mcnemar_exact_matches_textbook_values():
    assert mcnemar_exact(1, 6) == pytest.approx(0.125)  # 2 * (1 + 7) / 2**7
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(5, 5) == 1.0


def test_mcnemar_counts_the_rows_only_one_side_gets_right():
    target = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    base = Sample("classification", target, np.array([0, 1, 0, 1, 0, 1, 2, 0]), ("0", "1", "2"))
    pr = Sample("classification", target, np.array([0, 0, 1, 1, 1, 0, 2, 2]), ("0", "1", "2"))
    test = mcnemar(pr, base)
    assert (test.base_only, test.pr_only) == (2, 3)
    assert test.p_value == pytest.approx(binomtest(2, 5, 0.5).pvalue)


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError, match="must not be negative"):
        mcnemar_exact(-1, 3)


# ------------------------------------------------------------------------------------------------------- metrics
def test_point_metrics_match_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    target = rng.integers(0, 4, 200)
    prediction = np.where(rng.random(200) < 0.8, target, rng.integers(0, 4, 200))
    metrics = point_metrics(sample_from_frame(classification_frame(target, prediction), "classification"))
    assert metrics["accuracy"] == pytest.approx(sklearn.accuracy_score(target, prediction))
    assert metrics["macro_f1"] == pytest.approx(sklearn.f1_score(target, prediction, average="macro"))
    actual = rng.normal(size=100)
    predicted = actual + rng.normal(scale=0.3, size=100)
    regression = sample_from_frame(pd.DataFrame({"target": actual, "prediction": predicted}), "regression")
    metrics = point_metrics(regression)
    assert metrics["mae"] == pytest.approx(sklearn.mean_absolute_error(actual, predicted))
    assert metrics["rmse"] == pytest.approx(math.sqrt(sklearn.mean_squared_error(actual, predicted)))


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, 100)
    sample = sample_from_frame(
        classification_frame(target, np.where(rng.random(100) < 0.9, target, 0)), "classification"
    )
    assert bootstrap(sample, resamples=300, seed=1) == bootstrap(sample, resamples=300, seed=1)
    assert bootstrap(sample, resamples=300, seed=1) != bootstrap(sample, resamples=300, seed=2)


def test_bootstrap_chunks_give_the_same_intervals(monkeypatch):
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, 100)
    sample = sample_from_frame(
        classification_frame(target, np.where(rng.random(100) < 0.9, target, 0)), "classification"
    )
    whole = bootstrap(sample, resamples=300)
    monkeypatch.setattr("mlci.stats.CELLS_PER_CHUNK", 1000)  # 10 resamples a chunk
    assert bootstrap(sample, resamples=300) == whole


# ------------------------------------------------------------------------------------------------------- coverage
def _coverage(hits: list[bool]) -> float:
    return float(np.mean(hits))


def test_bootstrap_interval_of_accuracy_covers_the_true_value_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    true_accuracy, rows = 0.9, 269
    hits = []
    for replicate in range(REPLICATES):
        target = rng.integers(0, 10, rows)
        prediction = np.where(rng.random(rows) < true_accuracy, target, (target + 1) % 10)
        sample = Sample("classification", target, prediction, tuple(map(str, range(10))))
        hits.append(bootstrap(sample, resamples=RESAMPLES, seed=replicate)["accuracy"].covers(true_accuracy))
    assert abs(_coverage(hits) - 0.95) <= COVERAGE_TOLERANCE, _coverage(hits)


def test_bootstrap_interval_of_mae_covers_the_true_value_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    rows, scale = 200, 2.0
    true_mae = scale * math.sqrt(2 / math.pi)  # E|N(0, scale²)|
    hits = []
    for replicate in range(REPLICATES):
        target = rng.normal(10, 3, rows)
        sample = Sample("regression", target, target + rng.normal(0, scale, rows))
        hits.append(bootstrap(sample, resamples=RESAMPLES, seed=replicate)["mae"].covers(true_mae))
    assert abs(_coverage(hits) - 0.95) <= COVERAGE_TOLERANCE, _coverage(hits)


def test_paired_interval_of_a_difference_covers_the_true_difference_and_is_narrower_than_unpaired():
    """Two models that agree on most rows: the base right with probability 0.90, the PR with 0.92."""
    rng = np.random.default_rng(11)
    rows, labels = 300, tuple(map(str, range(5)))
    hits, paired_widths, unpaired_widths = [], [], []
    for replicate in range(REPLICATES):
        target = rng.integers(0, 5, rows)
        u = rng.random(rows)  # one draw per row decides both: the models' errors are strongly correlated
        base = np.where(u < 0.90, target, (target + 1) % 5)
        pr = np.where(u < 0.92, target, (target + 1) % 5)
        pr_sample, base_sample = (Sample("classification", target, p, labels) for p in (pr, base))
        delta = paired_bootstrap(pr_sample, base_sample, resamples=RESAMPLES, seed=replicate)["accuracy"]
        hits.append(delta.covers(0.02))
        paired_widths.append(delta.high - delta.low)
        if replicate < 20:
            unpaired = unpaired_bootstrap(pr_sample, base_sample, resamples=RESAMPLES, seed=replicate)["accuracy"]
            unpaired_widths.append(unpaired.high - unpaired.low)
    assert abs(_coverage(hits) - 0.95) <= COVERAGE_TOLERANCE, _coverage(hits)
    assert np.mean(paired_widths) < 0.5 * np.mean(unpaired_widths)


# ------------------------------------------------------------------------------------------------------- pairing
def test_rows_are_paired_by_id_whatever_their_order():
    target = np.array([0, 1, 2, 0, 1])
    pr = classification_frame(target, np.array([0, 1, 2, 0, 0]))
    base = classification_frame(target[::-1], np.array([1, 0, 2, 1, 0]), ids=np.arange(5)[::-1])
    pairing = pair_predictions(pr, base)
    assert pairing.paired
    assert pairing.pr["id"].tolist() == pairing.base["id"].tolist()
    assert (pairing.pr["target"] == pairing.base["target"]).all()


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda f: f.iloc[:4], "the test split differs (4 rows in both, 1 only in this PR)"),
        (
            lambda f: f.assign(target=["0", "1", "2", "0", "2"]),
            "the test split differs (4 rows in both, 1 with a different target)",
        ),
        (lambda f: f.drop(columns="id"), "the base's predictions have no `id` column"),
        (lambda f: f.assign(id=[0, 0, 1, 2, 3]), "the base's predictions repeat an `id`"),
    ],
)
def test_a_differing_split_is_not_paired_and_says_why(change, reason):
    target = np.array([0, 1, 2, 0, 1])
    pr = classification_frame(target, target)
    assert pair_predictions(pr, change(classification_frame(target, target))).reason == reason


# ------------------------------------------------------------------------------------------------------- comparison
def _two_models(rows: int, pr_right: float, base_right: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 10, rows)
    u = rng.random(rows)
    pr = classification_frame(target, np.where(u < pr_right, target, (target + 3) % 10))
    base = classification_frame(target, np.where(u < base_right, target, (target + 3) % 10))
    return pr, base


def test_a_one_row_change_is_within_noise():
    pr, base = _two_models(269, 0.974, 0.97)
    comparison = compare_predictions(pr, base, "classification")
    accuracy = comparison.metric("accuracy")
    assert comparison.mode == PAIRED and comparison.note is None
    assert accuracy.delta.estimate > 0 and accuracy.delta.covers(0.0)
    assert accuracy.verdict == "within noise"
    assert comparison.mcnemar.base_only == 0 and comparison.mcnemar.p_value > 0.05


def test_a_large_drop_is_worse_and_mcnemar_rejects():
    pr, base = _two_models(269, 0.80, 0.97)
    comparison = compare_predictions(pr, base, "classification")
    assert comparison.metric("accuracy").verdict == "worse"
    assert comparison.metric("macro_f1").verdict == "worse"
    assert comparison.mcnemar.p_value < 1e-6


def test_identical_predictions_are_the_same():
    pr, _ = _two_models(100, 0.9, 0.9)
    assert compare_predictions(pr, pr.copy(), "classification").metric("accuracy").verdict == "same"


def test_lower_is_better_for_regression_errors():
    rng = np.random.default_rng(5)
    target = rng.normal(0, 1, 300)
    pr = pd.DataFrame({"id": range(300), "target": target, "prediction": target + rng.normal(0, 0.2, 300)})
    base = pd.DataFrame({"id": range(300), "target": target, "prediction": target + rng.normal(0, 1.0, 300)})
    comparison = compare_predictions(pr, base, "regression")
    assert [m.name for m in comparison.metrics] == ["mae", "rmse"]
    assert comparison.metric("mae").verdict == "better" and comparison.mcnemar is None


def test_without_base_predictions_only_this_branch_has_intervals():
    pr, _ = _two_models(100, 0.9, 0.9)
    comparison = compare_predictions(pr, None, "classification")
    assert comparison.mode == NO_BASE_PREDICTIONS and "no per-row predictions" in comparison.note
    assert comparison.metric("accuracy").delta is None and comparison.metric("accuracy").verdict is None
    assert compare_predictions(pr, None, "classification", has_base=False).mode == NO_BASE


def test_a_different_split_falls_back_to_unpaired_intervals():
    pr, base = _two_models(200, 0.9, 0.9)
    comparison = compare_predictions(pr, base.iloc[:150], "classification")
    assert comparison.mode == UNPAIRED and comparison.mcnemar is None
    assert (
        comparison.note
        == "not paired: the test split differs (150 rows in both, 50 only in this PR); unpaired intervals (wider)"
    )
    assert comparison.metric("accuracy").delta is not None


def test_comparison_round_trips_through_its_dict():
    pr, base = _two_models(100, 0.9, 0.85)
    comparison = compare_predictions(pr, base, "classification", resamples=200)
    assert Comparison.from_dict(comparison.to_dict()) == comparison


def test_verdict_follows_the_metric_direction():
    worse_error = MetricComparison("rmse", Interval(1, 0.9, 1.1), Interval(0.8, 0.7, 0.9), Interval(0.2, 0.1, 0.3))
    assert worse_error.verdict == "worse"
    better_accuracy = MetricComparison("accuracy", Interval(0.9, 0.8, 1), None, Interval(0.05, 0.01, 0.09))
    assert better_accuracy.verdict == "better"

"""Drift tests on generated frames: each family fires on its own kind of shift, stays quiet under no drift, and the
combined rule's false-alarm rate stays within the level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlci.contract import contract_from_dict
from mlci.drift import (
    CHI2_FAMILY,
    KS_FAMILY,
    MMD_FAMILY,
    TARGET_CHI2,
    TARGET_KS,
    compare_datasets,
    decision_rule,
    detect_drift,
    holm_adjust,
    mmd_permutation_test,
    standardise,
)
from tests.mlci.frames import make_contract, make_frame

LEVEL = 0.05


@pytest.fixture
def one_torch_thread():
    """Kernels of a few hundred rows: on a busy machine, torch's thread pool costs more than the arithmetic."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def by_name(result) -> dict:
    return {test.name: test for test in result.tests}


def test_holm_adjust_matches_the_step_down_definition():
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])


def test_families_follow_the_contract_and_share_the_level_by_bonferroni():
    contract = make_contract(numeric=3, categories=1)
    result = detect_drift(make_frame(contract, 200, 1), make_frame(contract, 200, 2), contract, permutations=50)
    assert [t.name for t in result.tests] == [KS_FAMILY, CHI2_FAMILY, TARGET_CHI2, MMD_FAMILY]
    assert all(t.threshold == pytest.approx(LEVEL / 4) for t in result.tests)
    assert decision_rule(result).startswith(
        "Decision rule: drift is reported when any of the 4 test families rejects at α/4 = 0.0125 "
    )
    numeric_only = make_contract(numeric=3, categories=0)
    result = detect_drift(
        make_frame(numeric_only, 100, 1), make_frame(numeric_only, 100, 2), numeric_only, permutations=20
    )
    assert [t.name for t in result.tests] == [KS_FAMILY, TARGET_CHI2, MMD_FAMILY]
    assert result.threshold == pytest.approx(LEVEL / 3)


def test_no_drift_between_two_samples_of_one_distribution():
    contract = make_contract(numeric=4, categories=2)
    comparison = compare_datasets(
        make_frame(contract, 300, 1), make_frame(contract, 300, 2), contract, level=LEVEL, permutations=200
    )
    assert not comparison.drift.drift, [(t.name, t.p_value) for t in comparison.drift.tests]
    assert comparison.drift.drifted_features == ()
    assert (comparison.base_rows, comparison.pr_rows) == (300, 300)
    assert list(comparison.pr_target) == ["cat", "dog", "eel"] and sum(comparison.pr_target.values()) == 300


def test_false_alarm_rate_over_repeated_no_drift_samples_is_within_the_level(one_torch_thread):
    """40 pairs of samples of one distribution: the exact tests' p-values are uniform, and the combined rule
    (any family at α/families) alarms no more often than α allows."""
    contract = make_contract(numeric=3, categories=1)
    pairs, permutations = 40, 99
    p_values, alarms = [], 0
    for seed in range(pairs):
        result = detect_drift(
            make_frame(contract, 120, 2 * seed),
            make_frame(contract, 120, 2 * seed + 1),
            contract,
            level=LEVEL,
            permutations=permutations,
            seed=seed,
        )
        tests = by_name(result)
        p_values.append((tests[TARGET_CHI2].p_value, tests[MMD_FAMILY].p_value))
        alarms += result.drift
    p_values = np.array(p_values)
    # At a level of 0.2 the count of rejections in 40 pairs lies, with 99.9% probability, in this binomial range.
    low, high = stats.binom.ppf([0.0005, 0.9995], pairs, 0.2)
    for column, name in ((0, "chi-squared on the target"), (1, "MMD")):
        rejections = int((p_values[:, column] <= 0.2).sum())
        assert low <= rejections <= high, f"{name}: {rejections} of {pairs} at level 0.2"
    assert alarms <= stats.binom.ppf(0.9995, pairs, LEVEL), f"{alarms} false alarms of {pairs}"


def test_mmd_detects_a_small_scale_shift_only_because_it_standardises():
    """One column in the thousands and twelve near 1 whose spread grows 1.5x: on raw values the large column sets
    the kernel's bandwidth and hides the change; z-scored, every column counts."""
    features = {"large": {"type": "float"}, **{f"small{i}": {"type": "float"} for i in range(12)}}
    contract = contract_from_dict(
        {"path": "d.csv", "target": {"name": "y", "task": "classification", "classes": [0, 1]}, "features": features}
    )
    rng = np.random.default_rng(0)

    def sample(spread: float) -> pd.DataFrame:
        frame = pd.DataFrame({"large": rng.normal(0, 1000, 200)})
        for i in range(12):
            frame[f"small{i}"] = rng.normal(0, spread, 200)
        frame["y"] = rng.integers(0, 2, 200)
        return frame

    base, pr = sample(1.0), sample(1.5)
    columns = list(features)
    _, raw_p = mmd_permutation_test(base[columns].to_numpy(), pr[columns].to_numpy(), permutations=200)
    standardised = by_name(detect_drift(base, pr, contract, level=LEVEL, permutations=200))[MMD_FAMILY]
    assert raw_p > 0.1, f"raw MMD p = {raw_p}"
    assert standardised.drift, f"standardised MMD p = {standardised.p_value}"
    assert standardised.detail.startswith("13 features z-scored on the pooled mean and SD;")


def test_standardise_uses_the_pooled_moments_drops_constant_columns_and_imputes_nulls():
    base = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan]])
    pr = np.array([[5.0, 5.0, np.nan], [np.nan, 5.0, np.nan]])
    scaled_base, scaled_pr, kept = standardise(base, pr)
    assert kept.tolist() == [True, False, False]  # constant and all-null columns dropped
    pooled = np.array([1.0, 3.0, 5.0])
    np.testing.assert_allclose(scaled_base[:, 0], (pooled[:2] - pooled.mean()) / pooled.std())
    assert scaled_pr[1, 0] == 0.0  # a null is the pooled mean


def test_category_shift_is_flagged_by_chi_squared_and_names_the_column():
    contract = make_contract(numeric=2, categories=2)
    base = make_frame(contract, 400, 1)
    pr = make_frame(contract, 400, 2)
    pr["c1"] = np.random.default_rng(3).choice(["red", "green", "blue"], size=400, p=[0.6, 0.3, 0.1])
    result = detect_drift(base, pr, contract, level=LEVEL, permutations=100)
    tests = by_name(result)
    assert tests[CHI2_FAMILY].drift and "largest χ² on `c1`" in tests[CHI2_FAMILY].detail
    assert not tests[KS_FAMILY].drift and not tests[TARGET_CHI2].drift
    assert result.drifted_features == ("c1",)


def test_class_balance_shift_is_flagged_on_the_target_only():
    contract = make_contract(numeric=2, categories=0)
    base = make_frame(contract, 400, 1)
    pr = make_frame(contract, 400, 2, class_weights=(0.6, 0.3, 0.1))
    tests = by_name(detect_drift(base, pr, contract, level=LEVEL, permutations=100))
    assert tests[TARGET_CHI2].drift
    assert not tests[KS_FAMILY].drift and not tests[MMD_FAMILY].drift


def test_regression_target_shift_is_flagged_by_kolmogorov_smirnov_on_the_target():
    contract = make_contract(numeric=2, categories=0, task="regression", target="price")
    base = make_frame(contract, 300, 1)
    pr = make_frame(contract, 300, 2, target_shift=1.5)
    comparison = compare_datasets(base, pr, contract, level=LEVEL, permutations=100)
    tests = by_name(comparison.drift)
    assert tests[TARGET_KS].drift and tests[TARGET_KS].detail == "`price` values, base vs PR"
    assert TARGET_CHI2 not in tests and not tests[KS_FAMILY].drift
    assert set(comparison.pr_target) == {"mean", "std", "min", "max"}
    assert comparison.pr_target["mean"] == pytest.approx(11.5, abs=0.4)


def test_nulls_are_dropped_per_column_and_imputed_for_mmd():
    contract = make_contract(numeric=3, categories=1)
    base, pr = make_frame(contract, 300, 1), make_frame(contract, 300, 2)
    rng = np.random.default_rng(5)
    for frame in (base, pr):
        for column in ("x0", "x1", "c0"):
            frame.loc[rng.random(len(frame)) < 0.2, column] = np.nan
    result = detect_drift(base, pr, contract, level=LEVEL, permutations=100)
    assert not result.drift, [(t.name, t.p_value) for t in result.tests]
    assert all(np.isfinite([t.statistic, t.p_value]).all() for t in result.tests)
    pr["x2"] = np.nan
    notes = detect_drift(base, pr, contract, level=LEVEL, permutations=20).notes
    assert notes == ("`x2` has no values in the PR data: not tested",)


def test_text_features_are_skipped_with_a_note_and_missing_columns_named():
    contract = make_contract(numeric=2, categories=0, text=1)
    base, pr = make_frame(contract, 100, 1), make_frame(contract, 100, 2).drop(columns=["x1"])
    result = detect_drift(base, pr, contract, permutations=20)
    assert result.notes == ("`x1` is not in the PR data: not compared", "`t0` is text: not tested for drift")
    assert "Holm-adjusted over 1 feature;" in by_name(result)[KS_FAMILY].detail


def test_classes_absent_from_both_samples_still_appear_in_the_target_counts():
    contract = make_contract(numeric=1, categories=0, classes=["cat", "dog", "eel", "fox"])
    base = make_frame(contract, 90, 1, class_weights=(0.4, 0.3, 0.3, 0.0))
    comparison = compare_datasets(base, base.copy(), contract, permutations=20)
    assert comparison.base_target["fox"] == 0 and list(comparison.base_target) == ["cat", "dog", "eel", "fox"]
    assert not comparison.drift.drift


def test_level_out_of_range_is_refused():
    contract = make_contract()
    frame = make_frame(contract, 20, 1)
    with pytest.raises(ValueError, match="^drift level must be between 0 and 1, got 1.5$"):
        detect_drift(frame, frame, contract, level=1.5)


def test_mmd_uses_a_bounded_random_subset_of_large_samples(monkeypatch):
    import mlci.drift

    monkeypatch.setattr(mlci.drift, "MMD_MAX_ROWS", 50)
    contract = make_contract(numeric=2, categories=0)
    result = detect_drift(make_frame(contract, 80, 1), make_frame(contract, 30, 2), contract, permutations=20)
    assert "; a random 50 rows per side at most;" in by_name(result)[MMD_FAMILY].detail

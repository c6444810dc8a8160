"""Drift tests on the real digits: no alarm between random halves, an alarm on a shifted copy, a false-alarm rate
near the level over repeated no-drift splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from digitnet.data import IMAGE_SIDE, PIXEL_COLUMNS
from digitnet.drift import (
    FAMILIES,
    compare_datasets,
    detect_drift,
    gaussian_kernel,
    holm_adjust,
    ks_per_feature,
    label_chi_squared,
    mmd_permutation_pvalue,
)

LEVEL = 0.05


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    middle = len(frame) // 2
    return frame.iloc[order[:middle]], frame.iloc[order[middle:]]


def shifted_one_pixel_right(frame: pd.DataFrame) -> pd.DataFrame:
    images = frame[PIXEL_COLUMNS].to_numpy().reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    moved = np.zeros_like(images)
    moved[:, :, 1:] = images[:, :, :-1]
    out = frame.copy()
    out[PIXEL_COLUMNS] = moved.reshape(len(frame), -1)
    return out


def test_holm_adjust_matches_the_step_down_definition():
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adjusted, [0.04, 0.09, 0.09, 0.5])


def test_no_drift_between_two_random_halves_of_the_real_data(digits):
    base, pr = halves(digits, seed=0)
    comparison = compare_datasets(base, pr, level=LEVEL, permutations=500)
    assert not comparison.drift.drift, [(t.name, t.p_value) for t in comparison.drift.tests]
    assert comparison.drift.drifted_features == ()
    assert comparison.base_rows + comparison.pr_rows == len(digits)
    assert sum(comparison.pr_label_counts.values()) == comparison.pr_rows


def test_one_pixel_shift_is_flagged_by_ks_and_mmd(digits):
    base, pr = halves(digits, seed=0)
    comparison = compare_datasets(base, shifted_one_pixel_right(pr), level=LEVEL, permutations=500)
    by_name = {test.name: test for test in comparison.drift.tests}
    assert comparison.drift.drift
    assert by_name["Kolmogorov-Smirnov per feature"].drift
    assert by_name["MMD on features"].drift
    assert not by_name["Chi-squared on labels"].drift  # the labels did not change
    assert len(comparison.drift.drifted_features) > 10


def test_class_subset_is_flagged_by_chi_squared_on_labels(digits):
    base, pr = halves(digits, seed=0)
    pr = pr[pr["label"] != 7]  # a PR that lost every 7
    comparison = compare_datasets(base, pr, level=LEVEL, permutations=200)
    by_name = {test.name: test for test in comparison.drift.tests}
    assert by_name["Chi-squared on labels"].drift
    assert "7" not in comparison.pr_label_counts


def test_level_out_of_range_is_refused(digits):
    base, pr = halves(digits, seed=0)
    with pytest.raises(ValueError, match="^drift level must be between 0 and 1, got 1.5$"):
        detect_drift(
            base[PIXEL_COLUMNS].to_numpy(),
            base["label"],
            pr[PIXEL_COLUMNS].to_numpy(),
            pr["label"],
            PIXEL_COLUMNS,
            level=1.5,
        )


@pytest.mark.slow  # about 14 s on 2 cores
def test_false_alarm_rate_over_repeated_no_drift_splits_is_near_the_level(digits):
    """40 random half-splits of the same data: each family and the combined rule alarm about as often as their level.

    The pooled sample is the whole data set every time, so its kernel is computed once and reordered per split.
    """
    splits, permutations = 40, 99
    features = digits[PIXEL_COLUMNS].to_numpy(dtype=np.float64)
    labels = digits["label"].astype(str).to_numpy()
    kernel = gaussian_kernel(features)
    middle = len(digits) // 2
    p_values = []
    for seed in range(splits):
        order = np.random.default_rng(1000 + seed).permutation(len(digits))
        x, y = order[:middle], order[middle:]
        _, ks_p = ks_per_feature(features[x], features[y])
        _, chi2_p = label_chi_squared(labels[x].tolist(), labels[y].tolist())
        reordered = kernel[order][:, order]
        _, mmd_p = mmd_permutation_pvalue(reordered, middle, permutations=permutations, seed=seed)
        p_values.append((holm_adjust(ks_p).min(), chi2_p, mmd_p))
    p_values = np.array(p_values)
    # The exact tests (MMD by permutation; chi-squared asymptotically) have uniform p-values under no drift: at a
    # level of 0.2 the count of alarms in 40 splits lies, with 99.9% probability, in the binomial range below.
    low, high = stats.binom.ppf([0.0005, 0.9995], splits, 0.2)
    for column, name in ((1, "chi-squared"), (2, "MMD")):
        alarms = int((p_values[:, column] <= 0.2).sum())
        assert low <= alarms <= high, f"{name}: {alarms} alarms of {splits} at level 0.2"
    # The combined rule (any family at LEVEL/3) must not alarm more often than LEVEL allows.
    combined = int((p_values.min(axis=1) <= LEVEL / FAMILIES).sum())
    assert combined <= stats.binom.ppf(0.9995, splits, LEVEL), f"{combined} false alarms of {splits}"

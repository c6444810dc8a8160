"""Data drift between the base branch's data and a PR's: KS per feature, chi-squared on labels, MMD on features.

Decision rule (stated in the report): the three test families share the level α by Bonferroni, each tested at α/3,
so the chance of a false alarm when nothing drifted is at most α. Within the KS family the per-feature p-values are
Holm-adjusted (family-wise error ≤ α/3 over all features). Drift is reported when any family rejects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # torch and scipy load on first use: `digitnet report` without a data change never needs them
    import torch

DEFAULT_LEVEL = 0.05
DEFAULT_PERMUTATIONS = 1000
FAMILIES = 3  # KS, chi-squared, MMD
PERMUTATION_CHUNK = 250  # permutations scored per matrix product (bounds memory at N x chunk)
BANDWIDTH_SAMPLE = 1000  # rows whose pairwise distances set the kernel bandwidth
TIE_TOLERANCE = 1e-12  # a permuted statistic this close to the observed one counts as a tie (not below it)


@dataclass(frozen=True)
class DriftTest:
    """One test family's outcome: the statistic, its p-value and the threshold it was held to."""

    name: str
    statistic: float
    p_value: float
    threshold: float
    detail: str

    @property
    def drift(self) -> bool:
        return self.p_value <= self.threshold


@dataclass(frozen=True)
class DriftResult:
    level: float
    tests: tuple[DriftTest, ...]
    drifted_features: tuple[str, ...]

    @property
    def drift(self) -> bool:
        return any(test.drift for test in self.tests)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: adjusted p-values controlling the family-wise error rate."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty_like(p)
    adjusted[order] = adjusted_sorted
    return adjusted


def ks_per_feature(base: np.ndarray, pr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample Kolmogorov-Smirnov statistic and raw p-value for each column."""
    from scipy import stats

    result = stats.ks_2samp(base, pr, axis=0, method="asymp")
    return np.atleast_1d(result.statistic), np.atleast_1d(result.pvalue)


def label_chi_squared(base_labels: Sequence, pr_labels: Sequence) -> tuple[float, float]:
    """Chi-squared test of homogeneity on the label counts (labels seen in neither sample are left out)."""
    from scipy import stats

    classes = sorted(set(base_labels) | set(pr_labels))
    counts = np.array(
        [[np.sum(np.asarray(labels) == label) for label in classes] for labels in (base_labels, pr_labels)],
        dtype=np.float64,
    )
    if len(classes) < 2:
        return 0.0, 1.0
    statistic, p_value, _, _ = stats.chi2_contingency(counts, correction=False)
    return float(statistic), float(p_value)


def gaussian_kernel(pooled: np.ndarray, seed: int = 0, bandwidth_sample: int = BANDWIDTH_SAMPLE) -> torch.Tensor:
    """Gaussian kernel matrix of the pooled sample; the bandwidth is the median squared distance.

    The median is taken over a random subset of rows drawn without regard to which sample a row came from, so
    the kernel stays the same under any relabelling of the rows (what the permutation test needs) and is cheap.
    """
    import torch

    points = torch.as_tensor(pooled, dtype=torch.float64)
    squared = torch.cdist(points, points).pow_(2)
    generator = torch.Generator().manual_seed(seed)
    subset = torch.randperm(len(points), generator=generator)[:bandwidth_sample]
    sampled = squared[subset][:, subset]
    positive = sampled[sampled > 0]
    bandwidth = positive.median() if positive.numel() else torch.tensor(1.0, dtype=torch.float64)
    return squared.div_(-bandwidth).exp_()


def mmd_permutation_pvalue(
    kernel: torch.Tensor, n_x: int, permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0
) -> tuple[float, float]:
    """Squared MMD of rows [0, n_x) against the rest of `kernel`, and its permutation p-value.

    Each permutation is a sign vector s (1/n_x on one side, -1/n_y on the other) and its statistic is sᵀKs,
    so a chunk of permutations is scored by one matrix product instead of a loop.
    """
    import torch

    n = kernel.shape[0]

    def weights(in_x: torch.Tensor) -> torch.Tensor:
        return torch.where(in_x, 1.0 / n_x, -1.0 / (n - n_x)).to(torch.float64)

    observed_signs = weights(torch.arange(n) < n_x).unsqueeze(1)
    observed = float((observed_signs * (kernel @ observed_signs)).sum())
    generator = torch.Generator().manual_seed(seed)
    exceed = 0
    for start in range(0, permutations, PERMUTATION_CHUNK):
        count = min(PERMUTATION_CHUNK, permutations - start)
        ranks = torch.argsort(torch.rand(count, n, generator=generator), dim=1)
        signs = weights(ranks < n_x).T  # n x count: in a permutation, row i goes to x when its rank is below n_x
        scores = (signs * (kernel @ signs)).sum(dim=0)
        exceed += int((scores >= observed - TIE_TOLERANCE).sum())
    return observed, (1 + exceed) / (1 + permutations)


def mmd_permutation_test(
    x: np.ndarray, y: np.ndarray, permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0
) -> tuple[float, float]:
    """Squared MMD between two samples (Gaussian kernel) and its permutation p-value."""
    kernel = gaussian_kernel(np.concatenate([x, y]), seed=seed)
    return mmd_permutation_pvalue(kernel, len(x), permutations=permutations, seed=seed)


def detect_drift(
    base_features: np.ndarray,
    base_labels: Sequence,
    pr_features: np.ndarray,
    pr_labels: Sequence,
    feature_names: Sequence[str],
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> DriftResult:
    """Run the three test families, each at level/3, and name the features whose KS test rejects."""
    if not 0 < level < 1:
        raise ValueError(f"drift level must be between 0 and 1, got {level}")
    threshold = level / FAMILIES
    ks_statistics, ks_p = ks_per_feature(base_features, pr_features)
    ks_adjusted = holm_adjust(ks_p)
    worst = int(np.argmin(ks_p))  # the smallest raw p-value also has the smallest Holm-adjusted one
    drifted = tuple(name for name, p in zip(feature_names, ks_adjusted) if p <= threshold)
    chi2, chi2_p = label_chi_squared(list(base_labels), list(pr_labels))
    mmd, mmd_p = mmd_permutation_test(base_features, pr_features, permutations=permutations, seed=seed)
    tests = (
        DriftTest(
            "Kolmogorov-Smirnov per feature",
            float(ks_statistics[worst]),
            float(ks_adjusted[worst]),
            threshold,
            f"largest D on `{feature_names[worst]}`; Holm-adjusted over {len(feature_names)} features; "
            f"{len(drifted)} drifted",
        ),
        DriftTest("Chi-squared on labels", chi2, chi2_p, threshold, "label counts, base vs PR"),
        DriftTest(
            "MMD on features",
            mmd,
            mmd_p,
            threshold,
            f"Gaussian kernel, median-distance bandwidth, {permutations} permutations",
        ),
    )
    return DriftResult(level=level, tests=tests, drifted_features=drifted)


@dataclass(frozen=True)
class DataComparison:
    """What the report says about a data change: sizes, label counts, and the drift tests."""

    base_rows: int
    pr_rows: int
    base_label_counts: dict[str, int]
    pr_label_counts: dict[str, int]
    drift: DriftResult


def compare_datasets(
    base: pd.DataFrame,
    pr: pd.DataFrame,
    label_column: str = "label",
    ignore_columns: Sequence[str] = ("id",),
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> DataComparison:
    """Compare two versions of the raw data on the features both have in common."""
    features = [c for c in pr.columns if c in base.columns and c != label_column and c not in ignore_columns]

    def label_counts(frame: pd.DataFrame) -> dict[str, int]:
        counts = frame[label_column].astype(str).value_counts()
        return {label: int(counts[label]) for label in sorted(counts.index, key=_natural_key)}

    drift = detect_drift(
        base[features].to_numpy(dtype=np.float64),
        base[label_column].astype(str).tolist(),
        pr[features].to_numpy(dtype=np.float64),
        pr[label_column].astype(str).tolist(),
        features,
        level=level,
        permutations=permutations,
        seed=seed,
    )
    return DataComparison(len(base), len(pr), label_counts(base), label_counts(pr), drift)


def _natural_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)

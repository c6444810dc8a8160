"""Data drift between the base branch's data and a PR's, with tests picked per column type from the data contract.

Test families (each present only when the contract has such columns):
- numeric features (int, float): a two-sample Kolmogorov-Smirnov test per feature, Holm-adjusted over the features;
- category features: a chi-squared test of homogeneity per feature, Holm-adjusted over the features;
- the target: chi-squared on the class counts (classification) or Kolmogorov-Smirnov (regression);
- the numeric features jointly: MMD with a Gaussian kernel on standardised features, by permutation.
Text features are not tested (the report says so). Decision rule (stated in the report): the families share the level
α by Bonferroni, each tested at α/(number of families), so the chance of a false alarm when nothing drifted is at
most α. Drift is reported when any family rejects.

MMD standardises each numeric feature with the pooled (base and PR) mean and standard deviation first: the kernel's
bandwidth is one number for all features, so without it one large-scale column swamps every small-scale one.
Nulls: the per-column tests drop them; MMD imputes them with the pooled mean (0 after standardising).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlci.contract import DataContract

if TYPE_CHECKING:  # torch and scipy load on first use: a report without a data change never needs them
    import torch

DEFAULT_LEVEL = 0.05
DEFAULT_PERMUTATIONS = 1000
PERMUTATION_CHUNK = 250  # permutations scored per matrix product (bounds memory at N x chunk)
BANDWIDTH_SAMPLE = 1000  # rows whose pairwise distances set the kernel bandwidth
MMD_MAX_ROWS = 2500  # rows per side the MMD kernel uses (a random subset beyond that: the kernel is N x N in memory)
TIE_TOLERANCE = 1e-12  # a permuted statistic this close to the observed one counts as a tie (not below it)

KS_FAMILY = "Kolmogorov-Smirnov per numeric feature"
CHI2_FAMILY = "Chi-squared per category feature"
TARGET_CHI2 = "Chi-squared on the target classes"
TARGET_KS = "Kolmogorov-Smirnov on the target"
MMD_FAMILY = "MMD on standardised numeric features"


@dataclass(frozen=True)
class DriftTest:
    """One test family's outcome: the statistic, its p-value (adjusted within the family) and its threshold."""

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
    """Every family's test, the features whose own test rejects, and notes on what was not tested."""

    level: float
    tests: tuple[DriftTest, ...]
    drifted_features: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def drift(self) -> bool:
        return any(test.drift for test in self.tests)

    @property
    def threshold(self) -> float:
        return self.level / max(len(self.tests), 1)


def decision_rule(result: DriftResult) -> str:
    """The rule the verdict follows, in one sentence for the report."""
    families = len(result.tests)
    return (
        f"Decision rule: drift is reported when any of the {families} test families rejects at "
        f"α/{families} = {result.threshold:.4f} (Bonferroni over the families, so the false-alarm rate is at most "
        f"α = {result.level:g}); per-feature p-values are Holm-adjusted over the features of their family first."
    )


# ------------------------------------------------------------------------------------------------------- the tests
def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: adjusted p-values controlling the family-wise error rate."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty_like(p)
    adjusted[order] = adjusted_sorted
    return adjusted


def ks_test(base: np.ndarray, pr: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value of one column (nulls dropped)."""
    from scipy import stats

    base, pr = base[~np.isnan(base)], pr[~np.isnan(pr)]
    result = stats.ks_2samp(base, pr, method="asymp")
    return float(result.statistic), float(result.pvalue)


def chi_squared(base_values: Sequence, pr_values: Sequence) -> tuple[float, float]:
    """Chi-squared test of homogeneity on the counts of each value (values seen in neither sample are left out)."""
    from scipy import stats

    base_counts = pd.Series(list(base_values), dtype=object).value_counts()
    pr_counts = pd.Series(list(pr_values), dtype=object).value_counts()
    values = sorted(set(base_counts.index) | set(pr_counts.index), key=str)
    if len(values) < 2:
        return 0.0, 1.0
    counts = np.array([[counts.get(v, 0) for v in values] for counts in (base_counts, pr_counts)], dtype=np.float64)
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
    """Squared MMD between two samples (Gaussian kernel, features as given) and its permutation p-value."""
    kernel = gaussian_kernel(np.concatenate([x, y]), seed=seed)
    return mmd_permutation_pvalue(kernel, len(x), permutations=permutations, seed=seed)


def standardise(base: np.ndarray, pr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both samples z-scored with the pooled mean and standard deviation, nulls set to the pooled mean (0).

    Returns (base, pr, kept): columns constant in the pooled sample (or all null) are dropped; `kept` marks the rest.
    """
    pooled = np.concatenate([base, pr])
    with warnings.catch_warnings():  # an all-null column warns "mean of empty slice"; it is dropped below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(pooled, axis=0)
        std = np.nanstd(pooled, axis=0)
    kept = np.isfinite(std) & (std > 0)

    def scale(sample: np.ndarray) -> np.ndarray:
        scaled = (sample[:, kept] - mean[kept]) / std[kept]
        return np.nan_to_num(scaled, nan=0.0)

    return scale(base), scale(pr), kept


# ------------------------------------------------------------------------------------------------------- families
def _per_feature_family(
    name: str, names: Sequence[str], results: Sequence[tuple[float, float]], threshold: float, statistic: str
) -> tuple[DriftTest, tuple[str, ...]]:
    statistics = np.array([s for s, _ in results])
    raw = np.array([p for _, p in results])
    adjusted = holm_adjust(raw)
    worst = int(np.argmin(raw))  # the smallest raw p-value also has the smallest Holm-adjusted one
    drifted = tuple(n for n, p in zip(names, adjusted) if p <= threshold)
    detail = (
        f"largest {statistic} on `{names[worst]}`; Holm-adjusted over {len(names)} feature"
        f"{'s' if len(names) != 1 else ''}; {len(drifted)} drifted"
    )
    return DriftTest(name, float(statistics[worst]), float(adjusted[worst]), threshold, detail), drifted


def detect_drift(
    base: pd.DataFrame,
    pr: pd.DataFrame,
    contract: DataContract,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> DriftResult:
    """Run each test family the contract's columns call for at level/(number of families)."""
    if not 0 < level < 1:
        raise ValueError(f"drift level must be between 0 and 1, got {level}")
    notes: list[str] = []
    numeric, categorical = [], []
    for feature in contract.features:
        missing = [side for side, frame in (("base", base), ("PR", pr)) if feature.name not in frame.columns]
        if missing:
            notes.append(f"`{feature.name}` is not in the {' or '.join(missing)} data: not compared")
        elif feature.numeric:
            numeric.append(feature.name)
        elif feature.type == "category":
            categorical.append(feature.name)
        else:
            notes.append(f"`{feature.name}` is text: not tested for drift")
    numeric = [n for n in numeric if _testable(base[n], pr[n], notes, n)]
    categorical = [n for n in categorical if _testable(base[n], pr[n], notes, n)]
    target = contract.target.name
    has_target = target in base.columns and target in pr.columns
    if not has_target:
        notes.append(f"the target `{target}` is not in both data files: not compared")

    base_numeric = base[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    pr_numeric = pr[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    base_scaled, pr_scaled, kept = standardise(base_numeric, pr_numeric) if numeric else (None, None, None)
    run_mmd = kept is not None and bool(kept.any())
    if numeric and not run_mmd:
        notes.append("every numeric feature is constant: MMD not run")

    families = bool(numeric) + bool(categorical) + has_target + run_mmd
    if families == 0:
        return DriftResult(level=level, tests=(), drifted_features=(), notes=tuple(notes))
    threshold = level / families
    tests: list[DriftTest] = []
    drifted: list[str] = []
    if numeric:
        results = [ks_test(base_numeric[:, i], pr_numeric[:, i]) for i in range(len(numeric))]
        test, names = _per_feature_family(KS_FAMILY, numeric, results, threshold, "D")
        tests.append(test)
        drifted += names
    if categorical:
        results = [chi_squared(_values(base[n]), _values(pr[n])) for n in categorical]
        test, names = _per_feature_family(CHI2_FAMILY, categorical, results, threshold, "χ²")
        tests.append(test)
        drifted += names
    if has_target:
        if contract.target.is_classification:
            statistic, p_value = chi_squared(_values(base[target]), _values(pr[target]))
            tests.append(DriftTest(TARGET_CHI2, statistic, p_value, threshold, f"`{target}` class counts, base vs PR"))
        else:
            statistic, p_value = ks_test(
                pd.to_numeric(base[target], errors="coerce").to_numpy(dtype=np.float64),
                pd.to_numeric(pr[target], errors="coerce").to_numpy(dtype=np.float64),
            )
            tests.append(DriftTest(TARGET_KS, statistic, p_value, threshold, f"`{target}` values, base vs PR"))
    if run_mmd:
        rng = np.random.default_rng(seed)
        base_rows, pr_rows = (
            sample[rng.choice(len(sample), MMD_MAX_ROWS, replace=False)] if len(sample) > MMD_MAX_ROWS else sample
            for sample in (base_scaled, pr_scaled)
        )
        statistic, p_value = mmd_permutation_test(base_rows, pr_rows, permutations=permutations, seed=seed)
        dropped = len(numeric) - int(kept.sum())
        subset = len(base_rows) < len(base_scaled) or len(pr_rows) < len(pr_scaled)
        detail = (
            f"{int(kept.sum())} features z-scored on the pooled mean and SD"
            + (f" ({dropped} constant dropped)" if dropped else "")
            + (f"; a random {MMD_MAX_ROWS} rows per side at most" if subset else "")
            + f"; Gaussian kernel, median-distance bandwidth, {permutations} permutations"
        )
        tests.append(DriftTest(MMD_FAMILY, statistic, p_value, threshold, detail))
    return DriftResult(level=level, tests=tuple(tests), drifted_features=tuple(drifted), notes=tuple(notes))


def _values(column: pd.Series) -> list[str]:
    """A column's non-null values as text, so 1 and "1" (CSV and YAML spellings) count as one value."""
    return column.dropna().astype(str).tolist()


def _testable(base: pd.Series, pr: pd.Series, notes: list[str], name: str) -> bool:
    empty = [side for side, column in (("base", base), ("PR", pr)) if column.notna().sum() == 0]
    if empty:
        notes.append(f"`{name}` has no values in the {' or '.join(empty)} data: not tested")
    return not empty


# ------------------------------------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class DataComparison:
    """What the report says about a data change: sizes, the target's distribution on each side, the drift tests."""

    base_rows: int
    pr_rows: int
    target: str
    task: str
    base_target: dict[str, float]  # classification: count per class; regression: mean, std, min, max
    pr_target: dict[str, float]
    drift: DriftResult


def target_distribution(frame: pd.DataFrame, contract: DataContract) -> dict[str, float]:
    """Classification: rows per class (every contract class, then any other value seen); regression: summary."""
    name = contract.target.name
    if name not in frame.columns:
        return {}
    column = frame[name]
    if contract.target.is_classification:
        counts = column.dropna().astype(str).value_counts()
        classes = [str(c) for c in contract.target.classes or ()]
        extra = sorted((v for v in counts.index if v not in classes), key=natural_key)
        return {label: int(counts.get(label, 0)) for label in [*classes, *extra]}
    values = pd.to_numeric(column, errors="coerce").dropna()
    if values.empty:
        return {}
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=0)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def compare_datasets(
    base: pd.DataFrame,
    pr: pd.DataFrame,
    contract: DataContract,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> DataComparison:
    """Compare two versions of the raw data: the target's distribution and every test the contract calls for."""
    drift = detect_drift(base, pr, contract, level=level, permutations=permutations, seed=seed)
    return DataComparison(
        base_rows=len(base),
        pr_rows=len(pr),
        target=contract.target.name,
        task=contract.target.task,
        base_target=target_distribution(base, contract),
        pr_target=target_distribution(pr, contract),
        drift=drift,
    )


def natural_key(label: str) -> tuple[int, float | str]:
    """Sort key putting numeric labels first, in numeric order ("2" before "10"), then the rest as text."""
    try:
        return (0, float(label))
    except ValueError:
        return (1, str(label))

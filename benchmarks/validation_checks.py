"""The GX suite's checks written in plain pandas: the baseline that validation time is compared with.

Not used by the pipeline (GX is, for its Data Docs and its standard suite format). Each failure is named by the
description of the GX expectation it mirrors, so tests/data/test_pandas_checks.py can check that both fail alike.
"""

from __future__ import annotations

import pandas as pd

from digitnet.data import COLUMNS, ID_COLUMN, LABEL_COLUMN, NUM_CLASSES, PIXEL_COLUMNS, PIXEL_MAX

MIN_ROWS, MAX_ROWS = 1_000, 100_000
MIN_CLASS_SHARE, MAX_CLASS_SHARE = 0.07, 0.13


def _column_failures(frame: pd.DataFrame, column: str) -> list[str]:
    """Nulls, type and (for pixels) range of one column; a missing column fails them all, as in GX."""
    checks = [f"{column} has no nulls", f"{column} holds integers"]
    if column in PIXEL_COLUMNS:
        checks.append(f"{column} is within 0..{PIXEL_MAX}")
    if column not in frame.columns:
        return checks
    values = frame[column]
    failures = []
    if values.isna().any():
        failures.append(checks[0])
    if not pd.api.types.is_integer_dtype(values):
        failures.append(checks[1])
    if column in PIXEL_COLUMNS:
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not numeric or ((values < 0) | (values > PIXEL_MAX)).any():
            failures.append(checks[2])
    return failures


def _label_failures(frame: pd.DataFrame) -> list[str]:
    """The label set and each class's share of the (non-null) labels; no labels at all pass, as in GX."""
    set_check = f"labels are digits 0..{NUM_CLASSES - 1}"
    share_checks = [
        text
        for label in range(NUM_CLASSES)
        for text in (
            f"class {label} is at least {MIN_CLASS_SHARE:.0%} of the rows",
            f"class {label} is at most {MAX_CLASS_SHARE:.0%} of the rows",
        )
    ]
    if LABEL_COLUMN not in frame.columns:
        return [set_check, *share_checks]
    labels = frame[LABEL_COLUMN].dropna()
    failures = [] if labels.isin(range(NUM_CLASSES)).all() else [set_check]
    if labels.empty:
        return failures
    shares = labels.value_counts(normalize=True)
    for label in range(NUM_CLASSES):
        share = shares.get(label, 0.0)
        if share < MIN_CLASS_SHARE:
            failures.append(f"class {label} is at least {MIN_CLASS_SHARE:.0%} of the rows")
        if share > MAX_CLASS_SHARE:
            failures.append(f"class {label} is at most {MAX_CLASS_SHARE:.0%} of the rows")
    return failures


def pandas_checks(frame: pd.DataFrame) -> list[str]:
    """Return the description of each failed check (empty when the data passes)."""
    failures = []
    if [str(column) for column in frame.columns] != COLUMNS:
        failures.append("columns are exactly id, pixel_0_0 … pixel_7_7, label, in order")
    if not MIN_ROWS <= len(frame) <= MAX_ROWS:
        failures.append(f"between {MIN_ROWS:,} and {MAX_ROWS:,} rows")
    if ID_COLUMN not in frame.columns or frame[ID_COLUMN].dropna().duplicated().any():
        failures.append("ids are unique")
    failures += _label_failures(frame)
    for column in COLUMNS:
        failures += _column_failures(frame, column)
    return failures

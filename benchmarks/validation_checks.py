"""The GX suite's checks written in plain pandas: the baseline that validation time is compared with.

Not used by the pipeline (GX is, for its Data Docs and its standard suite format); kept honest by
tests/data/test_pandas_checks.py, which checks that both agree on good and bad data.
"""

from __future__ import annotations

import pandas as pd

from digitnet.data import COLUMNS, ID_COLUMN, LABEL_COLUMN, NUM_CLASSES, PIXEL_COLUMNS, PIXEL_MAX

MIN_ROWS, MAX_ROWS = 1_000, 100_000
MIN_CLASS_SHARE, MAX_CLASS_SHARE = 0.07, 0.13


def pandas_checks(frame: pd.DataFrame) -> list[str]:
    """Return one line per failed check (empty when the data passes)."""
    failures = []
    if list(frame.columns) != COLUMNS:
        failures.append("columns are not exactly id, pixel_0_0 … pixel_7_7, label, in order")
    if not MIN_ROWS <= len(frame) <= MAX_ROWS:
        failures.append(f"row count {len(frame)} outside {MIN_ROWS}..{MAX_ROWS}")
    present = [column for column in COLUMNS if column in frame.columns]
    for column in present:
        if frame[column].isna().any():
            failures.append(f"{column} has nulls")
        if not pd.api.types.is_integer_dtype(frame[column]):
            failures.append(f"{column} does not hold integers")
    for column in (column for column in PIXEL_COLUMNS if column in frame.columns):
        values = pd.to_numeric(frame[column], errors="coerce")
        if ((values < 0) | (values > PIXEL_MAX)).any():
            failures.append(f"{column} outside 0..{PIXEL_MAX}")
    if ID_COLUMN in frame.columns and frame[ID_COLUMN].dropna().duplicated().any():
        failures.append("ids are not unique")
    if LABEL_COLUMN in frame.columns:
        labels = frame[LABEL_COLUMN].dropna()
        if not labels.isin(range(NUM_CLASSES)).all():
            failures.append("labels outside 0..9")
        shares = labels.value_counts(normalize=True)
        for label in range(NUM_CLASSES):
            share = shares.get(label, 0.0)
            if not MIN_CLASS_SHARE <= share <= MAX_CLASS_SHARE:
                failures.append(f"class {label} share {share:.1%} outside {MIN_CLASS_SHARE:.0%}..{MAX_CLASS_SHARE:.0%}")
    return failures

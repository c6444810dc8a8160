"""Every path the pipeline writes and the machinery reads, named once. Paths are relative to the repository root."""

from __future__ import annotations

CONTRACT = "data/schema.yaml"
GX_ROOT = "gx"
VALIDATION_SUMMARY = "reports/validation.json"
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
DATA_DVC = "data.dvc"
# The evaluate stage writes one row per test row: id, target, prediction and, for classification, `proba_<class>`.
PREDICTIONS = "reports/predictions.csv"
TRAIN_RUN = "artifacts/model/train_run.json"

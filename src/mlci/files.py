"""Every path the pipeline writes and the machinery reads, named once. Paths are relative to the repository root."""

from __future__ import annotations

CONTRACT = "data.schema.yaml"
GX_ROOT = "gx"
# The validate stage's summary of the accepted data (committed); a failed validation's summary goes to the second
# file (not committed) and leaves the first as it was.
VALIDATION_SUMMARY = "reports/validation.json"
VALIDATION_FAILURES = "reports/validation-failed.json"
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
DATA_DVC = "data.dvc"
# The evaluate stage writes one row per test row: id, target, prediction and, for classification, `proba_<class>`.
PREDICTIONS = "reports/predictions.csv"
# The model's training record, inside the model folder DVC tracks: only what the same code, params and data reproduce
# (device, precision, processes, epochs), so a retrain leaves the folder's hash, and dvc.lock, as they were.
TRAIN_RUN = "artifacts/model/train_run.json"
# What only the run that trained the model knows (its wall time, the epoch it resumed after) and the sha256 of each
# model file it wrote: outside the model folder, neither DVC nor git tracks it. A model restored from the DVC cache
# has none; the report shows these facts only when the model files still match.
TRAIN_RUN_LOCAL = "artifacts/train_run.local.json"
# The columns of PREDICTIONS: the row id, the true value, the predicted value, and one probability column per class.
PREDICTION_ID = "id"
PREDICTION_TARGET = "target"
PREDICTION_VALUE = "prediction"
PROBA_PREFIX = "proba_"
# What the report writes into its output folder.
REPORT_MD = "report.md"
COMMENT_MD = "comment.md"
COMMENT_DATA_JSON = "comment-data.json"  # the report as numbers and names: what a fork PR's comment is rendered from

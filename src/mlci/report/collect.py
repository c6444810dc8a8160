"""The report's edge: read the workspace and the base commit into ReportInputs.

The workspace's files are read from disk; the base commit's committed files (metrics, params, predictions, the data
contract) with `git show`, which needs no DVC remote. The base data is fetched through DVC only when `data.dvc`
changed, and only then are the drift tests run.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from mlci.contract import DataContract, contract_from_dict, load_contract, read_data
from mlci.drift import DEFAULT_LEVEL, DEFAULT_PERMUTATIONS, DataComparison, compare_datasets, natural_key
from mlci.dvcfiles import metrics_files
from mlci.errors import UserFacingError
from mlci.files import CONTRACT, DATA_DVC, PARAMS, PREDICTIONS, TRAIN_RUN, TRAIN_RUN_LOCAL, VALIDATION_SUMMARY
from mlci.gate import GateResult
from mlci.metrics_tables import (
    MetricsError,
    class_labels,
    per_class_metrics,
    predictions_from_text,
    read_json,
    residual_metrics,
)
from mlci.serving.bundle import MODEL_DIR, model_files

logger = logging.getLogger(__name__)


class ReportError(UserFacingError):
    """The report cannot be built from what is in the workspace or the repository."""


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report says, already read from files. `None` means the file (or the base) was not there."""

    metrics: Mapping[str, Mapping | None]  # each metrics file dvc.yaml lists -> its content (None: not found)
    task: str = "classification"
    base_metrics: Mapping[str, Mapping | None] | None = None
    per_class: Mapping[str, Mapping] | None = None  # classification: class -> precision, recall, f1, support
    base_per_class: Mapping[str, Mapping] | None = None
    class_names: Mapping[str, str] = field(default_factory=dict)  # class as text -> display name (the contract's)
    residuals: Mapping[str, float] | None = None  # regression: mae, rmse, r2, rows
    base_residuals: Mapping[str, float] | None = None
    params: Mapping | None = None
    base_params: Mapping | None = None
    validation: Mapping | None = None
    train_run: Mapping | None = None
    base_name: str | None = None  # e.g. "main (1a2b3c4)"; None: no base to compare with
    baseline_reset: str | None = None  # what changed in the contract; set: the base's results are not compared
    run_url: str | None = None
    data_changed: bool = False
    data: DataComparison | None = None
    data_note: str | None = None  # why the data section is missing when the data did change
    dvc_diffs: Mapping[str, str] = field(default_factory=dict)  # "metrics"/"params" -> `dvc ... diff --md` output
    images: Sequence[tuple[str, str]] = ()  # (title, file name) of the PNGs written next to the markdown
    base_commit: str | None = None  # the base's full SHA (its committed plot data is drawn under this branch's)
    quality: GateResult | None = None  # intervals, the comparison with the base and the gates (None: no predictions)
    quality_note: str | None = None  # why there is no quality section (e.g. an invalid gates.yaml)

    @property
    def compared(self) -> bool:
        """Whether the base's results are shown beside this branch's."""
        return self.base_name is not None and self.baseline_reset is None


# ------------------------------------------------------------------------------------------------------- contracts
NAMES_LISTED = 8  # a swapped data set changes every column: name a few and count the rest


def _names(values) -> str:
    names = sorted(map(str, values), key=natural_key)
    listed = ", ".join(f"`{name}`" for name in names[:NAMES_LISTED])
    return listed + (f" and {len(names) - NAMES_LISTED} more" if len(names) > NAMES_LISTED else "")


def baseline_change(base: DataContract | None, current: DataContract) -> str | None:
    """What makes the base's results incomparable with this branch's (target, task, classes, features), or None."""
    if base is None:
        return None
    changes = []
    if base.target.name != current.target.name:
        changes.append(f"the target changed from `{base.target.name}` to `{current.target.name}`")
    if base.target.task != current.target.task:
        changes.append(f"the task changed from {base.target.task} to {current.target.task}")
    elif current.target.is_classification:
        old, new = {str(c) for c in base.target.classes or ()}, {str(c) for c in current.target.classes or ()}
        if old != new:
            parts = [
                f"added {_names(new - old)}" if new - old else "",
                f"removed {_names(old - new)}" if old - new else "",
            ]
            changes.append("the classes changed (" + "; ".join(p for p in parts if p) + ")")
    old_features, new_features = set(base.feature_names), set(current.feature_names)
    if old_features != new_features:
        added, removed = new_features - old_features, old_features - new_features
        parts = [f"added {_names(added)}" if added else "", f"removed {_names(removed)}" if removed else ""]
        changes.append("the features changed (" + "; ".join(p for p in parts if p) + ")")
    return "; ".join(changes) if changes else None


# ------------------------------------------------------------------------------------------------------- git and DVC
def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def resolve_commit(root: Path, ref: str) -> str:
    """The full SHA of `ref`, or a ReportError saying how to make it available."""
    result = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise ReportError(
            f"base ref '{ref}' is not a commit in {root}: fetch it (`git fetch origin {ref}`) "
            "or name another with BASE_REF=..."
        )
    return result.stdout.strip()


def show_at(root: Path, commit: str, path: str) -> str | None:
    """A file's text at a commit (committed metrics and params need no remote), None when it is not there."""
    result = _git(root, "show", f"{commit}:{path}")
    return result.stdout if result.returncode == 0 else None


def _dvc(root: Path, *args: str) -> str | None:
    """`dvc <args>`'s output in `root`; None (and a warning) when it fails or `root` is not a DVC repository."""
    if not (root / ".dvc").is_dir():
        return None
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        logger.warning("dvc %s failed: %s", " ".join(args), result.stderr.strip().splitlines()[-1:] or "")
        return None
    return result.stdout


def read_base_data(root: Path, commit: str, data_path: str):
    """The base commit's data through DVC (its committed .dvc file and remote), as a DataFrame."""
    import dvc.api
    import pandas as pd

    with dvc.api.open(data_path, repo=str(root), rev=commit) as handle:
        return pd.read_csv(handle)


# ------------------------------------------------------------------------------------------------------- parsing
def _yaml(text: str | None, where: str) -> Mapping | None:
    if text is None:
        return None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ReportError(f"{where} is not valid YAML: {error}") from None


def _json(text: str | None, where: str) -> Mapping | None:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{where} is not valid JSON ({error.msg} at line {error.lineno})") from None


def _workspace_json(path: Path) -> Mapping | None:
    try:
        return read_json(path)
    except MetricsError as error:
        raise ReportError(str(error)) from None


def _train_run(root: Path) -> Mapping | None:
    """The model's training record plus, when this workspace's run record (TRAIN_RUN_LOCAL) names the model files as
    they are, that run's own facts (wall time, resume point). A model restored from the DVC cache has no such record;
    a record of another model is left out rather than shown as this one's."""
    run = _workspace_json(root / TRAIN_RUN)
    try:
        local = read_json(root / TRAIN_RUN_LOCAL)
    except MetricsError as error:  # an untracked note, not an input the report depends on
        logger.warning("%s: left out of the report", error)
        return run
    if not isinstance(run, Mapping) or not isinstance(local, Mapping):
        return run
    if local.get("model_files") != model_files(root / MODEL_DIR):
        logger.info("%s describes another model than %s: its wall time is left out", TRAIN_RUN_LOCAL, MODEL_DIR)
        return run
    return {**run, **{key: value for key, value in local.items() if key != "model_files"}}


def _base_contract(root: Path, commit: str, base_ref: str) -> DataContract | None:
    text = show_at(root, commit, CONTRACT)
    if text is None:
        return None
    try:
        return contract_from_dict(yaml.safe_load(text), source=f"{CONTRACT} at {base_ref}")
    except (yaml.YAMLError, UserFacingError) as error:
        logger.warning("the base's data contract is unreadable (%s): treated as absent", error)
        return None


def _scores(text: str | None, contract: DataContract, where: str) -> dict:
    """{"per_class": ...} or {"residuals": ...} from a predictions CSV's text; {} when there is none."""
    if text is None:
        return {}
    try:
        predictions = predictions_from_text(text, contract, where)
    except MetricsError as error:
        raise ReportError(str(error)) from None
    if contract.target.is_classification:
        return {"per_class": per_class_metrics(predictions, class_labels(contract, predictions))}
    return {"residuals": residual_metrics(predictions)}


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


# ------------------------------------------------------------------------------------------------------- collecting
def collect_inputs(
    root: Path,
    base_ref: str | None,
    run_url: str | None = None,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
    gate_result: Path | None = None,
) -> ReportInputs:
    """Read the workspace and the base commit into ReportInputs (runs the drift tests only when `data.dvc` changed).

    `gate_result`: a `gate.json` that `mlci gate` wrote; its verdict (and override) is shown when it was computed
    from the same predictions, base commit and gates file, else the gates are checked here, without an override.
    """
    inputs = _collect(Path(root), base_ref, run_url, level, permutations)
    return replace(inputs, **_quality(Path(root), base_ref, gate_result))


def _quality(root: Path, base_ref: str | None, stored: Path | None) -> dict:
    """{"quality": GateResult} or {"quality_note": why there is none}."""
    from mlci.gate import GateError, assess

    if not (root / PREDICTIONS).is_file():
        return {"quality_note": f"no per-row predictions (`{PREDICTIONS}`): no intervals and no gate"}
    try:
        result = assess(root, base_ref)
    except GateError as error:
        return {"quality_note": f"the quality gate could not be checked: {error}"}
    if stored is not None and stored.is_file():
        try:
            previous = GateResult.from_dict(json.loads(stored.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            logger.warning("%s is not a gate result (%s): the gates are checked here", stored, error)
        else:
            if previous.inputs == result.inputs:
                return {"quality": previous}
            logger.warning("%s was computed from other inputs: the gates are checked here, without override", stored)
    return {"quality": result}


def _collect(root: Path, base_ref: str | None, run_url: str | None, level: float, permutations: int) -> ReportInputs:
    files = metrics_files(root)
    if not files:
        raise ReportError(f"{root / 'dvc.yaml'} lists no metrics files: name your evaluation's output under `metrics:`")
    metrics = {path: _workspace_json(root / path) for path in files}
    if all(value is None for value in metrics.values()):
        raise ReportError(f"{root / files[-1]} not found: run `dvc repro` (or `make repro`) first")
    contract = load_contract(root / CONTRACT)
    inputs: dict = dict(
        metrics=metrics,
        task=contract.target.task,
        class_names=dict(contract.target.names),
        params=_yaml(_read_text(root / PARAMS), PARAMS),
        validation=_workspace_json(root / VALIDATION_SUMMARY),
        train_run=_train_run(root),
        run_url=run_url,
        **_scores(_read_text(root / PREDICTIONS), contract, PREDICTIONS),
    )
    if not base_ref:
        return ReportInputs(**inputs)
    commit = resolve_commit(root, base_ref)
    base_name = commit[:7] if base_ref.startswith(commit[:7]) else f"{base_ref} ({commit[:7]})"  # a SHA: short
    inputs["base_name"] = base_name
    inputs["base_commit"] = commit
    base_contract = _base_contract(root, commit, base_ref)
    reset = baseline_change(base_contract, contract)
    if reset:
        inputs["baseline_reset"] = reset
        inputs["base_params"] = _yaml(show_at(root, commit, PARAMS), f"{PARAMS} at {base_ref}")
        return ReportInputs(**inputs)
    base_scores = _scores(show_at(root, commit, PREDICTIONS), contract, f"{PREDICTIONS} at {base_ref}")
    inputs.update(
        base_metrics={path: _json(show_at(root, commit, path), f"{path} at {base_ref}") for path in files},
        base_params=_yaml(show_at(root, commit, PARAMS), f"{PARAMS} at {base_ref}"),
        base_per_class=base_scores.get("per_class"),
        base_residuals=base_scores.get("residuals"),
        dvc_diffs={
            kind: text
            for kind in ("metrics", "params")
            if (text := _dvc(root, kind, "diff", "--md", commit)) is not None
        },
    )
    data_dvc = root / DATA_DVC
    workspace_dvc = data_dvc.read_text(encoding="utf-8") if data_dvc.is_file() else None
    inputs["data_changed"] = workspace_dvc != show_at(root, commit, DATA_DVC)
    if inputs["data_changed"]:
        inputs.update(_compare_data(root, commit, base_contract or contract, contract, level, permutations))
    return ReportInputs(**inputs)


def _compare_data(
    root: Path, commit: str, base_contract: DataContract, contract: DataContract, level: float, permutations: int
) -> dict:
    try:
        pr = read_data(contract, root / contract.path)
    except UserFacingError as error:
        return {"data_note": f"this PR's data could not be read ({error})"}
    try:
        base = read_base_data(root, commit, base_contract.path)
    except Exception as error:  # noqa: BLE001 - any DVC failure only drops the data section, with the reason shown
        return {"data_note": f"the base data could not be fetched through DVC ({type(error).__name__}: {error})"}
    return {"data": compare_datasets(base, pr, contract, level=level, permutations=permutations)}

"""The pull-request report: this branch's metrics, params, validation and data against the base branch's.

`render_markdown` is pure (inputs in, text out) and is what the golden-file tests pin. `build_report_files` is the
edge: it reads the workspace, reads the base commit's committed files with `git show`, fetches the base data through
DVC only when `data.dvc` changed, and writes `report.md`, `comment.md` and the PNGs.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from digitnet.drift import DEFAULT_LEVEL, DEFAULT_PERMUTATIONS, FAMILIES, DataComparison
from digitnet.errors import UserFacingError

logger = logging.getLogger(__name__)

METRICS = "dvclive/evaluate/metrics.json"
TRAIN_METRICS = "dvclive/train/metrics.json"
PARAMS = "params.yaml"
VALIDATION = "reports/validation.json"
TRAIN_RUN = "artifacts/model/train_run.json"
CONFUSION = "dvclive/evaluate/plots/sklearn/confusion_matrix.json"
CURVES_DIR = "dvclive/train/plots/metrics"
DATA_DVC = "data.dvc"
DATA = "data/digits.csv"

CONFUSION_PNG = "confusion_matrix.png"
CURVES_PNG = "training_curves.png"
REPORT_MD = "report.md"
COMMENT_MD = "comment.md"
TITLE = "## digitnet report"
SAME = 5e-5  # a change that rounds to 0.0000 at the four decimals shown counts as no change
FEATURES_LISTED = 12
_MISSING = object()  # a param absent on one side (None is a valid YAML value)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report says, already read from files. `None` means the file was not there."""

    metrics: Mapping
    base_metrics: Mapping | None = None
    train_metrics: Mapping | None = None
    base_train_metrics: Mapping | None = None
    params: Mapping | None = None
    base_params: Mapping | None = None
    validation: Mapping | None = None
    train_run: Mapping | None = None
    base_name: str | None = None  # e.g. "main (1a2b3c4)"; None: no base to compare with
    run_url: str | None = None
    data_changed: bool = False
    data: DataComparison | None = None
    data_note: str | None = None  # why the data section is missing when the data did change
    dvc_diffs: Mapping[str, str] = field(default_factory=dict)  # "metrics"/"params" -> `dvc ... diff --md` output
    images: Sequence[tuple[str, str]] = ()  # (title, file name) of the PNGs written next to the markdown


# ---------------------------------------------------------------------------------------------- formatting helpers
def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _cell(value)
    if isinstance(value, int):
        return str(value)
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _cell(value) -> str:
    """Text safe inside a markdown table cell (values from data files are untrusted: no pipes, no new lines)."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _code(value) -> str:
    """Inline code for a name from a file: backticks inside would end the code span, so they become quotes."""
    return "`" + _cell(value).replace("`", "'") + "`"


def _lower_is_better(name: str) -> bool:
    return any(word in name.lower() for word in ("loss", "error"))


def _delta_and_marker(name: str, value, base) -> tuple[str, str]:
    if base is None:
        return "—", "🆕 new"
    if value is None:
        return "—", "removed"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, base)):
        return "—", "changed" if value != base else "same"
    delta = value - base
    if abs(delta) < SAME:
        return "0", "⚪ same"
    better = delta < 0 if _lower_is_better(name) else delta > 0
    return (f"{delta:+.4f}" if isinstance(delta, float) else f"{delta:+d}"), ("🟢 better" if better else "🔴 worse")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(":---" if a == "l" else "---:" if a == "r" else ":---:" for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _natural_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if str(label).lstrip("-").isdigit() else (1, str(label))


def flatten(tree: Mapping | None, prefix: str = "", separator: str = ".") -> dict:
    """Nested dicts to one level with dotted keys: {"train": {"epochs": 12}} -> {"train.epochs": 12}."""
    flat: dict = {}
    for key, value in (tree or {}).items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name, separator))
        else:
            flat[name] = value
    return flat


# ---------------------------------------------------------------------------------------------------- sections
def headline_values(metrics: Mapping | None, train_metrics: Mapping | None) -> dict:
    """The scalar metrics: evaluation's top level, then training's final values (`train/loss`, `val/accuracy`...)."""
    values = {k: v for k, v in (metrics or {}).items() if not isinstance(v, Mapping)}
    training = flatten({k: v for k, v in (train_metrics or {}).items() if k != "step"}, separator="/")
    values.update(training)
    return values


def _headline(inputs: ReportInputs) -> list[str]:
    pr = headline_values(inputs.metrics, inputs.train_metrics)
    base = headline_values(inputs.base_metrics, inputs.base_train_metrics) if inputs.base_name else {}
    names = list(pr) + [name for name in base if name not in pr]
    if not inputs.base_name:
        rows = [[_code(n), _number(pr.get(n))] for n in names]
        return ["### Headline metrics", "", *_table(["metric", "this PR"], rows, "lr")]
    rows = []
    for name in names:
        delta, marker = _delta_and_marker(name, pr.get(name), base.get(name))
        rows.append([_code(name), _number(pr.get(name)), _number(base.get(name)), delta, marker])
    return [
        "### Headline metrics",
        "",
        *_table(["metric", "this PR", "base", "Δ", ""], rows, "lrrrl"),
        "",
        "Loss is better lower, every other metric higher.",
    ]


def _params(inputs: ReportInputs) -> list[str]:
    lines = ["### Params that changed", ""]
    if not inputs.base_name:
        return lines + ["_No base to compare with._"]
    if inputs.base_params is None:
        return lines + [f"_The base has no `{PARAMS}`: every param is new._"]
    pr, base = flatten(inputs.params), flatten(inputs.base_params)
    changed = sorted(k for k in set(pr) | set(base) if pr.get(k, _MISSING) != base.get(k, _MISSING))
    if not changed:
        return lines + ["No params changed."]
    rows = [[_code(k), _cell(pr.get(k, "—")), _cell(base.get(k, "—"))] for k in changed]
    return lines + _table(["param", "this PR", "base"], rows, "lll")


def _per_class(inputs: ReportInputs) -> list[str]:
    pr = inputs.metrics.get("per_class") or {}
    if not pr:
        return []
    base = (inputs.base_metrics or {}).get("per_class") or {} if inputs.base_name else {}
    if base:
        heading = "### Per-class metrics (largest F1 regressions first)"

        def order(label: str) -> tuple:
            change = pr[label]["f1"] - base[label]["f1"] if label in base else math.inf
            return (change, _natural_key(label))

    else:
        heading = "### Per-class metrics (weakest F1 first)"

        def order(label: str) -> tuple:
            return (pr[label]["f1"], _natural_key(label))

    rows = []
    for label in sorted(pr, key=order):
        scores = pr[label]
        row = [_code(label), _number(scores.get("f1"))]
        if base:
            base_f1 = base.get(label, {}).get("f1")
            row += [_number(base_f1), *_delta_and_marker("f1", scores.get("f1"), base_f1)]
        row += [_number(scores.get("precision")), _number(scores.get("recall")), _number(scores.get("support"))]
        rows.append(row)
    header = ["class", "F1"] + (["base F1", "Δ F1", ""] if base else []) + ["precision", "recall", "support"]
    align = "lr" + ("rrl" if base else "") + "rrr"
    return [heading, "", *_table(header, rows, align)]


def _slices(inputs: ReportInputs) -> list[str]:
    pr = inputs.metrics.get("slices") or {}
    if not pr:
        return []
    base = (inputs.base_metrics or {}).get("slices") or {} if inputs.base_name else {}
    rows = []
    for name in sorted(pr):
        scores = pr[name]
        row = [_code(name), _number(scores.get("accuracy"))]
        if inputs.base_name:
            base_accuracy = base.get(name, {}).get("accuracy")
            row += [_number(base_accuracy), *_delta_and_marker("accuracy", scores.get("accuracy"), base_accuracy)]
        rows.append(row + [_number(scores.get("support"))])
    header = ["slice", "accuracy"] + (["base", "Δ", ""] if inputs.base_name else []) + ["support"]
    return ["### Slices", "", *_table(header, rows, "lr" + ("rrl" if inputs.base_name else "") + "r")]


def _images(inputs: ReportInputs, image_note: str | None) -> list[str]:
    if not inputs.images:
        return []
    lines = ["### Plots", ""]
    if image_note is not None:
        return lines + [image_note]
    return lines + [f"![{title}]({name})" for title, name in inputs.images]


def _validation(inputs: ReportInputs) -> list[str]:
    lines = ["### Data validation", ""]
    summary = inputs.validation
    if summary is None:
        return lines + [f"_No validation summary (`{VALIDATION}`)._"]
    evaluated, failed = summary.get("evaluated", 0), summary.get("failed", 0)
    rows = summary.get("rows", "?")
    if summary.get("success"):
        return lines + [f"✅ {evaluated} expectations run on {rows} rows, none failed."]
    lines.append(f"❌ {evaluated} expectations run on {rows} rows, **{failed} failed**:")
    lines.append("")
    table_rows = [
        [_code(f.get("expectation")), _cell(f.get("column") or "—"), _cell(f.get("observed", ""))]
        for f in summary.get("failed_expectations", [])
    ]
    return lines + _table(["expectation", "column", "observed"], table_rows, "lll")


def _run(inputs: ReportInputs) -> list[str]:
    lines = ["### Training run", ""]
    run = inputs.train_run
    if run is None:
        lines.append(f"_No training record (`{TRAIN_RUN}`)._")
    else:
        processes = run.get("processes", 1)
        text = (
            f"Trained on {_code(run.get('device'))} ({_cell(run.get('precision'))}, "
            f"{processes} process{'es' if processes != 1 else ''}): {run.get('epochs')} epochs "
            f"in {float(run.get('wall_seconds', 0)):.1f} s."
        )
        if run.get("resumed_from_epoch") is not None:
            text += f" Resumed from a checkpoint after epoch {run['resumed_from_epoch']}."
        lines.append(text)
    lines += ["", f"[Workflow run]({inputs.run_url})" if inputs.run_url else "Built outside a workflow run."]
    return lines


def decision_rule(level: float) -> str:
    return (
        f"Decision rule: drift is reported when any of the three tests rejects at α/{FAMILIES} = "
        f"{level / FAMILIES:.4f} (Bonferroni over the tests, so the false-alarm rate is at most α = {level:g}); "
        "the per-feature KS p-values are Holm-adjusted over the features first."
    )


def _data(inputs: ReportInputs) -> list[str]:
    lines = ["### Data", ""]
    if not inputs.base_name:
        return lines + ["_No base to compare the data with._"]
    if not inputs.data_changed:
        return lines + [f"`{DATA_DVC}` is the same as on the base: the data did not change."]
    if inputs.data is None:
        return lines + [f"`{DATA_DVC}` changed, but the data could not be compared: {inputs.data_note or 'unknown'}."]
    data = inputs.data
    lines += [f"`{DATA_DVC}` changed: {data.base_rows} rows on the base, {data.pr_rows} in this PR.", ""]
    labels = sorted(set(data.base_label_counts) | set(data.pr_label_counts), key=_natural_key)

    def share(counts: Mapping[str, int], total: int, label: str) -> str:
        count = counts.get(label, 0)
        return f"{count} ({100 * count / total:.1f}%)" if total else "0"

    rows = [
        [
            _code(label),
            share(data.base_label_counts, data.base_rows, label),
            share(data.pr_label_counts, data.pr_rows, label),
        ]
        for label in labels
    ]
    lines += _table(["label", "base", "this PR"], rows, "lrr")
    drift = data.drift
    verdict = "⚠️ **Drift detected**" if drift.drift else "No drift detected"
    lines += ["", f"#### Drift tests, base vs this PR: {verdict}", ""]
    test_rows = [
        [
            t.name,
            f"{t.statistic:.4g}",
            f"{t.p_value:.3g}",
            f"{t.threshold:.4f}",
            "drift" if t.drift else "no drift",
            _cell(t.detail),
        ]
        for t in drift.tests
    ]
    lines += _table(["test", "statistic", "p-value", "threshold", "result", "detail"], test_rows, "lrrrll")
    lines += ["", decision_rule(drift.level)]
    if drift.drifted_features:
        listed = ", ".join(_code(f) for f in drift.drifted_features[:FEATURES_LISTED])
        more = len(drift.drifted_features) - FEATURES_LISTED
        lines += ["", f"Features whose KS test rejects: {listed}" + (f" and {more} more." if more > 0 else ".")]
    return lines


def _dvc_diffs(inputs: ReportInputs) -> list[str]:
    lines: list[str] = []
    for kind in ("metrics", "params"):
        text = inputs.dvc_diffs.get(kind, "").strip()
        if len(text.splitlines()) > 2:  # a header and its rule only: DVC found no difference
            lines += [
                f"<details><summary>DVC's view: <code>dvc {kind} diff --md</code></summary>",
                "",
                text,
                "",
                "</details>",
                "",
            ]
    return lines[:-1]


def _verdict(inputs: ReportInputs) -> str:
    parts = []
    accuracy = inputs.metrics.get("accuracy")
    if accuracy is not None:
        if inputs.base_name:
            base = (inputs.base_metrics or {}).get("accuracy")
            delta, marker = _delta_and_marker("accuracy", accuracy, base)
            parts.append(f"accuracy {_number(accuracy)} ({delta} vs base, {marker})")
        else:
            parts.append(f"accuracy {_number(accuracy)}")
    if inputs.validation is not None:
        parts.append("data validation passed" if inputs.validation.get("success") else "data validation FAILED")
    if inputs.base_name:
        if not inputs.data_changed:
            parts.append("data unchanged")
        elif inputs.data is None:
            parts.append("data changed (not compared)")
        else:
            parts.append("data changed, drift detected" if inputs.data.drift.drift else "data changed, no drift")
    return "**At a glance:** " + "; ".join(parts) + "."


def render_markdown(inputs: ReportInputs, image_note: str | None = None) -> str:
    """The report as GitHub-flavoured markdown. With `image_note`, that text stands in for the image links."""
    against = (
        f"Compared with the base {_code(inputs.base_name)}."
        if inputs.base_name
        else ("_No base to compare with: this branch's results only._")
    )
    if inputs.base_name and inputs.base_metrics is None:
        against += f" The base has no `{METRICS}`: every metric is new."
    sections = [
        [TITLE, "", against, "", _verdict(inputs)],
        _headline(inputs),
        _params(inputs),
        _per_class(inputs),
        _slices(inputs),
        _images(inputs, image_note),
        _validation(inputs),
        _data(inputs),
        _run(inputs),
    ]
    sections.append(_dvc_diffs(inputs))
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"


# ------------------------------------------------------------------------------------ the edge: files in, files out
class ReportError(UserFacingError):
    """The report cannot be built from what is in the workspace or the repository."""


def _read_json(path: Path) -> Mapping | list | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None


def _read_yaml(text: str | None, where: str) -> Mapping | None:
    if text is None:
        return None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ReportError(f"{where} is not valid YAML: {error}") from None


def read_curves(directory: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """DVCLive's per-epoch TSVs (`<split>/<metric>.tsv`, columns `step` and the metric) as {metric: {split: points}}."""
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for tsv in sorted(directory.glob("*/*.tsv")):
        rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines() if line.strip()]
        points = [(float(row[0]), float(row[1])) for row in rows[1:] if len(row) >= 2]
        curves.setdefault(tsv.stem, {})[tsv.parent.name] = points
    return curves


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
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        logger.warning("dvc %s failed: %s", " ".join(args), result.stderr.strip().splitlines()[-1:] or "")
        return None
    return result.stdout


def read_base_data(root: Path, commit: str, data_path: str = DATA):
    """The base commit's data through DVC (its committed .dvc file and remote), as a DataFrame."""
    import dvc.api
    import pandas as pd

    with dvc.api.open(data_path, repo=str(root), rev=commit) as handle:
        return pd.read_csv(handle)


def collect_inputs(
    root: Path,
    base_ref: str | None,
    run_url: str | None = None,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> ReportInputs:
    """Read the workspace and the base commit into ReportInputs (runs drift tests only when `data.dvc` changed)."""
    metrics = _read_json(root / METRICS)
    if metrics is None:
        raise ReportError(f"{root / METRICS} not found: run `dvc repro` (or `make repro`) first")
    inputs = dict(
        metrics=metrics,
        train_metrics=_read_json(root / TRAIN_METRICS),
        params=_read_yaml((root / PARAMS).read_text(encoding="utf-8") if (root / PARAMS).is_file() else None, PARAMS),
        validation=_read_json(root / VALIDATION),
        train_run=_read_json(root / TRAIN_RUN),
        run_url=run_url,
    )
    if not base_ref:
        return ReportInputs(**inputs)
    commit = resolve_commit(root, base_ref)
    base_name = base_ref if base_ref.startswith(commit[:7]) else f"{base_ref} ({commit[:7]})"
    base_metrics_text = show_at(root, commit, METRICS)
    base_train_text = show_at(root, commit, TRAIN_METRICS)
    inputs.update(
        base_name=base_name,
        base_metrics=json.loads(base_metrics_text) if base_metrics_text else None,
        base_train_metrics=json.loads(base_train_text) if base_train_text else None,
        base_params=_read_yaml(show_at(root, commit, PARAMS), f"{PARAMS} at {base_ref}"),
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
        inputs.update(_compare_data(root, commit, level, permutations))
    return ReportInputs(**inputs)


def _compare_data(root: Path, commit: str, level: float, permutations: int) -> dict:
    from digitnet.data import read_raw_csv
    from digitnet.drift import compare_datasets

    try:
        pr = read_raw_csv(root / DATA)
    except UserFacingError as error:
        return {"data_note": f"this PR's data could not be read ({error})"}
    try:
        base = read_base_data(root, commit)
    except Exception as error:  # noqa: BLE001 - any DVC failure only drops the data section, with the reason shown
        return {"data_note": f"the base data could not be fetched through DVC ({type(error).__name__}: {error})"}
    return {"data": compare_datasets(base, pr, level=level, permutations=permutations)}


def write_report(inputs: ReportInputs, root: Path, out_dir: Path, artifact_name: str = "pr-report") -> Path:
    """Render the PNGs and write `report.md` (images linked) and `comment.md` (images named, not linked)."""
    from digitnet.plots import render_confusion_matrix, render_training_curves

    out_dir.mkdir(parents=True, exist_ok=True)
    images = []
    curves = read_curves(root / CURVES_DIR)
    if curves:
        render_training_curves(curves, out_dir / CURVES_PNG)
        images.append(("Training curves", CURVES_PNG))
    pairs = _read_json(root / CONFUSION)
    if pairs:
        render_confusion_matrix(pairs, out_dir / CONFUSION_PNG)
        images.append(("Confusion matrix", CONFUSION_PNG))
    inputs = ReportInputs(**{**inputs.__dict__, "images": tuple(images)})
    report = out_dir / REPORT_MD
    report.write_text(render_markdown(inputs), encoding="utf-8")
    where = (
        f"the `{artifact_name}` artifact of [the workflow run]({inputs.run_url})"
        if inputs.run_url
        else (f"`{out_dir}`")
    )
    names = ", ".join(f"`{name}`" for _, name in images)
    note = f"Images ({names}) are in {where}; they are not uploaded anywhere else."
    (out_dir / COMMENT_MD).write_text(render_markdown(inputs, image_note=note), encoding="utf-8")
    return report


def build_report_files(
    root: Path,
    base_ref: str | None,
    out_dir: Path,
    run_url: str | None = None,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> Path:
    """`digitnet report`: read the workspace and the base, write the report; returns the path of report.md."""
    inputs = collect_inputs(root, base_ref, run_url=run_url, level=level, permutations=permutations)
    return write_report(inputs, root, out_dir)


def run_url_from_env(env: Mapping[str, str]) -> str | None:
    """The link to this workflow run on GitHub (None outside one)."""
    server, repository, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None

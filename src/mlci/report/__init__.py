"""The pull-request report: this branch's metrics, params, validation and data against the base branch's.

`collect` reads the workspace and the base commit into ReportInputs (the edge), `render` turns them into Markdown
(pure: what the golden-file tests pin), `plots` draws the PNGs. `build_report_files` runs the three and writes
`report.md` (images linked), `comment.md` (images named: a PR comment cannot link the artifact's files) and the PNGs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from mlci.drift import DEFAULT_LEVEL, DEFAULT_PERMUTATIONS
from mlci.dvcfiles import plot_specs
from mlci.files import (
    COMMENT_DATA_JSON,
    COMMENT_MD,
    CONTRACT,
    PREDICTION_TARGET,
    PREDICTION_VALUE,
    PREDICTIONS,
    REPORT_MD,
)
from mlci.gate import GATE_JSON
from mlci.report.collect import ReportError, ReportInputs, collect_inputs
from mlci.report.comment_data import comment_data
from mlci.report.render import render_markdown

__all__ = [
    "ReportError",
    "ReportInputs",
    "build_report_files",
    "collect_inputs",
    "render_markdown",
    "run_url_from_env",
    "write_report",
]

CURVES_PNG = "training_curves.png"
CONFUSION_PNG = "confusion_matrix.png"
CONFUSION_DIFF_PNG = "confusion_difference.png"
SCATTER_PNG = "predicted_vs_actual.png"
ARTIFACT_NAME = "pr-report"


def _render_images(root: Path, out_dir: Path, inputs: ReportInputs) -> list[tuple[str, str]]:
    """Draw the PNGs the workspace has data for; (title, file name) of each one written.

    Compared with a base, its committed curves are drawn under this branch's and the change of the confusion matrix
    gets its own image.
    """
    from mlci.contract import load_contract
    from mlci.metrics_tables import class_labels, confusion_matrix, predictions_from_text, read_predictions
    from mlci.report.collect import show_at
    from mlci.report.plots import (
        line_panels,
        plot_data_from_text,
        render_confusion_difference,
        render_confusion_matrix,
        render_line_plots,
        render_regression_scatter,
    )

    images = []
    specs = plot_specs(root)
    panels = line_panels(root, specs)
    base_commit = inputs.base_commit if inputs.compared else None
    if panels:
        base = None
        if base_commit:

            def read_base(file: str):
                text = show_at(root, base_commit, file)
                return None if text is None else plot_data_from_text(text, file)

            base = {title: lines for title, _, lines in line_panels(root, specs, read=read_base)}
        render_line_plots(panels, out_dir / CURVES_PNG, base=base)
        images.append(("Training curves" + (" (base dashed)" if base else ""), CURVES_PNG))
    contract = load_contract(root / CONTRACT)
    predictions = read_predictions(root / PREDICTIONS, contract)
    if predictions is not None and len(predictions):
        if contract.target.is_classification:
            base_text = show_at(root, base_commit, PREDICTIONS) if base_commit else None
            base_predictions = predictions_from_text(base_text, contract) if base_text else None
            labels = class_labels(contract, predictions)
            if base_predictions is not None:
                labels += [label for label in class_labels(contract, base_predictions) if label not in labels]
            counts = confusion_matrix(predictions, labels)
            shown = [contract.target.display(label) for label in labels]
            render_confusion_matrix(shown, counts, out_dir / CONFUSION_PNG)
            images.append(("Confusion matrix", CONFUSION_PNG))
            if base_predictions is not None:
                difference = counts - confusion_matrix(base_predictions, labels)
                render_confusion_difference(shown, difference, out_dir / CONFUSION_DIFF_PNG)
                images.append(("Confusion matrix, this PR − base", CONFUSION_DIFF_PNG))
        else:
            render_regression_scatter(
                predictions[PREDICTION_TARGET].to_numpy(dtype=float),
                predictions[PREDICTION_VALUE].to_numpy(dtype=float),
                out_dir / SCATTER_PNG,
            )
            images.append(("Predicted vs actual", SCATTER_PNG))
    return images


def write_report(inputs: ReportInputs, root: Path, out_dir: Path, artifact_name: str = ARTIFACT_NAME) -> Path:
    """Render the PNGs and write `report.md` (images linked), `comment.md` (images named, not linked) and
    `comment-data.json` (numbers and names: what a fork PR's comment is rendered from)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _render_images(Path(root), out_dir, inputs)
    # An image an earlier run drew that this one has no data for (no base now, another task) would be stale.
    for name in {CURVES_PNG, CONFUSION_PNG, CONFUSION_DIFF_PNG, SCATTER_PNG} - {name for _, name in images}:
        (out_dir / name).unlink(missing_ok=True)
    inputs = replace(inputs, images=tuple(images))
    report = out_dir / REPORT_MD
    report.write_text(render_markdown(inputs), encoding="utf-8")
    where = (
        f"the `{artifact_name}` artifact of [the workflow run]({inputs.run_url})" if inputs.run_url else f"`{out_dir}`"
    )
    names = ", ".join(f"`{name}`" for _, name in images)
    note = f"Images ({names}) are in {where}; they are not uploaded anywhere else."
    (out_dir / COMMENT_MD).write_text(render_markdown(inputs, image_note=note), encoding="utf-8")
    (out_dir / COMMENT_DATA_JSON).write_text(json.dumps(comment_data(inputs), indent=2) + "\n", encoding="utf-8")
    return report


def build_report_files(
    root: Path,
    base_ref: str | None,
    out_dir: Path,
    run_url: str | None = None,
    level: float = DEFAULT_LEVEL,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> Path:
    """`mlci report`: read the workspace and the base, write the report; returns the path of report.md."""
    inputs = collect_inputs(
        Path(root),
        base_ref,
        run_url=run_url,
        level=level,
        permutations=permutations,
        gate_result=Path(out_dir) / GATE_JSON,
    )
    return write_report(inputs, Path(root), Path(out_dir))


def run_url_from_env(env: Mapping[str, str]) -> str | None:
    """The link to this workflow run on GitHub (None outside one)."""
    server, repository, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None

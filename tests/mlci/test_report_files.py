"""The report's edge: a tiny project in a git repository (workspace and base commit) in, report.md/comment.md/PNGs out.

No DVC remote is needed: the base's committed files come from `git show`, and where the data changed the base data
is handed in by replacing the one function that would fetch it through DVC.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlci.report.collect as collect
from mlci.cli import main
from mlci.dvcfiles import PlotSpec
from mlci.files import COMMENT_DATA_JSON, COMMENT_MD, REPORT_MD, TRAIN_RUN, TRAIN_RUN_LOCAL
from mlci.report import ReportError, build_report_files, run_url_from_env
from mlci.report.collect import baseline_change
from mlci.report.plots import line_panels, render_confusion_matrix
from tests.mlci.frames import (
    classification_predictions,
    contract_dict,
    make_contract,
    make_frame,
    write_project,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose base commit has accuracy 0.9 and whose workspace has 0.95 and more epochs."""
    root = tmp_path_factory.mktemp("template") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_project(root, accuracy=0.9, epochs=10)
    (root / "data.dvc").write_text("outs:\n- md5: aaaa\n  path: data\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    write_project(root, accuracy=0.95, epochs=12)
    return root


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template_repo, tmp_path / "repo", symlinks=True))


def test_report_compares_the_workspace_with_the_base_commit(repo: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = build_report_files(repo, "main", out, run_url="https://github.com/o/r/actions/runs/7", permutations=50)
    text = report.read_text(encoding="utf-8")
    assert report == out / REPORT_MD
    assert text.startswith("## Model report\n\nCompared with the base `main (")
    # 3 more of 60 rows right: a paired interval that covers 0, so within noise rather than better
    assert "| `accuracy` | 0.9500 | 0.9000 | +0.0500 | ⚪ within noise |" in text
    assert "### Test metrics with 95% intervals (from `reports/predictions.csv`)" in text
    assert "McNemar's exact test on accuracy: 0 rows right only on the base, 3 only in this PR, p = 0.25." in text
    assert "_No gates declared: add floors, an allowed regression or a worst-slice floor to `gates.yaml`._" in text
    assert "| `train.loss` | 0.0500 | 0.1000 | -0.0500 | 🟢 better |" in text
    assert "| `train.epochs` | 12 | 10 |" in text
    assert "### Per-class metrics (from `reports/predictions.csv`, largest F1 regressions first)" in text
    assert "| `small` | 0.9500 | 0.9000 | +0.0500 | 🟢 better | 5 |" in text
    assert "`data.dvc` is the same as on the base" in text
    assert "All 5 expectations passed on 60 rows." in text
    assert (
        "![Training curves (base dashed)](training_curves.png)\n![Confusion matrix](confusion_matrix.png)\n"
        "![Confusion matrix, this PR − base](confusion_difference.png)"
    ) in text
    for png in ("training_curves.png", "confusion_matrix.png", "confusion_difference.png"):
        assert (out / png).read_bytes().startswith(PNG_SIGNATURE)
    comment = (out / COMMENT_MD).read_text(encoding="utf-8")
    assert "![" not in comment
    assert "the `pr-report` artifact of [the workflow run](https://github.com/o/r/actions/runs/7)" in comment


def test_the_comment_data_holds_numbers_and_names_never_markdown(repo: Path, tmp_path: Path):
    out = tmp_path / "out"
    build_report_files(repo, "main", out, permutations=50)
    data = json.loads((out / COMMENT_DATA_JSON).read_text(encoding="utf-8"))
    assert data["schema"] == 1
    assert data["base"].startswith("main (")
    assert (data["gate"], data["gates"], data["validation"], data["data"]) == (None, [], True, "unchanged")
    rows = {(row["file"], row["name"]): (row["pr"], row["base"]) for row in data["metrics"]}
    assert rows[("runs/evaluate/metrics.json", "accuracy")] == (0.95, 0.9)
    assert rows[("runs/train/metrics.json", "step")] == (12, 10)
    assert not any("|" in str(value) or "\n" in str(value) for row in data["metrics"] for value in row.values())


def test_report_without_a_base_shows_this_branch_only(repo: Path, tmp_path: Path):
    text = build_report_files(repo, None, tmp_path / "out").read_text(encoding="utf-8")
    assert "_No base to compare with: this branch's results only._" in text
    assert "Built outside a workflow run." in text and "🟢" not in text


def test_the_training_run_shows_the_wall_time_the_run_that_trained_this_model_recorded(repo: Path, tmp_path: Path):
    text = build_report_files(repo, None, tmp_path / "out").read_text(encoding="utf-8")
    assert "Trained on `cpu` (fp32, 1 process): 12 epochs in 1.5 s." in text


@pytest.mark.parametrize("restored", ["another model's files", "no run record"])
def test_a_model_without_its_run_record_gets_no_wall_time(repo: Path, tmp_path: Path, restored: str):
    """As after `dvc checkout` of a model trained elsewhere: the record left in the workspace is not this model's."""
    if restored == "no run record":
        (repo / TRAIN_RUN_LOCAL).unlink()
    else:
        ((repo / TRAIN_RUN).parent / "model.bin").write_bytes(b"a model DVC restored from its cache")
    text = build_report_files(repo, None, tmp_path / "out").read_text(encoding="utf-8")
    assert "Trained on `cpu` (fp32, 1 process): 12 epochs. No wall time for this model here" in text
    assert "1.5 s" not in text


def test_an_unreadable_run_record_is_named_in_a_warning_and_the_report_still_builds(repo: Path, tmp_path: Path, caplog):
    (repo / TRAIN_RUN_LOCAL).write_text("{truncated", encoding="utf-8")
    text = build_report_files(repo, None, tmp_path / "out").read_text(encoding="utf-8")
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [
        f"{repo / TRAIN_RUN_LOCAL} is not valid JSON (Expecting property name enclosed in double quotes at line 1): "
        "left out of the report"
    ]
    assert "Trained on `cpu` (fp32, 1 process): 12 epochs. No wall time for this model here" in text


def test_a_changed_class_set_resets_the_baseline(repo: Path, tmp_path: Path):
    contract = contract_dict(classes=["cat", "dog", "eel", "fox"])
    write_project(repo, accuracy=0.95, epochs=12, contract=contract)
    text = build_report_files(repo, "main", tmp_path / "out").read_text(encoding="utf-8")
    assert "**Baseline reset:** the classes changed (added `fox`). The base `main (" in text
    assert "| `fox` | 0.0000 | 0.0000 | 0.0000 | 0 |" in text  # no class silently dropped
    assert "🔴" not in text and "🟢" not in text


def test_baseline_change_names_target_task_classes_and_features():
    base = make_contract(numeric=2, categories=0)
    assert baseline_change(None, base) is None and baseline_change(base, base) is None
    assert baseline_change(base, make_contract(numeric=3, categories=0, target="breed")) == (
        "the target changed from `kind` to `breed`; the features changed (added `x2`)"
    )
    assert baseline_change(base, make_contract(numeric=1, categories=0, task="regression")) == (
        "the task changed from classification to regression; the features changed (removed `x1`)"
    )
    assert baseline_change(base, make_contract(numeric=2, categories=0, classes=["cat", "emu"])) == (
        "the classes changed (added `emu`; removed `dog`, `eel`)"
    )


def test_changed_data_is_compared_with_the_base_data(repo: Path, tmp_path: Path, monkeypatch):
    contract = make_contract()
    make_frame(contract, 200, 2, shift=1.0).to_csv(repo / "data/table.csv", index=False)
    (repo / "data.dvc").write_text("outs:\n- md5: bbbb\n  path: data\n", encoding="utf-8")
    fetched = []

    def base_data(root, commit, path):
        fetched.append(path)
        return make_frame(contract, 200, 1)

    monkeypatch.setattr(collect, "read_base_data", base_data)
    text = build_report_files(repo, "main", tmp_path / "out", permutations=50).read_text(encoding="utf-8")
    assert fetched == ["data/table.csv"]
    assert "`data.dvc` changed: 200 rows on the base, 200 in this PR." in text
    assert "#### Drift tests, base vs this PR: ⚠️ **Drift detected**" in text
    assert "Decision rule: drift is reported when any of the 4 test families rejects at α/4 = 0.0125" in text
    assert "data changed, drift detected" in text


def test_changed_data_that_cannot_be_fetched_is_named(repo: Path, tmp_path: Path):
    make_frame(make_contract(), 50, 2).to_csv(repo / "data/table.csv", index=False)
    (repo / "data.dvc").write_text("outs:\n- md5: bbbb\n  path: data\n", encoding="utf-8")
    text = build_report_files(repo, "main", tmp_path / "out").read_text(encoding="utf-8")
    assert (
        "`data.dvc` changed, but the data could not be compared: the base data could not be fetched through DVC ("
        in text
    )


def test_regression_project_gets_residuals_and_a_scatter(repo: Path, tmp_path: Path):
    rng = np.random.default_rng(0)
    target = rng.normal(10, 2, 40).round(3)
    frame = pd.DataFrame({"id": range(40), "target": target, "prediction": (target + rng.normal(0, 0.5, 40)).round(3)})
    write_project(repo, 0.95, 12, contract=contract_dict(task="regression", classes=None), predictions=frame)
    out = tmp_path / "out"
    text = build_report_files(repo, None, out).read_text(encoding="utf-8")
    assert "### Residuals (from `reports/predictions.csv`)" in text and "| R² |" in text
    assert "![Predicted vs actual](predicted_vs_actual.png)" in text and "Per-class" not in text
    assert (out / "predicted_vs_actual.png").read_bytes().startswith(PNG_SIGNATURE)


def test_an_image_of_an_earlier_run_that_this_run_has_no_data_for_is_removed(repo: Path, tmp_path: Path):
    out = tmp_path / "out"
    build_report_files(repo, "main", out, permutations=50)
    assert (out / "confusion_difference.png").is_file()
    (out / "notes.png").write_bytes(PNG_SIGNATURE)  # not one of the report's: left alone
    text = build_report_files(repo, None, out).read_text(encoding="utf-8")  # no base now: no difference to draw
    assert "confusion_difference.png" not in text
    assert sorted(path.name for path in out.glob("*.png")) == [
        "confusion_matrix.png",
        "notes.png",
        "training_curves.png",
    ]


def test_unknown_base_ref_says_how_to_fetch_it(repo: Path, tmp_path: Path):
    with pytest.raises(ReportError) as error:
        build_report_files(repo, "no-such-branch", tmp_path / "out")
    assert str(error.value) == (
        f"base ref 'no-such-branch' is not a commit in {repo}: fetch it (`git fetch origin no-such-branch`) "
        "or name another with BASE_REF=..."
    )


def test_missing_metrics_say_to_run_the_pipeline(repo: Path, tmp_path: Path):
    shutil.rmtree(repo / "runs")
    with pytest.raises(
        ReportError, match=r"runs/evaluate/metrics.json not found: run `dvc repro` \(or `make repro`\) first$"
    ):
        build_report_files(repo, None, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_invalid_json_is_named(repo: Path, tmp_path: Path):
    (repo / "reports/validation.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match=r"reports/validation.json is not valid JSON \(Expecting property name"):
        build_report_files(repo, "main", tmp_path / "out")


def test_run_url_needs_all_three_variables():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"}
    assert run_url_from_env(env) == "https://github.com/o/r/actions/runs/5"
    assert run_url_from_env({**env, "GITHUB_RUN_ID": ""}) is None


def test_line_plots_are_read_from_the_files_dvc_yaml_names(tmp_path: Path):
    for split in ("train", "val"):
        path = tmp_path / f"live/{split}/loss.tsv"
        path.parent.mkdir(parents=True)
        path.write_text("step\tloss\n1\t1.0\n2\t0.5\n", encoding="utf-8")
    spec = PlotSpec(
        "Loss", {"live/train/loss.tsv": ("loss",), "live/val/loss.tsv": ("loss",), "gone.tsv": ()}, "linear", "step"
    )
    confusion = PlotSpec("Confusion", {"reports/predictions.csv": ()}, "confusion", "target")
    (panel,) = line_panels(tmp_path, [spec, confusion])
    assert panel == ("Loss", "step", [("train", [(1.0, 1.0), (2.0, 0.5)]), ("val", [(1.0, 1.0), (2.0, 0.5)])])


def test_png_bytes_are_the_same_for_the_same_inputs(tmp_path: Path):
    counts = np.array([[3, 1], [0, 4]])
    first = render_confusion_matrix(["a", "b"], counts, tmp_path / "a.png").read_bytes()
    assert first == render_confusion_matrix(["a", "b"], counts, tmp_path / "b.png").read_bytes()


@pytest.mark.slow  # `dvc init` and two `dvc ... diff` runs: several seconds
def test_in_a_dvc_repository_dvc_s_own_diffs_are_attached(repo: Path, tmp_path: Path):
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    text = build_report_files(repo, "main", tmp_path / "out").read_text(encoding="utf-8")
    assert "<details><summary>DVC's view: <code>dvc metrics diff --md</code></summary>" in text
    assert "<details><summary>DVC's view: <code>dvc params diff --md</code></summary>" in text


# ------------------------------------------------------------------------------------------------------- quality
GATES_YAML = "gates:\n  floors: [accuracy >= 0.97]\n  max_regression: {accuracy: -0.01}\n  resamples: 500\n"


def test_the_report_shows_the_gate_and_the_stored_override_of_mlci_gate(repo: Path, tmp_path: Path):
    (repo / "gates.yaml").write_text(GATES_YAML, encoding="utf-8")
    out = tmp_path / "out"
    text = build_report_files(repo, "main", out).read_text(encoding="utf-8")
    assert "quality gate FAILED" in text
    assert "### Quality gate: ❌ failed: 1 of 2 gates breached" in text
    assert "| `accuracy >= 0.97` | floor | 0.9667 | ❌ breached: accuracy is 0.9667, not >= 0.97 |" in text
    # `mlci gate --override` in the quality job wrote gate.json into the report folder: the report shows its verdict
    assert main(["gate", "--root", str(repo), "--out", str(out), "--override", "label `accept-regression`"]) == 0
    text = build_report_files(repo, "main", out).read_text(encoding="utf-8")
    assert "### Quality gate: ⚠️ breached, accepted: 1 of 2 gates breached by label `accept-regression`" in text
    assert "quality gate breached, accepted by label `accept-regression`" in text
    # other predictions than the stored verdict was computed from: it is ignored, the gates are checked afresh
    write_project(repo, accuracy=0.9, epochs=12, predictions=classification_predictions(0.9))
    text = build_report_files(repo, "main", out).read_text(encoding="utf-8")
    assert "### Quality gate: ❌ failed" in text and "accepted" not in text


def test_a_base_without_predictions_gets_this_branch_s_intervals_and_a_notice(repo: Path, tmp_path: Path):
    git(repo, "rm", "-q", "--cached", "reports/predictions.csv")
    git(repo, "commit", "-q", "-m", "predictions not committed")
    text = build_report_files(repo, "main", tmp_path / "out").read_text(encoding="utf-8")
    assert "| metric | this PR [95% interval] |\n" in text
    assert "> **Notice:** the base has no per-row predictions: this PR's intervals only, no Δ interval." in text
    assert "confusion_difference.png" not in text


def test_an_invalid_gates_file_is_named_in_the_report_which_still_builds(repo: Path, tmp_path: Path):
    (repo / "gates.yaml").write_text("gates:\n  floors: [accuracy => 0.9]\n", encoding="utf-8")
    text = build_report_files(repo, "main", tmp_path / "out").read_text(encoding="utf-8")
    assert "_The quality gate could not be checked: " in text
    assert "gates.floors[0]: 'accuracy => 0.9' is not `metric >= value` (or <=, >, <)._" in text

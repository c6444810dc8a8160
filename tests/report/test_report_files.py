"""The report's edge: files in a git repository (workspace and base commit) in, report.md/comment.md/PNGs out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from digitnet.cli import main
from digitnet.plots import confusion_counts, render_confusion_matrix
from digitnet.report import COMMENT_MD, REPORT_MD, ReportError, build_report_files, read_curves, run_url_from_env

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def write_json(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def write_outputs(root: Path, accuracy: float, epochs: int) -> None:
    """The files the pipeline writes, small: metrics, params, validation summary, run record, curves, confusion."""
    per_class = {str(c): {"precision": accuracy, "recall": accuracy, "f1": accuracy, "support": 10} for c in range(3)}
    write_json(
        root / "dvclive/evaluate/metrics.json",
        {
            "accuracy": accuracy,
            "macro_f1": accuracy,
            "per_class": per_class,
            "slices": {"faint_ink": {"accuracy": accuracy, "support": 5}},
        },
    )
    write_json(root / "dvclive/train/metrics.json", {"train": {"loss": 1 - accuracy}, "step": epochs})
    (root / "params.yaml").write_text(f"train:\n  epochs: {epochs}\n", encoding="utf-8")
    write_json(
        root / "reports/validation.json",
        {"success": True, "rows": 30, "evaluated": 5, "successful": 5, "failed": 0, "failed_expectations": []},
    )
    write_json(
        root / "artifacts/model/train_run.json",
        {
            "device": "cpu",
            "precision": "fp32",
            "processes": 1,
            "wall_seconds": 1.5,
            "epochs": epochs,
            "resumed_from_epoch": None,
        },
    )
    for split in ("train", "val"):
        tsv = root / f"dvclive/train/plots/metrics/{split}/loss.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text("step\tloss\n" + "".join(f"{s}\t{1 / s:.3f}\n" for s in range(1, epochs + 1)), encoding="utf-8")
    write_json(
        root / "dvclive/evaluate/plots/sklearn/confusion_matrix.json",
        [{"actual": str(c % 3), "predicted": str((c * 7) % 3)} for c in range(30)],
    )


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC repository whose base commit has accuracy 0.9 and whose workspace has 0.95 and more epochs."""
    root = tmp_path_factory.mktemp("template") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    (root / "dvc.yaml").write_text("metrics:\n  - dvclive/evaluate/metrics.json\nparams:\n  - params.yaml\n")
    write_outputs(root, accuracy=0.9, epochs=10)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    write_outputs(root, accuracy=0.95, epochs=12)
    return root


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """A fresh copy per test (building the repository once: `dvc init` and a commit take seconds)."""
    return Path(shutil.copytree(template_repo, tmp_path / "repo", symlinks=True))


def test_report_compares_the_workspace_with_the_base_commit(repo: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = build_report_files(repo, "main", out, run_url="https://github.com/o/r/actions/runs/7", permutations=50)
    text = report.read_text(encoding="utf-8")
    assert report == out / REPORT_MD
    assert "| `accuracy` | 0.9500 | 0.9000 | +0.0500 | 🟢 better |" in text
    assert "| `train.epochs` | 12 | 10 |" in text
    assert "`data.dvc` is the same as on the base" in text
    assert "dvc metrics diff --md" in text and "dvc params diff --md" in text  # DVC's own view, collapsed
    assert "![Training curves](training_curves.png)" in text
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (out / png).read_bytes().startswith(PNG_SIGNATURE)
    comment = (out / COMMENT_MD).read_text(encoding="utf-8")
    assert "![" not in comment
    assert "the `pr-report` artifact of [the workflow run](https://github.com/o/r/actions/runs/7)" in comment


def test_report_without_a_base_shows_this_branch_only(repo: Path, tmp_path: Path):
    text = build_report_files(repo, None, tmp_path / "out").read_text(encoding="utf-8")
    assert "_No base to compare with: this branch's results only._" in text
    assert "Built outside a workflow run." in text


def test_unknown_base_ref_says_how_to_fetch_it(repo: Path, tmp_path: Path):
    with pytest.raises(ReportError) as error:
        build_report_files(repo, "no-such-branch", tmp_path / "out")
    assert str(error.value) == (
        f"base ref 'no-such-branch' is not a commit in {repo}: fetch it (`git fetch origin no-such-branch`) "
        "or name another with BASE_REF=..."
    )


def test_cli_report_fails_with_one_line_when_metrics_are_missing(tmp_path: Path, capsys):
    status = main(["report", "--root", str(tmp_path), "--base-ref", "", "--out", str(tmp_path / "out")])
    assert status == 1
    missing = tmp_path / "dvclive/evaluate/metrics.json"
    assert capsys.readouterr().err == f"ERROR digitnet: {missing} not found: run `dvc repro` (or `make repro`) first\n"
    assert not (tmp_path / "out").exists()


def test_cli_report_writes_the_report_with_the_run_link(repo: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/ml")
    monkeypatch.setenv("GITHUB_RUN_ID", "99")
    status = main(["report", "--root", str(repo), "--base-ref", "main", "--out", str(tmp_path / "out")])
    assert status == 0
    assert "[Workflow run](https://github.com/octo/ml/actions/runs/99)" in (tmp_path / "out/report.md").read_text()


def test_invalid_metrics_json_is_named(repo: Path, tmp_path: Path):
    (repo / "reports/validation.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match=r"reports/validation.json is not valid JSON \(Expecting property name"):
        build_report_files(repo, "main", tmp_path / "out")


def test_run_url_needs_all_three_variables():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"}
    assert run_url_from_env(env) == "https://github.com/o/r/actions/runs/5"
    assert run_url_from_env({**env, "GITHUB_RUN_ID": ""}) is None


def test_curves_and_confusion_counts_are_read_from_dvclive_files(repo: Path, tmp_path: Path):
    curves = read_curves(repo / "dvclive/train/plots/metrics")
    assert list(curves) == ["loss"] and sorted(curves["loss"]) == ["train", "val"]
    assert curves["loss"]["train"][:2] == [(1.0, 1.0), (2.0, 0.5)]
    names, counts = confusion_counts([{"actual": "10", "predicted": "2"}, {"actual": "2", "predicted": "2"}])
    assert names == ["2", "10"]
    np.testing.assert_array_equal(counts, [[1, 0], [1, 0]])


def test_png_bytes_are_the_same_for_the_same_inputs(tmp_path: Path):
    pairs = [{"actual": "1", "predicted": "1"}, {"actual": "1", "predicted": "0"}]
    first = render_confusion_matrix(pairs, tmp_path / "a.png").read_bytes()
    assert first == render_confusion_matrix(pairs, tmp_path / "b.png").read_bytes()


@pytest.mark.slow  # clones this repository, pulls and re-adds the data with DVC: about 20 s
def test_data_change_brings_a_drift_section_from_the_base_data_through_dvc(tmp_path: Path):
    clone = tmp_path / "clone"
    git(REPO_ROOT, "clone", "-q", str(REPO_ROOT), str(clone))
    subprocess.run([sys.executable, "-m", "dvc", "pull", "-q", "data.dvc"], cwd=clone, check=True)
    data = pd.read_csv(clone / "data/digits.csv")
    pixels = [c for c in data.columns if c.startswith("pixel_")]
    images = data[pixels].to_numpy().reshape(-1, 8, 8)
    shifted = np.zeros_like(images)
    shifted[:, :, 1:] = images[:, :, :-1]  # every digit one pixel to the right
    data[pixels] = shifted.reshape(len(data), -1)
    data.to_csv(clone / "data/digits.csv", index=False)
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data"], cwd=clone, check=True)
    git(clone, "commit", "-q", "-am", "shift the digits")
    for name in ("dvclive", "reports"):  # outputs as the pipeline would have left them (not re-run here)
        subprocess.run(["cp", "-r", str(REPO_ROOT / name), str(clone)], check=True)
    text = build_report_files(clone, "HEAD~1", tmp_path / "out", permutations=200).read_text(encoding="utf-8")
    assert "`data.dvc` changed: 1797 rows on the base, 1797 in this PR." in text
    assert "#### Drift tests, base vs this PR: ⚠️ **Drift detected**" in text
    assert "| Chi-squared on labels | 0 | 1 | 0.0167 | no drift |" in text
    assert "Decision rule: drift is reported when any of the three tests rejects at α/3" in text

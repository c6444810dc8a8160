"""`dvc.yaml` read for its metrics files and plots: stage and top-level entries, both entry spellings, templating;
and the data a `.dvc` file tracks that neither the DVC cache nor the remote holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.dvcfiles import (
    DvcYamlError,
    PlotSpec,
    load_dvc_yaml,
    metrics_files,
    plot_specs,
    tracked_paths,
    unrecoverable_data,
)

DVC_YAML = """\
vars:
  - data.schema.yaml:path
  - {run: runs}
stages:
  prepare:
    cmd: prepare ${path}
    deps:
      - ${path}
  train:
    cmd: train
    metrics:
      - ${run}/train/metrics.json:
          cache: false
    plots:
      - ${run}/train/curves
  evaluate:
    cmd: evaluate
    metrics:
      - ${run}/evaluate/metrics.json
    plots:
      - ${run}/evaluate/roc.json:
          x: fpr
          y: tpr
          template: simple
metrics:
  - extra/metrics.json
plots:
  - Training loss:
      template: linear
      x: step
      y:
        ${run}/train/curves/train/loss.tsv: loss
        ${run}/train/curves/val/loss.tsv: [loss, smoothed]
  - ${run}/evaluate/scores.csv:
      title: Scores
      y: score
  - ${run}/evaluate/plain.tsv
"""


def project(tmp_path: Path, text: str = DVC_YAML) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data.schema.yaml").write_text("path: data/table.csv\nother: 1\n", encoding="utf-8")
    (tmp_path / "dvc.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_metrics_files_are_each_stage_s_then_the_top_level_ones_with_vars_resolved(tmp_path: Path):
    assert metrics_files(project(tmp_path)) == [
        "runs/train/metrics.json",
        "runs/evaluate/metrics.json",
        "extra/metrics.json",
    ]


def test_vars_files_give_only_the_named_keys_and_params_yaml_is_the_default_context(tmp_path: Path):
    root = project(
        tmp_path, "vars: [data.schema.yaml:path]\nstages:\n  s:\n    cmd: ${path} ${other} ${train.epochs}\n"
    )
    (root / "params.yaml").write_text("train:\n  epochs: 3\n", encoding="utf-8")
    assert load_dvc_yaml(root)["stages"]["s"]["cmd"] == "data/table.csv ${other} 3"


def test_plots_from_the_top_level_list_and_from_stage_outputs(tmp_path: Path):
    specs = plot_specs(project(tmp_path))
    assert specs == [
        PlotSpec(
            title="Training loss",
            files={
                "runs/train/curves/train/loss.tsv": ("loss",),
                "runs/train/curves/val/loss.tsv": ("loss", "smoothed"),
            },
            template="linear",
            x="step",
        ),
        PlotSpec(title="Scores", files={"runs/evaluate/scores.csv": ("score",)}),
        PlotSpec(title="runs/evaluate/plain.tsv", files={"runs/evaluate/plain.tsv": ()}),
        PlotSpec(title="runs/train/curves", files={"runs/train/curves": ()}),  # not a folder here: kept as named
        PlotSpec(
            title="runs/evaluate/roc.json", files={"runs/evaluate/roc.json": ("tpr",)}, template="simple", x="fpr"
        ),
    ]


def test_a_plot_folder_in_the_workspace_stands_for_one_plot_per_data_file(tmp_path: Path):
    root = project(tmp_path)
    for name in ("train/loss.tsv", "val/loss.tsv", "notes.txt"):
        (root / "runs/train/curves" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "runs/train/curves" / name).write_text("step\tloss\n1\t0.5\n", encoding="utf-8")
    titles = [spec.title for spec in plot_specs(root)]
    assert "runs/train/curves/train/loss.tsv" in titles and "runs/train/curves/val/loss.tsv" in titles
    assert not any(title.endswith("notes.txt") for title in titles) and "runs/train/curves" not in titles


def test_no_dvc_yaml_means_no_metrics_and_no_plots(tmp_path: Path):
    assert metrics_files(tmp_path) == [] and plot_specs(tmp_path) == []


def test_an_unresolvable_reference_is_kept_literally(tmp_path: Path):
    root = project(tmp_path, "metrics:\n  - ${nowhere}/m.json\n")
    assert metrics_files(root) == ["${nowhere}/m.json"]


def test_invalid_yaml_is_named(tmp_path: Path):
    root = project(tmp_path, "stages: [unclosed\n")
    with pytest.raises(DvcYamlError, match=r"dvc.yaml is not valid YAML"):
        metrics_files(root)


# ------------------------------------------------------------------------------------------------ data no store holds
def test_tracked_paths_are_a_dvc_files_outs_relative_to_the_root(tmp_path: Path):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "raw.dvc").write_text("outs:\n- md5: abc.dir\n  path: raw\n- path: extra.csv\n")
    assert tracked_paths(tmp_path, "inputs/raw.dvc") == ["inputs/raw", "inputs/extra.csv"]
    with pytest.raises(DvcYamlError, match=r"^absent.dvc not found$"):
        tracked_paths(tmp_path, "absent.dvc")


def _dvc(root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, check=True, capture_output=True)


@pytest.mark.slow  # `dvc init`, `dvc add`, `dvc push` and `dvc data status`: several seconds
def test_missing_data_names_the_file_no_store_holds_and_the_fix(tmp_path: Path, monkeypatch, capsys):
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    _dvc(root, "init", "-q")
    _dvc(root, "remote", "add", "-d", "store", str(tmp_path / "store"))
    (root / "data" / "table.csv").write_text("a,b\n1,2\n")
    _dvc(root, "add", "-q", "data")
    _dvc(root, "push", "-q")
    monkeypatch.chdir(root)
    assert unrecoverable_data(root, "data.dvc") == []
    assert main(["missing-data", "data.dvc"]) == 0
    for store in (root / ".dvc" / "cache", tmp_path / "store"):  # the file's object, not the folder's listing
        (object_file,) = [path for path in store.rglob("*") if path.is_file() and not path.name.endswith(".dir")]
        object_file.unlink()
    capsys.readouterr()
    assert main(["missing-data", "data.dvc"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "ERROR mlci: data.dvc tracks data/table.csv, which neither the DVC cache nor the DVC remote holds: run "
        "`dvc push` on the machine that has it, or `git checkout <commit> -- data.dvc` for a version that was pushed"
    ]

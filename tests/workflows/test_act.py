"""The pull-request workflow under act, end to end, offline (tests/workflows/act/act_harness.py runs it).

Each run works on a copy of the repository in tmp_path (what a checkout of the PR would hold), on this machine
(`-P ubuntu-latest=-self-hosted`) with the prebuilt venv; test_act_container.py runs it in act's container mode. The
code job runs `make lint` and `make test` as on GitHub but on one small test module in one process (PYTEST_ADDOPTS,
PYTEST_WORKERS=0, coverage gate off): the suite itself is what runs this test, and the point here is the wiring between
jobs, not the tests twice over.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from act_harness import PR_JOBS, ActRun, ActSettings, copy_working_tree, quick_code_job, run_act
from project_copy import PROJECT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

QUICK_CODE_JOB = quick_code_job(f"tests/{PROJECT.package}/test_config.py")
BIN = Path(sys.executable).parent


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=act test", "-c", "user.email=act@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def commit_bad_data(repo: Path) -> None:
    """A PR that changes the data: one label becomes 42, tracked by DVC and pushed to the bundled store."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([BIN / "dvc", "pull", "--quiet", "data.dvc"], cwd=repo, check=True, env=env)
    csv = repo / "data" / "digits.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",42"
    csv.unlink()  # DVC links the file into its cache: write a new one, never through the link
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    subprocess.run([BIN / "dvc", "add", "--quiet", "data/digits.csv"], cwd=repo, check=True, env=env)
    subprocess.run([BIN / "dvc", "push", "--quiet", "data.dvc"], cwd=repo, check=True, env=env)
    git(repo, "add", "data.dvc", "dvc-store")
    git(repo, "commit", "--quiet", "--message=data: a label out of the set")


def act(repo: Path, work_dir: Path, keep_cache: bool = True) -> ActRun:
    return run_act(ActSettings(repo, work_dir, env=QUICK_CODE_JOB), keep_cache=keep_cache)


@pytest.fixture(scope="module")
def good_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ActRun, ActRun]:
    """The PR workflow twice on an unchanged copy: cold (empty DVC cache), then warm."""
    repo = copy_working_tree(tmp_path_factory.mktemp("repo"))
    work = tmp_path_factory.mktemp("act-work")
    cold = act(repo, work, keep_cache=False)
    cold_dir = work.parent / "cold-run"
    shutil.copytree(work, cold_dir, ignore=shutil.ignore_patterns("cache"))
    warm = act(repo, work)
    return ActRun(cold.returncode, cold.log, cold.seconds, cold_dir), warm


def test_every_job_of_the_pr_workflow_succeeds(good_runs: tuple[ActRun, ActRun]) -> None:
    cold, _ = good_runs
    assert cold.returncode == 0, cold.tail()
    results = cold.job_results()
    assert sorted(results.values()) == ["succeeded"] * len(PR_JOBS), results
    for job in PR_JOBS:
        assert any(name.endswith(f"/{job}") for name in results), f"job {job!r} missing from {results}"


def test_validation_summary_and_metrics_reach_the_job_summaries(good_runs: tuple[ActRun, ActRun]) -> None:
    cold, _ = good_runs
    assert re.search(r"All \d+ expectations passed on 1,797 rows", cold.summary("validate"))
    pipeline = cold.summary("reproduce")
    assert "### Pipeline metrics" in pipeline
    assert re.search(r"^\| accuracy \| 0\.9\d+ \|$", pipeline, re.MULTILINE), pipeline
    assert "Trained on `cpu` in this run." in pipeline
    assert "### Test coverage" in cold.summary("test")


def test_the_report_job_builds_the_report_file_and_its_summary(good_runs: tuple[ActRun, ActRun]) -> None:
    cold, _ = good_runs
    summary = cold.summary("report")
    assert "## Model report" in summary, summary
    assert "| `accuracy` |" in summary
    assert re.search(r"\): 12 epochs in \d+\.\d s\.", summary), summary  # the wall time of the run that trained
    report = (cold.only_run_dir() / "pr-report" / "report.md").read_text(encoding="utf-8")
    assert report.startswith("## Model report")


def test_the_artifacts_reach_the_artifact_server_folder(good_runs: tuple[ActRun, ActRun]) -> None:
    cold, _ = good_runs
    run_dir = cold.only_run_dir()
    for artifact in (
        "data-validation/validation.json",
        "data-docs/index.html",
        "pipeline-outputs/dvc.lock",
        "pipeline-outputs/dvclive/evaluate/metrics.json",
        "pipeline-outputs/reports/validation.json",
        "pipeline-outputs/artifacts/model/model.pt",
        "pipeline-outputs/artifacts/model/train_run.json",
        "pipeline-outputs/artifacts/train_run.local.json",
        "pr-report/report.md",
        "pr-report/comment.md",
        "pr-report/comment-data.json",
    ):
        assert (run_dir / artifact).is_file(), f"{artifact} not in {run_dir}"


def test_an_unchanged_pr_restores_the_dvc_cache_and_does_not_retrain(good_runs: tuple[ActRun, ActRun]) -> None:
    cold, warm = good_runs
    assert "Running stage 'train'" in cold.log
    assert warm.returncode == 0, warm.tail()
    assert "Stage 'train' didn't change, skipping" in warm.log
    assert "Running stage 'train'" not in warm.log
    assert "Training skipped: nothing the train stage depends on changed" in warm.summary("reproduce")
    assert "12 epochs. No wall time for this model here" in warm.summary("report")  # not the cold run's time


def test_bad_data_fails_at_validation_and_training_never_starts(tmp_path: Path) -> None:
    repo = copy_working_tree(tmp_path / "repo")
    commit_bad_data(repo)
    # `--job pipeline`: the data job and the pipeline job that needs it (the code job has nothing to do with data).
    run = run_act(ActSettings(repo, tmp_path / "act-work", extra_args=["--job", "pipeline"]), keep_cache=False)
    assert run.returncode != 0
    results = run.job_results()
    assert [result for name, result in results.items() if name.endswith("/validate data")] == ["failed"], results
    assert not any(name.endswith("/dvc repro") for name in results), results
    assert "Running stage 'train'" not in run.log
    summary = run.summary("validate")
    assert "**1 of " in summary
    assert re.search(r"\| expect_column_values_to_be_in_set \| label \|.*42", summary), summary
    assert "title=expect_column_values_to_be_in_set (label)" in run.log
    assert (run.only_run_dir() / "data-validation" / "validation.json").is_file()

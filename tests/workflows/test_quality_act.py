"""The quality gate under act, offline: a PR that degrades the model fails the `quality` check with the breached gate
in its job summary, a noise-level change passes and is labelled "within noise", and the override label turns the
failure into a passing check with a warning.

The copy of the repository gets a base commit on `main` that holds the pipeline's committed outputs (the per-row
predictions above all: the gate pairs the PR's test rows with the base's) and a PR commit on `act-local` that changes
params.yaml. Only the jobs the gate needs run (`-j quality`: data, pipeline, quality), on one work dir whose DVC-cache
store the three runs share, so the override run (the degraded params again) trains nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from act_harness import EVENTS, ActRun, ActSettings, copy_working_tree, run_act

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

BIN = Path(sys.executable).parent
OVERRIDE_LABEL = "accept-regression"  # ci.yml's override-label input
PIPELINE_OUTPUTS = ["dvc.lock", "dvclive", "reports"]


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=act test", "-c", "user.email=act@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def committed(repo: Path, path: str) -> bool:
    return bool(git(repo, "ls-files", path).strip())


def run_pipeline(repo: Path) -> None:
    """`dvc repro` in the copy, as the base branch's CI (or its author) did before committing the outputs."""
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    for command in (["dvc", "pull", "--quiet", "data.dvc"], ["dvc", "repro", "--quiet"]):
        done = subprocess.run([BIN / command[0], *command[1:]], cwd=repo, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def set_params(repo: Path, message: str, **train) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(train)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    git(repo, "commit", "--quiet", "--all", f"--message={message}")


def event(folder: Path, labels: list[str]) -> Path:
    """The pull_request payload with these labels on the PR."""
    payload = json.loads((EVENTS / "pull_request.json").read_text(encoding="utf-8"))
    payload["pull_request"]["labels"] = [{"name": name} for name in labels]
    path = folder / f"pull_request-{'-'.join(labels) or 'unlabelled'}.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def act_quality(repo: Path, work: Path, labels: list[str] = ()) -> ActRun:
    extra = ["--job", "quality", "--eventpath", str(event(work.parent, list(labels)))]  # the later --eventpath wins
    return run_act(ActSettings(repo, work, extra_args=extra))


def gate_result(run: ActRun) -> str | None:
    results = [result for job, result in run.job_results().items() if job.endswith("/quality gate")]
    return results[0] if results else None


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy with a base commit on `main` holding the pipeline's outputs (made here when not committed)."""
    repo = copy_working_tree(tmp_path_factory.mktemp("base") / "repo")
    if not committed(repo, "reports/predictions.csv"):
        run_pipeline(repo)
        git(repo, "add", "--force", *PIPELINE_OUTPUTS)
        git(repo, "commit", "--quiet", "--message=base: the pipeline's outputs, committed")
    git(repo, "branch", "--force", "main", "HEAD")
    return repo


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quality") / "act-work"


def pr_copy(base_repo: Path, folder: Path) -> Path:
    repo = folder / "repo"
    shutil.copytree(base_repo, repo, symlinks=True)
    return repo


@pytest.fixture(scope="module")
def degraded(base_repo: Path, work: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ActRun]:
    repo = pr_copy(base_repo, tmp_path_factory.mktemp("degraded"))
    set_params(repo, "train one epoch", epochs=1)
    return repo, act_quality(repo, work)


@pytest.fixture(scope="module")
def noise(base_repo: Path, work: Path, degraded, tmp_path_factory: pytest.TempPathFactory) -> ActRun:
    repo = pr_copy(base_repo, tmp_path_factory.mktemp("noise"))
    set_params(repo, "another seed", seed=7)
    return act_quality(repo, work)


@pytest.fixture(scope="module")
def overridden(degraded, work: Path) -> ActRun:
    repo, _ = degraded
    return act_quality(repo, work, labels=[OVERRIDE_LABEL, "documentation"])


def test_a_degraded_model_fails_the_quality_check_with_the_breached_gates_in_the_summary(degraded) -> None:
    _, run = degraded
    assert run.returncode != 0, run.tail(80)
    assert gate_result(run) == "failed", run.job_results()
    summary = run.summary("gate")
    assert summary.startswith("## Quality gate: ❌ failed: "), summary
    assert re.search(
        r"^\| `accuracy >= 0\.95` \| floor \| 0\.\d{4} \| ❌ breached: accuracy is ", summary, re.M
    ), summary
    assert re.search(
        r"^\| `accuracy: -0\.01` \| max regression \| .* \| ❌ breached: accuracy changed by -", summary, re.M
    )
    assert "Δ: paired bootstrap on the same test rows" in summary  # the base's predictions were found and paired
    assert "| `accuracy` |" in summary and "🔴 worse" in summary


def test_a_noise_level_change_passes_and_is_within_noise(noise: ActRun) -> None:
    assert noise.returncode == 0, noise.tail(80)
    assert gate_result(noise) == "succeeded", noise.job_results()
    summary = noise.summary("gate")
    assert summary.startswith("## Quality gate: ✅ passed"), summary
    assert re.search(r"^\| `accuracy` \| .* \| ⚪ (within noise|same) \|$", summary, re.M), summary


def test_the_override_label_passes_a_breach_with_a_warning(overridden: ActRun) -> None:
    assert overridden.returncode == 0, overridden.tail(80)
    assert gate_result(overridden) == "succeeded", overridden.job_results()
    summary = overridden.summary("gate")
    assert summary.startswith("## Quality gate: ⚠️ breached, accepted: "), summary
    assert f"by label `{OVERRIDE_LABEL}`" in summary.splitlines()[0]
    assert "the check passes with a warning" in summary
    assert "Stage 'train' didn't change, skipping" in overridden.log  # the degraded run's model, from the cache
    verdict = next((overridden.artifacts).glob("*/quality-gate/gate.json"))
    assert json.loads(verdict.read_text(encoding="utf-8"))["status"] == "overridden"

"""cml-lock.yml's steps, run as a runner would run them, in a small repository with a local bare `origin`: the way a
copy gets .github/cml/package-lock.json (which gpu-runner.yml installs the CML CLI from) on GitHub itself.

The checkout is replaced by the prepared repository; `npm` and `gh` are the stand-ins in tests/workflows/act/cml-lock/
(the registry these machines reach has no @dvcorg/cml). Not covered: GitHub's `if:` on the job, tokens, permissions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import ACT_DIR, GITHUB_DIR

WORKFLOW = GITHUB_DIR / "workflows" / "cml-lock.yml"
STAND_INS = ACT_DIR / "cml-lock"
IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository holding the template's .github/cml/package.json and no lockfile, pushed to a bare `origin`."""
    origin, repo = tmp_path / "origin.git", tmp_path / "repo"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    (repo / ".github" / "cml").mkdir(parents=True)
    (repo / ".github" / "cml" / "package.json").write_bytes((GITHUB_DIR / "cml" / "package.json").read_bytes())
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "template")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    return repo


def run_job(repo: Path, **fake: str) -> dict[str, str]:
    """Run the job's `run:` steps in order (their working-directory, env and `if:` on step outputs); returns the
    outputs of the `lock` step and each step's stdout."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    context = {
        "github.token": "fake-token",
        "github.repository": "owner/copy",
        "github.event.repository.default_branch": "main",
        "github.server_url": "https://github.com",
    }
    outputs: dict[str, str] = {}
    printed: dict[str, str] = {}
    for step in job["steps"]:
        if "run" not in step:
            continue  # the checkout: the prepared repository stands in for it
        if step.get("if") and step["if"] != "steps.lock.outputs.changed == 'true'":
            raise AssertionError(f"this harness cannot evaluate `if: {step['if']}`")
        if step.get("if") and outputs.get("changed") != "true":
            continue
        output = repo.parent / "output"
        output.write_text("")
        env = {
            **os.environ,
            "PATH": f"{STAND_INS}:{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
            "FAKE_NPM_LOG": str(repo.parent / "npm.log"),
            "FAKE_GH_LOG": str(repo.parent / "gh.log"),
            **{key: str(value) for key, value in workflow["env"].items()},
            **{
                key: re.sub(r"\$\{\{ (\S+) \}\}", lambda m: context[m[1]], value)
                for key, value in step.get("env", {}).items()
            },
            **fake,
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo / step.get("working-directory", "."),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"step {step['name']!r} failed: {done.stdout}{done.stderr}"
        printed[step["name"]] = done.stdout
        if step.get("id") == "lock":
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return printed


def test_the_lockfile_is_written_on_a_branch_and_proposed_in_a_pull_request(repository: Path) -> None:
    printed = run_job(repository)
    assert (repository.parent / "npm.log").read_text() == (
        "install --package-lock-only --ignore-scripts --no-audit --no-fund\n"
    )
    assert (
        "locked: @dvcorg/cml 0.20.6, 1 package(s) in all"
        in printed["Write the lockfile (npm install --package-lock-only)"]
    )
    pushed = git(repository, "ls-remote", "--heads", "origin", "cml-lockfile").split()
    assert pushed, "the cml-lockfile branch was not pushed"
    commit = git(repository, "show", "--name-only", "--format=%s", pushed[0]).split("\n")
    assert (commit[0], commit[-2]) == (
        "CML CLI lockfile (.github/cml/package-lock.json) for the cloud GPU runner",
        ".github/cml/package-lock.json",
    )
    lock = json.loads(git(repository, "show", f"{pushed[0]}:.github/cml/package-lock.json"))
    assert lock["packages"]["node_modules/@dvcorg/cml"]["version"] == "0.20.6"
    calls = (repository.parent / "gh.log").read_text().splitlines()
    assert calls[0] == "auth setup-git"
    assert calls[-1] == (
        "pr create --repo owner/copy --base main --head cml-lockfile --title CML CLI lockfile for the cloud GPU runner "
        "--body-file pr-body.md"
    )
    assert "Review the locked versions" in (repository.parent / "gh.log.body").read_text()


def test_a_committed_lockfile_that_npm_leaves_unchanged_proposes_nothing(repository: Path) -> None:
    run_job(repository)
    git(repository, "switch", "-q", "main")
    git(repository, "merge", "-q", "--ff-only", "cml-lockfile")
    (repository.parent / "gh.log").unlink()
    printed = run_job(repository)
    assert (
        "::notice::.github/cml/package-lock.json is up to date: nothing to propose"
        in printed["Write the lockfile (npm install --package-lock-only)"]
    )
    assert not (repository.parent / "gh.log").exists()


def test_an_open_pull_request_gets_the_new_lockfile_on_its_branch_not_a_second_one(repository: Path) -> None:
    printed = run_job(repository, FAKE_GH_PR_OPEN="1")
    assert "::notice::the pull request for cml-lockfile is open already" in printed["Open the pull request"]
    assert not any(call.startswith("pr create") for call in (repository.parent / "gh.log").read_text().splitlines())

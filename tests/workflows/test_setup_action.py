"""The set-up action's DVC-credentials step, run as the runner runs it: NAME=value lines become masked variables of
the job's later steps ($GITHUB_ENV); a bad line stops the job; an empty secret for a cloud remote is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import GITHUB_DIR

STEP = next(
    step
    for step in yaml.safe_load((GITHUB_DIR / "actions" / "setup" / "action.yml").read_text(encoding="utf-8"))["runs"][
        "steps"
    ]
    if step["name"] == "DVC remote credentials"
)


def run_step(tmp_path: Path, credentials: str, remote: str | None = None, fork_pr: str = "false"):
    """The step in a DVC repository whose default remote is `remote` (none: no remote)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([dvc, "init", "-q"], cwd=repo, check=True)
    if remote:
        subprocess.run([dvc, "remote", "add", "-d", "store", remote], cwd=repo, check=True)
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GITHUB_ENV": str(github_env),
        "CREDENTIALS": credentials,
        "FORK_PR": fork_pr,
        "DVC_NO_ANALYTICS": "1",
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", STEP["run"]],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done, github_env.read_text()


def test_each_credential_line_is_masked_and_reaches_the_later_steps(tmp_path: Path) -> None:
    done, github_env = run_step(
        tmp_path, "# the bucket's reader\nAWS_ACCESS_KEY_ID=AKIA1\n\nAWS_SECRET_ACCESS_KEY=s/x=y\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "::add-mask::AKIA1\n::add-mask::s/x=y\n"
    assert github_env == "AWS_ACCESS_KEY_ID=AKIA1\nAWS_SECRET_ACCESS_KEY=s/x=y\n"


def test_a_line_that_is_not_name_value_stops_the_job_and_writes_nothing(tmp_path: Path) -> None:
    done, github_env = run_step(tmp_path, "export AWS_ACCESS_KEY_ID=AKIA1\n")
    assert (done.returncode, done.stdout) == (
        1,
        "::error::DVC_REMOTE_CREDENTIALS: a line is not NAME=value; fix the secret\n",
    )
    assert github_env == ""


@pytest.mark.parametrize(
    "fork_pr,message",
    [
        (
            "false",
            "::warning::the DVC remote s3://bucket/dvc may need credentials and DVC_REMOTE_CREDENTIALS is empty: "
            "add the secret (docs/template.md, 'Point DVC at your own remote'); a called workflow gets it only from "
            "a caller that passes it\n",
        ),
        (
            "true",
            "::warning::the DVC remote s3://bucket/dvc may need credentials, and a fork's pull request gets no "
            "secrets: if `dvc pull` fails, a maintainer pushes the branch to this repository to run CI on it\n",
        ),
    ],
)
def test_an_empty_secret_for_a_cloud_remote_is_named(tmp_path: Path, fork_pr: str, message: str) -> None:
    done, _ = run_step(tmp_path, "", remote="s3://bucket/dvc", fork_pr=fork_pr)
    assert (done.returncode, done.stdout) == (0, message)


def test_the_committed_local_store_needs_no_credentials_and_gets_no_warning(tmp_path: Path) -> None:
    done, github_env = run_step(tmp_path, "", remote="../dvc-store")
    assert (done.returncode, done.stdout, github_env) == (0, "", "")

"""A new user's first hour: "Use this template", rename the package, then `make repro` passes with the committed
metrics. `make lint` and `make test` in a renamed copy run in tests/template/test_swap.py, which renames its copy
before it swaps in its own data and model (once is enough: each runs the project's whole suite).

The repository's files (git ls-files, the DVC store among them) are copied into a new repository with one commit, as
"Use this template" makes it. Rather than a fresh multi-minute install, the copy gets a small venv that sees this
environment's packages (a .pth line) and, after the rename, installs only the renamed package into itself (editable,
no deps). The venv is there before `make rename`, as after `make install`, so the rename re-formats with its isort and
black.
"""

import os
import subprocess
from pathlib import Path

import pytest
from project_copy import PROJECT, copy_project, install_project, venv_on_top_of_this_one

REPO_ROOT = Path(__file__).resolve().parents[2]
OLD_NAME = PROJECT.package
NEW_NAME = "acme_digits"

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _commit(root: Path, message: str, init: bool = False) -> None:
    git = ["git", "-c", "user.name=New User", "-c", "user.email=new.user@example.com"]
    commands = ([["init", "-q", "-b", "main"]] if init else []) + [["add", "-A"], ["commit", "-q", "-m", message]]
    for command in commands:
        done = _run(git + command, root)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def renamed_project(tmp_path_factory) -> tuple[Path, dict]:
    project = copy_project(tmp_path_factory.mktemp("new-user") / "acme-digits")
    venv = venv_on_top_of_this_one(tmp_path_factory.mktemp("venv") / "venv")
    # A new user's environment: not this run's pytest, coverage and make state, nor MLCI_TEMPLATE_TESTS (a repository
    # made from the template skips the template's own tests, as the copy's `make test` then does).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_", "MAKE")) and key != "MLCI_TEMPLATE_TESTS"
    }
    env.update(VENV=str(venv), CI="true")
    renamed = _run(["make", "rename", f"NAME={NEW_NAME}"], project, env)
    assert renamed.returncode == 0, renamed.stdout + renamed.stderr
    assert f"re-formatted the rewritten Python files with isort and black ({venv}/bin/python)" in renamed.stdout
    _commit(project, f"Rename the package to {NEW_NAME}")
    install_project(venv, project)
    return project, env


def test_rename_leaves_no_trace_of_the_old_name(renamed_project):
    project, _ = renamed_project
    assert (project / "src" / NEW_NAME / "cli.py").is_file()
    assert not (project / "src" / OLD_NAME).exists() and not (project / "tests" / OLD_NAME).exists()
    leftovers = _run(["git", "grep", "-n", "-w", OLD_NAME, "--", ".", ":!LICENSE"], project)
    assert leftovers.stdout == ""


def test_make_repro_passes_in_the_renamed_copy_with_the_same_metrics(renamed_project):
    project, env = renamed_project
    result = _run(["make", "repro"], project, env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Running stage 'train'" in result.stdout  # the code files changed (imports), so the model is retrained
    assert f"{NEW_NAME} train" in result.stdout
    committed = (REPO_ROOT / "dvclive" / "evaluate" / "metrics.json").read_bytes()
    assert (project / "dvclive" / "evaluate" / "metrics.json").read_bytes() == committed
    again = _run(["make", "repro"], project, env)
    assert "Running stage" not in again.stdout and again.returncode == 0

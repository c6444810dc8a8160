"""A new user's first hour: "Use this template", `make install`, `make rename` to a name that sorts after the
machinery's, `make install` again, then `make repro` (the committed metrics), `make test` (the project's own tests)
and `make serve` (a prediction over HTTP) pass, and the rename touched no file of the template's. `make lint` in a
renamed copy runs in tests/template/test_swap.py.

The copy is HEAD's files (`git archive`, the DVC store among them) in a new repository with one commit, as "Use this
template" makes it, and its environment is its own: the Makefile makes .venv and installs the locks into it (uv and
the wheelhouse: 10-20 s with a warm cache). It is installed before the rename, as a new user's is, so the second
`make install` must replace the old distribution (its predictor entry point and its console scripts) with the new.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from project_copy import PROJECT, copy_project
from serve_client import first_test_row, post, served

from mlci.contract import load_contract
from mlci.template.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
OLD_NAME = PROJECT.package
# Sorts after `mlci` (imports move, test order changes). Derived, not spelled out: the copy's fence check (its
# `make test` runs tests/mlci/test_smoke.py) fails on a template file, as this one is, that names the copy's package.
NEW_NAME = f"zz{OLD_NAME}"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class RenamedCopy:
    root: Path
    env: dict
    renamed: list[str]  # the paths the rename changed (git diff HEAD, before its commit)
    reinstall: str  # what the `make install` after the rename printed


def _run(command: list[str], cwd: Path, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _commit(root: Path, message: str) -> None:
    git = ["git", "-c", "user.name=New User", "-c", "user.email=new.user@example.com", "-c", "commit.gpgsign=false"]
    for command in (["add", "-A"], ["commit", "-q", "-m", message]):
        done = _run(git + command, root, timeout=60)
        assert done.returncode == 0, done.stderr


def _make(root: Path, env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    done = _run(["make", *args], root, env, timeout)
    assert done.returncode == 0, f"make {' '.join(args)}:\n" + done.stdout[-4000:] + done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def renamed_copy(tmp_path_factory) -> RenamedCopy:
    root = copy_project(tmp_path_factory.mktemp("new-user") / NEW_NAME, committed_only=True).resolve()
    # A new user's environment: not this run's venv, pytest, coverage and make state, nor MLCI_TEMPLATE_TESTS or a
    # test scope (a repository made from the template skips the template's own tests, as the copy's `make test` does).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_", "MAKE", "MLCI_")) and key not in ("VENV", "VIRTUAL_ENV")
    }
    env.update(CI="true")
    _make(root, env, "install", timeout=900)
    renamed = _make(root, env, "rename", f"NAME={NEW_NAME}", timeout=300)
    assert f"re-formatted the rewritten Python files with isort and black ({root}/.venv/bin/python)" in renamed.stdout
    diff = _run(["git", "diff", "--name-only", "--no-renames", "HEAD"], root, timeout=60)
    assert diff.returncode == 0, diff.stderr
    _commit(root, f"Rename the package to {NEW_NAME}")
    reinstall = _make(root, env, "install", timeout=600)
    return RenamedCopy(root, env, diff.stdout.splitlines(), reinstall.stdout)


def test_rename_leaves_no_trace_of_the_old_name(renamed_copy):
    root = renamed_copy.root
    assert (root / "src" / NEW_NAME / "cli.py").is_file()
    assert not (root / "src" / OLD_NAME).exists() and not (root / "tests" / OLD_NAME).exists()
    leftovers = _run(["git", "grep", "-n", "-w", OLD_NAME, "--", ".", ":!LICENSE"], root, timeout=60)
    assert leftovers.stdout == ""


def test_rename_touches_no_file_of_the_templates(renamed_copy):
    # The old package's paths (deleted) are yours under its name, the new ones under the new name.
    old, new = load_manifest(renamed_copy.root, package=OLD_NAME), load_manifest(renamed_copy.root)
    assert [name for name in renamed_copy.renamed if "template" in (old.side(name), new.side(name))] == []
    assert [name for name in renamed_copy.renamed if "yours" not in (old.side(name), new.side(name))] == []
    assert f"src/{NEW_NAME}/cli.py" in renamed_copy.renamed and "pyproject.toml" in renamed_copy.renamed


def test_make_install_after_the_rename_replaces_the_old_distribution_and_keeps_the_console_scripts(renamed_copy):
    root, env = renamed_copy.root, renamed_copy.env
    assert f"+ uv pip uninstall --quiet --python .venv/bin/python {OLD_NAME}\n" in renamed_copy.reinstall
    scripts = root / ".venv" / "bin"
    assert (scripts / "mlci").is_file() and (scripts / NEW_NAME).is_file() and not (scripts / OLD_NAME).exists()
    predictors = _run(
        [
            str(scripts / "python"),
            "-c",
            "from importlib.metadata import entry_points as e; "
            "print(*(f'{p.name}={p.value}' for p in e(group='mlci')))",
        ],
        root,
        env,
        timeout=60,
    )
    # one predictor and one params check, the new package's: the old distribution's are gone
    assert sorted(predictors.stdout.split()) == [
        f"params_check={NEW_NAME}.config:load_config",
        f"predictor={NEW_NAME}.serving:load_predictor",
    ]
    assert "Nothing to be done for 'install'" in _make(root, env, "install", timeout=120).stdout


def test_make_repro_passes_in_the_renamed_copy_with_the_same_metrics(renamed_copy):
    root, env = renamed_copy.root, renamed_copy.env
    result = _make(root, env, "repro")
    assert "Running stage 'train'" in result.stdout  # the code files changed (imports), so the model is retrained
    assert f"{NEW_NAME} train" in result.stdout
    committed = (REPO_ROOT / "dvclive" / "evaluate" / "metrics.json").read_bytes()
    assert (root / "dvclive" / "evaluate" / "metrics.json").read_bytes() == committed
    again = _make(root, env, "repro", timeout=300)
    assert "Running stage" not in again.stdout


def test_make_test_runs_the_projects_own_tests_and_passes(renamed_copy):
    result = _make(renamed_copy.root, renamed_copy.env, "test")
    assert f"+ pytest tests/{NEW_NAME} tests/mlci/test_smoke.py --cov={NEW_NAME}\n" in result.stdout  # project scope
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_make_serve_answers_a_test_row_as_the_predictions_file_says(renamed_copy, tmp_path):
    root, env = renamed_copy.root, renamed_copy.env
    _make(root, env, "repro")  # the model (a no-op after the repro test)
    contract = load_contract(root / "data.schema.yaml")
    assert contract.id, "the answer is matched to reports/predictions.csv by the contract's id"
    row, expected = first_test_row(root, contract.id)
    payload = {name: row[name] for name in [contract.id, *contract.feature_names]}
    with served(root, env, tmp_path / "serve.log") as base:
        status, body = post(f"{base}/predict", {"rows": [payload]})
    assert status == 200, body
    assert [(p[contract.id], str(p["prediction"])) for p in body["predictions"]] == [(row[contract.id], str(expected))]

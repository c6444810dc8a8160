"""The DVC pipeline in a fresh copy of the repository: it runs end to end, is reproducible, a no-op is a no-op, and
`dvc status` retrains for a change of the project's code or pinned environment but not of docs, tests or the
template's report code."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from project_copy import PROJECT, copy_project

REPO_ROOT = Path(__file__).resolve().parents[2]
DVC_YAML = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
STAGES = list(DVC_YAML["stages"])
# The reference project's stages: each depends on the whole project package and the pinned environment.
PROJECT_STAGES = {"split", "train", "evaluate"}
PROJECT_PACKAGE = f"src/{PROJECT.package}"


def _paths(entries: list) -> list[str]:
    """The paths of a stage's deps/outs/metrics list (an entry is a path or a one-key mapping of path to options)."""
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries]


# The pinned environment the training depends on: the lock files among train's deps.
ENVIRONMENT_DEPS = [
    path for path in _paths(DVC_YAML["stages"]["train"]["deps"]) if path.startswith(("requirements", "uv.lock"))
]

pytestmark = pytest.mark.slow


# dvc and the stages' CLI (the project's package) come from the environment running the tests, activated or not.
ENV = {**os.environ, "CI": "true", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=ENV, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The committed files, as a fresh clone has them, with `dvc pull` from the bundled remote."""
    root = copy_project(tmp_path_factory.mktemp("clone"))
    pulled = _run(["dvc", "pull", "-q", "data.dvc"], root)
    assert pulled.returncode == 0, pulled.stderr
    return root


def _outs(lock_file: Path) -> dict:
    """Each stage's outputs in a dvc.lock (metrics and plots included): path and hash."""
    stages = yaml.safe_load(lock_file.read_text())["stages"]
    return {stage: entry.get("outs", []) for stage, entry in stages.items()}


def test_the_committed_lock_matches_the_committed_code_params_and_data(project):
    """A change of the project's code, params, data or pinned environment committed without `make repro` and its
    dvc.lock fails here (a copy's pipeline job would retrain on every pull request until it is)."""
    pulled = _run(["dvc", "pull", "-q"], project)  # the pipeline's outputs as well: the bundled store holds them
    assert pulled.returncode == 0, pulled.stderr
    status = _run(["dvc", "status"], project)
    stale = f"run `make repro` and commit dvc.lock:\n{status.stdout}"
    assert status.stdout.strip() == "Data and pipelines are up to date.", stale


def test_pipeline_reproduces_the_committed_lock_and_metrics(project):
    committed_metrics = (project / "dvclive/evaluate/metrics.json").read_bytes()
    committed_outs = _outs(project / "dvc.lock")
    assert STAGES == ["validate", "split", "train", "evaluate"]
    # Stage by stage: `dvc repro --force` would also "reproduce" data.dvc, whose folder holds the git-tracked data
    # contract, and DVC refuses that ("output 'data' is already tracked by SCM").
    for stage in STAGES:
        repro = _run(["dvc", "repro", "--force", "--single-item", stage], project)
        assert repro.returncode == 0, repro.stdout + repro.stderr
        assert f"Running stage '{stage}'" in repro.stdout
    assert (project / "dvclive/evaluate/metrics.json").read_bytes() == committed_metrics
    # Every output hashes as committed, the DVC-cached model folder included: a fresh clone's retrain (its DVC store
    # holds only the data) leaves dvc.lock unchanged, with nothing of the run's own (wall time) in a tracked output.
    assert _outs(project / "dvc.lock") == committed_outs
    assert json.loads((project / "reports/validation.json").read_text())["success"] is True
    status = _run(["dvc", "status"], project)
    assert "Data and pipelines are up to date." in status.stdout


def test_evaluate_writes_one_prediction_per_test_row(project):
    """Runs after the full repro above: evaluate's per-row predictions, the file the template's report reads."""
    assert "reports/predictions.csv" in _paths(DVC_YAML["stages"]["evaluate"]["outs"])
    test = pd.read_csv(project / "artifacts/split/test.csv")
    predictions = pd.read_csv(project / "reports/predictions.csv")
    assert list(predictions.columns) == ["id", "target", "prediction", *(f"proba_{label}" for label in range(10))]
    assert predictions["id"].tolist() == test["id"].tolist()
    assert predictions.filter(like="proba_").sum(axis=1).between(0.999, 1.001).all()


def test_second_repro_with_nothing_changed_runs_no_stage(project):
    repro = _run(["dvc", "repro"], project)
    assert repro.returncode == 0, repro.stderr
    assert "Running stage" not in repro.stdout
    assert "Data and pipelines are up to date." in repro.stdout


def test_make_data_pulls_missing_data_and_keeps_an_edited_copy(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("artifacts", "dvclive"))
    venv = Path(sys.prefix)
    # `env -u`: a user's shell, not the `make test` this suite may run under (make[1]: prefixes, inherited flags)
    make = ["env", "-u", "MAKELEVEL", "-u", "MAKEFLAGS", "-u", "MFLAGS"]
    make += ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed", "data"]
    csv = copy / "data" / "digits.csv"
    csv.unlink()
    pulled = _run(make, copy)
    assert pulled.returncode == 0, pulled.stderr
    assert csv.read_bytes() == (project / "data" / "digits.csv").read_bytes()
    csv.chmod(0o644)
    csv.write_text(csv.read_text() + "0," * 64 + "3\n")  # the user's own edit, not yet `dvc add`ed
    kept = _run(make, copy)
    assert (kept.returncode, kept.stdout.strip()) == (0, "make: Nothing to be done for 'data'.")
    assert csv.read_text().endswith("0," * 64 + "3\n")
    shutil.rmtree(copy / "data")
    pulled_again = _run(make, copy)
    assert pulled_again.returncode == 0, pulled_again.stderr
    assert csv.read_bytes() == (project / "data" / "digits.csv").read_bytes()


# ----------------------------------------------------------------------------------- what makes `dvc status` retrain
def _stand_in(path: Path) -> None:
    """A placeholder for an output the pipeline would write: a file where the name has a suffix, else a folder."""
    if path.suffix:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("stand-in\n")
    else:
        path.mkdir(parents=True, exist_ok=True)
        (path / "stand-in").write_text("stand-in\n")


def _status(root: Path) -> dict:
    status = _run(["dvc", "status", "--json"], root)
    assert status.returncode == 0, status.stderr
    return json.loads(status.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> tuple[Path, dict]:
    """A copy whose dvc.lock matches its files (no repro: stand-in outputs, then `dvc commit -f`), and the status
    then. The project's stages must be up to date; validate may not be where the template's files are in flux."""
    root = copy_project(tmp_path_factory.mktemp("locked"))
    pulled = _run(["dvc", "pull", "-q", "data.dvc"], root)
    assert pulled.returncode == 0, pulled.stderr
    stages = DVC_YAML["stages"].values()
    outs = [path for stage in stages for path in _paths(stage.get("outs", []) + stage.get("metrics", []))]
    inside_outs = [  # deps written by an earlier stage inside its output folder, such as artifacts/split/test.csv
        path for stage in stages for path in _paths(stage["deps"]) if any(path.startswith(f"{out}/") for out in outs)
    ]
    for path in sorted(set(inside_outs + outs), key=lambda name: not Path(name).suffix):
        if not (root / path).exists():
            _stand_in(root / path)
    committed = _run(["dvc", "commit", "--force", *sorted(PROJECT_STAGES)], root)
    assert committed.returncode == 0, committed.stderr
    _run(["dvc", "commit", "--force", *(set(STAGES) - PROJECT_STAGES)], root)  # best effort: not under test
    baseline = _status(root)
    assert not PROJECT_STAGES & set(baseline), baseline
    return root, baseline


@contextmanager
def _edited(path: Path) -> Iterator[None]:
    """Append a comment to `path` (creating it if missing) for the duration; then put it back as it was."""
    original = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n# an edit for dvc status\n")
    try:
        yield
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def _changed_stages_after_editing(locked: tuple[Path, dict], relative: str) -> dict:
    """The stages whose status differs from the locked copy's after editing one file: stage -> its status."""
    root, baseline = locked
    with _edited(root / relative):
        after = _status(root)
    return {stage: entry for stage, entry in after.items() if entry != baseline.get(stage)}


def _changed_deps(entry: list) -> set[str]:
    return {dep for item in entry if isinstance(item, dict) for dep in item.get("changed deps", {})}


@pytest.mark.parametrize(
    "relative",
    ["cli.py", "config.py", "distributed.py", "a_new_module.py"],
    ids=lambda name: f"{PROJECT_PACKAGE}/{name}",
)
def test_editing_any_file_of_the_project_package_marks_its_stages_changed(locked, relative):
    changed = _changed_stages_after_editing(locked, f"{PROJECT_PACKAGE}/{relative}")
    assert set(changed) == PROJECT_STAGES
    assert all(PROJECT_PACKAGE in _changed_deps(entry) for entry in changed.values())


@pytest.mark.parametrize("relative", ENVIRONMENT_DEPS)
def test_editing_the_pinned_environment_marks_the_project_stages_changed(locked, relative):
    changed = _changed_stages_after_editing(locked, relative)
    assert set(changed) == PROJECT_STAGES
    assert all(relative in _changed_deps(entry) for entry in changed.values())


def test_the_pinned_environment_is_a_dependency_of_training():
    assert ENVIRONMENT_DEPS, "train's deps name no pinned environment (requirements or lock file)"


def _report_module(root: Path) -> str:
    existing = sorted((root / "src/mlci/report").glob("*.py"))
    return str(existing[0].relative_to(root)) if existing else "src/mlci/report/sections.py"


@pytest.mark.parametrize("relative", ["README.md", "tests/conftest.py", "src/mlci/report/*.py"])
def test_editing_docs_tests_or_the_report_code_changes_no_stage(locked, relative):
    root, _ = locked
    if relative.endswith("*.py"):
        relative = _report_module(root)
    assert _changed_stages_after_editing(locked, relative) == {}

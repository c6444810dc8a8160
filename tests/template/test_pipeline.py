"""The DVC pipeline end to end in a fresh copy of the repository: it runs, is reproducible, and a no-op is a no-op."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import copy_project

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


# dvc and the stages' `digitnet` come from the environment running the tests, activated or not.
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


def test_pipeline_reproduces_the_committed_lock_and_metrics(project):
    committed_metrics = (project / "dvclive/evaluate/metrics.json").read_bytes()
    repro = _run(["dvc", "repro", "--force"], project)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    for stage in ("validate", "split", "train", "evaluate"):
        assert f"Running stage '{stage}'" in repro.stdout
    assert (project / "dvclive/evaluate/metrics.json").read_bytes() == committed_metrics
    assert json.loads((project / "reports/validation.json").read_text())["success"] is True
    status = _run(["dvc", "status"], project)
    assert "Data and pipelines are up to date." in status.stdout


def test_second_repro_with_nothing_changed_runs_no_stage(project):
    repro = _run(["dvc", "repro"], project)
    assert repro.returncode == 0, repro.stderr
    assert "Running stage" not in repro.stdout
    assert "Data and pipelines are up to date." in repro.stdout


def test_bad_data_stops_the_pipeline_at_validation(project, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(project, bad, ignore=shutil.ignore_patterns("artifacts", "dvclive"))
    csv = bad / "data" / "digits.csv"
    csv.chmod(0o644)
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",42"  # a label outside 0..9
    csv.write_text("\n".join(lines) + "\n")
    repro = _run(["dvc", "repro"], bad)
    assert repro.returncode != 0
    assert "Running stage 'validate'" in repro.stdout
    assert "Running stage 'split'" not in repro.stdout
    summary = json.loads((bad / "reports/validation.json").read_text())
    assert summary["success"] is False
    assert any(row["column"] == "label" for row in summary["failed_expectations"])
    assert not (bad / "artifacts").exists()


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

"""What a failure leaves behind, in copies of the repository: data validation rejects a file before DVC records it
(data.dvc, the DVC cache and the committed summary stay as they were), a failing stage keeps the committed metrics,
and a pull of data that no DVC store holds names the file and the fix; a mistyped test path fails `make test`. No
test here trains a model."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from project_copy import PROJECT, copy_project

REPO_ROOT = Path(__file__).resolve().parents[2]
DVC_YAML = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
DATA = "data/digits.csv"
SUMMARY, FAILED_SUMMARY = "reports/validation.json", "reports/validation-failed.json"

pytestmark = pytest.mark.slow

# dvc and the stages' commands come from the environment running the tests, activated or not.
ENV = {**os.environ, "CI": "true", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
VENV = Path(sys.prefix)
# `env -u`: a user's shell, not the `make test` this suite may run under (make[1]: prefixes, inherited flags)
MAKE = ["env", "-u", "MAKELEVEL", "-u", "MAKEFLAGS", "-u", "MFLAGS", "make", "--no-print-directory"]
MAKE += [f"VENV={VENV}", "-o", f"{VENV}/.installed"]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=ENV, check=False)


def _git_status(root: Path) -> str:
    return _run(["git", "status", "--porcelain"], root).stdout


def _files(root: Path, relative: str) -> dict[str, bytes]:
    """Every file at or under `relative`, by path, with its bytes."""
    path = root / relative
    found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in found}


def _committed_outputs(stage: str) -> list[str]:
    """The stage's outputs git commits (cache: false): the summary, metrics, plots and predictions."""
    entries = DVC_YAML["stages"][stage].get("outs", []) + DVC_YAML["stages"][stage].get("metrics", [])
    return [next(iter(e)) for e in entries if isinstance(e, dict) and next(iter(e.values())).get("cache") is False]


def _state(root: Path) -> dict:
    """What a failure must leave as it was: data.dvc, the DVC cache's objects, the committed outputs."""
    return {
        "data.dvc": (root / "data.dvc").read_bytes(),
        "cache": sorted(p.relative_to(root).as_posix() for p in (root / ".dvc/cache").rglob("*") if p.is_file()),
        "committed": {
            path: content
            for stage in DVC_YAML["stages"]
            for out in _committed_outputs(stage)
            for path, content in _files(root, out).items()
        },
    }


def _write_data(root: Path, content: bytes) -> None:
    csv = root / DATA
    csv.unlink()  # DVC may link the file into its cache: write a new one, never through the link
    csv.write_bytes(content)


def _label_42(root: Path) -> bytes:
    lines = (root / DATA).read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",42"  # a label outside 0..9
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def pulled(tmp_path_factory) -> Path:
    """The committed files, as a fresh clone has them, after `make data` (the bundled remote's data)."""
    root = copy_project(tmp_path_factory.mktemp("clone"))
    done = _run([*MAKE, "data"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _git_status(root) == ""
    return root


@pytest.fixture
def workspace(pulled, tmp_path) -> Path:
    """A copy of the pulled clone for one test to change."""
    return Path(shutil.copytree(pulled, tmp_path / "workspace", symlinks=True))


# ---------------------------------------------------------------------------------------------- rejected data
def test_make_repro_rejects_invalid_data_before_dvc_records_it(workspace):
    before = _state(workspace)
    _write_data(workspace, _label_42(workspace))
    done = _run([*MAKE, "repro"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    failed = json.loads((workspace / FAILED_SUMMARY).read_text())
    assert (failed["success"], [row["column"] for row in failed["failed_expectations"]]) == (False, ["label"])
    errors = [line for line in done.stderr.splitlines() if line.startswith(("ERROR", "make:"))]
    assert errors[0] == (
        f"ERROR mlci: data validation failed: 1 of {failed['evaluated']} expectations "
        f"(written to {FAILED_SUMMARY}; {SUMMARY} is unchanged)"
    )
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: repro\] Error 255", errors[-1]), errors
    assert "Running stage 'split'" not in done.stdout
    assert _state(workspace) == before
    assert _git_status(workspace) == ""


def test_make_repro_on_unreadable_data_leaves_everything_and_no_failed_summary(workspace):
    before = _state(workspace)
    _write_data(workspace, b"\xff\xfe\x00 not a CSV")
    done = _run([*MAKE, "repro"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(("ERROR", "make:"))]
    assert errors[0] == f"ERROR mlci: {DATA} is not a text CSV (not valid UTF-8)"
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: repro\] Error 255", errors[-1]), errors
    assert not (workspace / FAILED_SUMMARY).exists()
    assert _state(workspace) == before
    assert _git_status(workspace) == ""


def test_make_repro_refuses_a_swapped_header_before_dvc_records_it(workspace):
    """Two pixels' names swapped: every value is still in range, so only the order tells (it retrained before)."""
    before = _state(workspace)
    header, rest = (workspace / DATA).read_text().split("\n", 1)
    swapped = header.replace("pixel_0_1,pixel_0_2", "pixel_0_2,pixel_0_1")
    _write_data(workspace, (swapped + "\n" + rest).encode())
    done = _run([*MAKE, "repro"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(("ERROR", "make:"))]
    assert errors[0] == (
        f"ERROR mlci: {DATA}: the features are not in the contract's order: from column 3, expected pixel_0_1, "
        "pixel_0_2; found pixel_0_2, pixel_0_1 (a swapped header?): fix the file's header, or list the features in "
        "data.schema.yaml in the file's order"
    )
    assert "Running stage 'split'" not in done.stdout
    assert _state(workspace) == before
    assert _git_status(workspace) == ""


def test_make_repro_refuses_params_dvc_would_skip_every_stage_for(workspace):
    """`epochs: 12.0` equals the recorded 12 to DVC, which would skip train: the project's check runs first."""
    before = _state(workspace)
    params = workspace / "params.yaml"
    params.write_text(params.read_text().replace("  epochs: 12\n", "  epochs: 12.0\n"))
    done = _run([*MAKE, "repro"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith(("ERROR", "make:"))]
    assert errors[0] == "ERROR mlci: params.yaml: train.epochs: expected int, got float 12.0"
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: repro\] Error 1", errors[-1]), errors
    assert "Running stage" not in done.stdout
    assert _state(workspace) == before
    assert _git_status(workspace) == " M params.yaml\n"


def test_bare_dvc_repro_records_rejected_data_in_data_dvc_and_git_checkout_undoes_it(workspace):
    """README's statement: DVC commits a changed data file before any stage runs; the summary stays as it was."""
    before = _state(workspace)
    _write_data(workspace, _label_42(workspace))
    done = _run(["dvc", "repro"], workspace)
    assert done.returncode == 255, done.stdout + done.stderr
    assert "ERROR: failed to reproduce 'validate'" in done.stderr
    assert "Running stage 'validate'" in done.stdout and "Running stage 'split'" not in done.stdout
    assert not (workspace / "artifacts").exists()
    failed = json.loads((workspace / FAILED_SUMMARY).read_text())
    assert any(row["column"] == "label" for row in failed["failed_expectations"])
    after = _state(workspace)
    assert after["committed"] == before["committed"]
    assert after["data.dvc"] != before["data.dvc"] and _git_status(workspace) == " M data.dvc\n"
    assert set(before["cache"]) < set(after["cache"])  # the rejected file and its folder listing, unreferenced
    assert _run(["git", "checkout", "data.dvc"], workspace).returncode == 0
    assert _git_status(workspace) == ""


def test_after_git_checkout_data_dvc_make_validate_keeps_the_edited_file_and_rejects_it(workspace):
    """README's undo path: the edit a bare `dvc repro` recorded is not replaced by the tracked file (DVC would replace
    it silently, its copy being in the cache); `make validate` says so and validates the edit, which fails."""
    edited = _label_42(workspace)
    _write_data(workspace, edited)
    assert _run(["dvc", "repro"], workspace).returncode == 255
    assert _run(["git", "checkout", "data.dvc"], workspace).returncode == 0
    done = _run([*MAKE, "validate"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == (
        f"notice: {DATA} was edited since it was pulled: kept, not replaced by the file data.dvc tracks "
        "(`dvc pull --force data.dvc` takes that one)"
    )
    assert any(line.startswith("ERROR mlci: data validation failed: 1 of ") for line in lines), lines
    assert (workspace / DATA).read_bytes() == edited
    assert _git_status(workspace) == ""


def test_make_data_names_a_contract_path_data_dvc_does_not_bring(workspace):
    contract = workspace / "data.schema.yaml"
    contract.write_text(contract.read_text().replace(f"path: {DATA}\n", 'path: "data/digit.csv"  # a typo\n'))
    done = _run([*MAKE, "data"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    *_, error, make_error = done.stderr.splitlines()
    assert error == (
        "error: data/digit.csv not found: data.schema.yaml's path names a file data.dvc does not bring "
        "(fix the path, or `dvc add` that file)"
    )
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: \.dvc/tmp/data-pulled\] Error 1", make_error), make_error


def test_a_quoted_contract_path_is_read_as_the_file_so_make_data_does_not_pull_again(workspace):
    contract = workspace / "data.schema.yaml"
    contract.write_text(contract.read_text().replace(f"path: {DATA}\n", f"path: '{DATA}'  # quoted\n"))
    done = _run([*MAKE, "data"], workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dvc pull" not in done.stdout  # pulled once by the fixture; the quoted name is the same file


# -------------------------------------------------------------------------------------------- a failing stage
@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_a_failing_stage_keeps_the_committed_metrics_plots_and_predictions(workspace, stage):
    """DVC deletes a stage's outputs before it runs the stage, unless they persist; the stage stops on its params."""
    committed = {path: content for out in _committed_outputs(stage) for path, content in _files(workspace, out).items()}
    assert committed, f"{stage} has no committed outputs"
    for dep in DVC_YAML["stages"][stage]["deps"]:  # stand-ins for a fresh clone's missing inputs: DVC hashes them
        path = workspace / dep
        if not path.exists():
            target = path if path.suffix else path / "stand-in"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("stand-in\n")
    params = workspace / "params.yaml"
    params.write_text(
        re.sub(rf"^{stage}:\n", f"{stage}:\n  batch_sise: 64\n", params.read_text(), flags=re.M)
    )  # a typo
    done = _run(["dvc", "repro", "--single-item", stage], workspace)
    assert done.returncode == 255, done.stdout + done.stderr
    assert f"ERROR {PROJECT.package}: params.yaml: {stage}.batch_sise: unknown key" in done.stderr
    assert f"ERROR: failed to reproduce '{stage}'" in done.stderr
    kept = {path: content for out in _committed_outputs(stage) for path, content in _files(workspace, out).items()}
    assert kept == committed
    assert _git_status(workspace) == " M params.yaml\n"


# ----------------------------------------------------------------------------------------- data no store holds
def test_make_data_names_the_file_no_store_holds_and_the_fix(workspace):
    store_objects = [p for p in (workspace / "dvc-store").rglob("*") if p.is_file() and not p.name.endswith(".dir")]
    for path in [*store_objects, workspace / DATA]:
        path.unlink()
    shutil.rmtree(workspace / ".dvc" / "cache")
    done = _run([*MAKE, "data"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    *_, error, make_error = done.stderr.splitlines()
    assert error == (
        "ERROR mlci: data.dvc tracks data/digits.csv, which neither the DVC cache nor the DVC remote holds: run "
        "`dvc push` on the machine that has it, or `git checkout <commit> -- data.dvc` for a version that was pushed"
    )
    assert re.fullmatch(r"make: \*\*\* \[Makefile:\d+: \.dvc/tmp/data-pulled\] Error 1", make_error), make_error


# ------------------------------------------------------------------------------------------ a mistyped test path
@pytest.mark.parametrize("target", ["test", "test-fast"])
def test_make_test_fails_on_a_test_path_that_does_not_exist(pulled, target):
    """pytest-xdist alone would collect nothing (exit 5, which `make test` takes for an empty selection) and pass."""
    done = _run([*MAKE, target, "PYTEST_ARGS=tests/no_such_test_file.py"], pulled)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ERROR: file or directory not found: tests/no_such_test_file.py" in done.stderr, done.stdout + done.stderr


def test_make_release_assets_refuses_an_unsigned_bundle_and_writes_nothing(workspace):
    (workspace / "build" / "serve").mkdir(parents=True)
    done = _run([*MAKE, "release-assets", "VERSION=v9.9.9"], workspace)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[0] == (
        "error: build/serve is not signed: run `make bundle sign` first (SIGNING_KEY=key.pem off GitHub)"
    )
    assert not (workspace / "build" / "release").exists()

"""`make install` heals a venv it left incomplete: killed during venv creation, `.venv` had python but no pip, and
every later `make install` failed with `No module named pip` until `rm -rf .venv`. `make venv` is install's first
step alone (the same commands), so these tests need no package index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# A user's shell: no make flags inherited from a `make test` this suite may run under, no venv's tools first on PATH.
ENV = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
ENV["PATH"] = os.pathsep.join(p for p in ENV["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files `make venv` reads: the Makefile and pyproject.toml (the project's names)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def make_venv(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "venv", f"PYTHON={sys.base_prefix}/bin/python3"],
        cwd=project,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def imports_pip(venv: Path) -> bool:
    return subprocess.run([venv / "bin" / "python", "-c", "import pip"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_venv_left_with_python_but_no_pip_is_recreated(project: Path) -> None:
    venv = project / ".venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "half-written").write_text("left by the interrupted run")  # what was there goes with it
    assert not imports_pip(venv)

    done = make_venv(project)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == ".venv is incomplete (no pip: an interrupted `make install`?): recreating it"
    assert imports_pip(venv) and not (venv / "half-written").exists()
    again = make_venv(project)
    assert (again.returncode, again.stdout) == (0, "")  # whole now: left as it is


@pytest.mark.slow
def test_a_venv_make_install_finished_is_kept_even_without_pip(project: Path) -> None:
    venv = project / ".venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / ".installed").touch()  # make install's stamp: the user removed pip later, on purpose
    done = make_venv(project)
    assert (done.returncode, done.stdout) == (0, "")
    assert (venv / ".installed").exists() and not imports_pip(venv)

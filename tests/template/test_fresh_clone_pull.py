"""A plain `dvc pull` on a fresh clone, the DVC idiom a newcomer types first, succeeds: the bundled store holds every
cached output `dvc.lock` records (the data and the pipeline's outputs), so the clone is then up to date."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from project_copy import copy_project

ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
FIX = "run `make repro`, then `dvc push` (it writes the new objects into dvc-store/), and commit dvc-store/"


@pytest.mark.slow
def test_a_plain_dvc_pull_on_a_fresh_clone_succeeds_and_leaves_it_up_to_date(tmp_path: Path) -> None:
    clone = copy_project(tmp_path / "clone")
    pulled = subprocess.run(["dvc", "pull"], cwd=clone, env=ENV, capture_output=True, text=True, check=False)
    assert pulled.returncode == 0, f"dvc pull failed on a fresh clone ({FIX}):\n{pulled.stdout}{pulled.stderr}"
    status = subprocess.run(["dvc", "status"], cwd=clone, env=ENV, capture_output=True, text=True, check=False)
    assert status.stdout.strip() == "Data and pipelines are up to date.", f"{FIX}:\n{status.stdout}{status.stderr}"

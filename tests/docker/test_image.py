"""The image builds from the Dockerfile (with podman, offline), runs as a non-root user and passes the project's tests
inside. The pipeline in it: tests/workflows/test_act_container.py runs the pull-request workflow's jobs in an image
built on this one (act's container mode) and checks that training there gives the committed model and metrics.

The checkout is mounted at /workspace, as a job container gets it; the container has no network, so pip reads the
same local wheelhouse the build used (PIP_NO_INDEX) when `make` refreshes the environment with the checkout's code.
"""

import os
import subprocess
from pathlib import Path

import pytest
from container_tools import needs_podman
from project_copy import PROJECT, copy_project

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO_ROOT / "tests" / "docker" / "containers.conf"
# The project's own tests (code, data, model) not marked slow; the CI-tooling tests (workflows, docker, template)
# check this repository's machinery, not the image.
FAST_SUBSET = f"tests/{PROJECT.package} tests/mlci"

pytestmark = [
    pytest.mark.slow,
    needs_podman,
]


def _podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def _run_in_image(project: Path, image, script: str) -> subprocess.CompletedProcess:
    """`script` in the project's image (tests/conftest.py builds it once per session), the copy mounted at
    /workspace; pip inside reads the wheelhouse the image was built from."""
    command = [
        "podman", "run", "--rm", "--network", "none",
        "-v", f"{project}:/workspace:U",  # :U hands the copy to the image's user, as a runner's uid matches it
        "-v", f"{image.wheels}:/wheels:ro",
        "-e", "PIP_NO_INDEX=1", "-e", "PIP_FIND_LINKS=/wheels", "-e", "CI=true",
        "-e", "OMP_WAIT_POLICY",  # tests/conftest.py's, passed on: torch's idle threads sleep
        image.tag, "bash", "-c", script,
    ]  # fmt: skip
    return subprocess.run(command, env=_podman_env(), capture_output=True, text=True, timeout=20 * 60, check=False)


def test_image_runs_as_a_non_root_user(project_image, tmp_path):
    result = _run_in_image(copy_project(tmp_path), project_image, "id -u; id -un; pwd")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1001", "app", "/workspace"]


def test_fast_tests_pass_inside_the_image(project_image, tmp_path):
    # In one process, as the swap test's `make test`: the suite running this keeps every core busy already.
    command = f'make test-fast PYTEST_WORKERS=0 PYTEST_ARGS="{FAST_SUBSET}"'
    result = _run_in_image(copy_project(tmp_path), project_image, command)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary

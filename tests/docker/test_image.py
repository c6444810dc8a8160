"""The image builds from the Dockerfile (with podman, offline) and runs the pipeline and the tests inside.

The checkout is mounted at /workspace, as a job container gets it; the container has no network, so pip reads the
same local wheelhouse the build used (PIP_NO_INDEX) when `make` refreshes the environment with the checkout's code.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tests" / "docker" / "build_image.sh"
CONTAINERS_CONF = REPO_ROOT / "tests" / "docker" / "containers.conf"
IMAGE = "localhost/digitnet:pytest"
# The project's own tests (code, data, model) not marked slow; the CI-tooling tests (workflows, docker, template)
# check this repository's machinery, not the image.
FAST_SUBSET = "tests/code tests/data tests/model"

MISSING = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{', '.join(MISSING)} not installed: apt-get install podman buildah runc mmdebstrap uidmap "
        "(.ci/run installs them, so CI runs this test)",
    ),
]


def _podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Build the image; return the wheelhouse it was built from."""
    cache = tmp_path_factory.mktemp("image-build")
    built = subprocess.run(
        [str(BUILD_SCRIPT), IMAGE],
        env={**_podman_env(), "IMAGE_BUILD_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=45 * 60,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return cache / "wheels"


def _fresh_copy(destination: Path) -> Path:
    """The tracked files and the DVC store, committed in a new repository (DVCLive needs a commit)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO_ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)
    shutil.copytree(REPO_ROOT / "dvc-store", destination / "dvc-store", dirs_exist_ok=True)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fresh copy"]):
        subprocess.run(git + command, cwd=destination, check=True, capture_output=True)
    return destination


def _run_in_image(project: Path, wheels: Path, script: str) -> subprocess.CompletedProcess:
    command = [
        "podman", "run", "--rm", "--network", "none",
        "-v", f"{project}:/workspace:U",  # :U hands the copy to the image's user, as a runner's uid matches it
        "-v", f"{wheels}:/wheels:ro",
        "-e", "PIP_NO_INDEX=1", "-e", "PIP_FIND_LINKS=/wheels", "-e", "CI=true",
        IMAGE, "bash", "-c", script,
    ]  # fmt: skip
    return subprocess.run(command, env=_podman_env(), capture_output=True, text=True, timeout=20 * 60, check=False)


def test_image_runs_as_a_non_root_user(wheelhouse, tmp_path):
    result = _run_in_image(_fresh_copy(tmp_path), wheelhouse, "id -u; id -un; pwd")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1001", "app", "/workspace"]


def test_make_repro_inside_the_image_reproduces_the_committed_metrics(wheelhouse, tmp_path):
    project = _fresh_copy(tmp_path)
    result = _run_in_image(project, wheelhouse, "make repro")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for stage in ("split", "train", "evaluate"):
        assert f"Running stage '{stage}'" in result.stdout
    assert "macro-F1" in result.stdout  # the metrics table `make repro` prints
    committed = (REPO_ROOT / "dvclive" / "evaluate" / "metrics.json").read_bytes()
    assert (project / "dvclive" / "evaluate" / "metrics.json").read_bytes() == committed


def test_fast_tests_pass_inside_the_image(wheelhouse, tmp_path):
    result = _run_in_image(_fresh_copy(tmp_path), wheelhouse, f'make test-fast PYTEST_ARGS="{FAST_SUBSET}"')
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary

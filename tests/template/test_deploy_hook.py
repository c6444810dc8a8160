"""`make deploy`, the hook deploy.yml runs: the Makefile checks its usage and runs scripts/deploy.sh, the user's file,
with ENV, VERSION and IMAGE_REF in its environment, and says clearly when that script is missing or not executable.

Each test runs the Makefile in a folder of its own with a stand-in scripts/deploy.sh, so it holds whatever the
user's own deploy.sh does.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Prints what it was given; the first test gives it a value a shell would split if make put it into a command line.
STAND_IN = '#!/usr/bin/env bash\nprintf "%s|%s|%s\\n" "$ENV" "$VERSION" "$IMAGE_REF"\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    script = tmp_path / "scripts" / "deploy.sh"
    script.parent.mkdir()
    script.write_text(STAND_IN)
    script.chmod(0o755)
    return tmp_path


def make_deploy(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    return subprocess.run(
        ["make", "--no-print-directory", "deploy", *args], cwd=project, env=env, capture_output=True, text=True
    )


def test_deploy_runs_the_users_script_with_env_version_and_image_ref(project):
    done = make_deploy(project, "ENV=staging", "VERSION=v1.2.0", 'IMAGE_REF=ghcr.io/o/r:v1 "; exit 3; " *')
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == 'staging|v1.2.0|ghcr.io/o/r:v1 "; exit 3; " *'


def test_deploy_without_image_ref_passes_the_serving_image_of_the_version(project):
    done = make_deploy(project, "ENV=staging", "VERSION=v1.2.0", "IMAGE_NAME=my-project")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "staging|v1.2.0|my-project-serve:v1.2.0"


def test_deploy_without_env_prints_the_usage(project):
    done = make_deploy(project, "VERSION=v1.2.0")
    assert done.returncode == 2
    assert "usage: make deploy ENV=staging VERSION=v1.2.0" in done.stderr


def test_deploy_says_when_the_script_is_missing(project):
    (project / "scripts" / "deploy.sh").unlink()
    done = make_deploy(project, "ENV=staging", "VERSION=v1.2.0")
    assert done.returncode == 2
    assert "error: scripts/deploy.sh not found: the deploy hook runs it;" in done.stderr


def test_deploy_says_when_the_script_is_not_executable(project):
    (project / "scripts" / "deploy.sh").chmod(0o644)
    done = make_deploy(project, "ENV=staging", "VERSION=v1.2.0")
    assert done.returncode == 2
    assert "error: scripts/deploy.sh is not executable: chmod +x scripts/deploy.sh" in done.stderr


def test_the_shipped_hook_is_an_executable_bash_script_that_names_its_inputs():
    script = REPO_ROOT / "scripts" / "deploy.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert all(f"${{{name}:?" in text for name in ("ENV", "VERSION", "IMAGE_REF"))

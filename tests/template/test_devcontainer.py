"""The devcontainer builds the project's own image (one environment definition for CI, Codespaces and laptops)."""

import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVCONTAINER = REPO_ROOT / ".devcontainer" / "devcontainer.json"


def test_devcontainer_builds_an_existing_stage_of_the_dockerfile_as_its_user():
    config = json.loads(DEVCONTAINER.read_text())
    dockerfile = (DEVCONTAINER.parent / config["build"]["dockerfile"]).resolve()
    assert dockerfile == REPO_ROOT / "Dockerfile"
    assert (DEVCONTAINER.parent / config["build"]["context"]).resolve() == REPO_ROOT
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile.read_text(), flags=re.MULTILINE)
    assert config["build"]["target"] in stages
    assert re.search(rf"useradd .*\b{config['remoteUser']}\b", dockerfile.read_text())


def test_devcontainer_opens_the_checkout_where_the_image_expects_it():
    config = json.loads(DEVCONTAINER.read_text())
    assert config["workspaceFolder"] == "/workspace"
    assert "WORKDIR /workspace" in (REPO_ROOT / "Dockerfile").read_text()
    assert config["postCreateCommand"].startswith("make install")

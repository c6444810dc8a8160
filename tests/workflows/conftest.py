"""Workflow tests: the helpers module and the act harness (a script in act/) become importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE / "act"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from helpers import GITHUB_DIR  # noqa: E402


@pytest.fixture(scope="session")
def workflow_paths() -> list[Path]:
    return sorted(GITHUB_DIR.glob("workflows/*.yml"))


@pytest.fixture(scope="session")
def action_paths() -> list[Path]:
    return sorted(GITHUB_DIR.glob("actions/*/action.yml"))

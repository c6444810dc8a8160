"""Paths and tool lookup shared by the workflow tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = REPO_ROOT / ".github"
ACT_DIR = Path(__file__).resolve().parent / "act"


def tool(name: str) -> str:
    """Path of a dev tool from the project's environment (`make install` provides them all)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: run `make install` (it is in the dev extra)")
    return found

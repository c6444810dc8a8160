"""scripts/create_gx_project.py recreates the committed GX project (ids aside), and never overwrites it silently."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "create_gx_project.py"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _project_files() -> list[str]:
    """The committed part of gx/ (uncommitted/ holds run outputs and is ignored)."""
    project = REPO_ROOT / "gx"
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and path.relative_to(project).parts[0] != "uncommitted"
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], check=True, capture_output=True)
    return root / "gx"


@pytest.mark.slow  # the script imports GX and builds the project once for all files
@pytest.mark.parametrize("name", _project_files())
def test_the_script_recreates_each_committed_file(generated, name):
    def normalised(path: Path) -> str:
        return UUID.sub("<id>", path.read_text(encoding="utf-8"))

    assert normalised(generated / name) == normalised(REPO_ROOT / "gx" / name)


def test_the_script_refuses_to_overwrite_a_project_without_replace(tmp_path):
    (tmp_path / "gx").mkdir()
    again = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr.splitlines()[-1] == (
        f"create_gx_project.py: error: {tmp_path / 'gx'} exists; pass --replace to regenerate it (every id changes)"
    )
    assert list((tmp_path / "gx").iterdir()) == []

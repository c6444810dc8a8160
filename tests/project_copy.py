"""A copy of this repository in a fresh one-commit git repository: what a clone or a pull request's checkout holds.

One helper for every place that works on such a copy: the pipeline and image tests, the act harness and the
benchmarks. The copy has a commit because DVCLive (3.49) fails in a git repository without one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
IDENTITY = ["-c", "user.name=project copy", "-c", "user.email=copy@example.invalid", "-c", "commit.gpgsign=false"]


def source_files(include_untracked: bool = False) -> list[str]:
    """The files git tracks, plus (with `include_untracked`) the new files it does not ignore."""
    extra = ["--others", "--exclude-standard"] if include_untracked else []
    listed = subprocess.run(
        ["git", "ls-files", "--cached", *extra, "-z"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    )
    return [name for name in listed.stdout.split("\0") if name and (REPO_ROOT / name).is_file()]


def copy_project(
    destination: Path, include_untracked: bool = False, committed_only: bool = False, branch: str = "main"
) -> Path:
    """Copy the working tree's tracked files (and new ones, with `include_untracked`), or only the last commit's
    (`committed_only`), to `destination` and commit them there on `branch`; return `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    if committed_only:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO_ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    else:
        for name in source_files(include_untracked):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)
    for args in (
        ["init", "--quiet", f"--initial-branch={branch}"],
        ["add", "--all"],
        ["commit", "--quiet", "-m", "copy"],
    ):
        subprocess.run(["git", *IDENTITY, *args], cwd=destination, check=True, capture_output=True)
    return destination

"""A copy of this repository in a fresh one-commit git repository: what a clone or a pull request's checkout holds.

One helper for every place that works on such a copy: the pipeline and image tests, the act harness and the
benchmarks. The copy has a commit because DVCLive (3.49) fails in a git repository without one. A copy whose own
package code changes (a rename, a swap) gets a small venv on top of this one (`venv_on_top_of_this_one`) with only
the copy installed into it (`install_project`), instead of a fresh multi-minute install.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from mlci.template.manifest import project_names

REPO_ROOT = Path(__file__).resolve().parents[1]
# The project's names (package, CLI, image), read from pyproject.toml: the template's tests never spell them out.
PROJECT = project_names(REPO_ROOT)
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


def _is_this_checkouts_project(entry: str) -> bool:
    """This checkout's own distribution in site-packages: its metadata (and entry points) and its editable hook."""
    name = re.sub(r"[-_.]+", "_", PROJECT.distribution).lower()
    return entry.startswith((f"{name}-", f"__editable__.{name}-", f"__editable___{name}_"))


def venv_on_top_of_this_one(venv: Path) -> Path:
    """A venv that sees this environment's packages (a .pth line) and runs its tools with its own python; install a
    project into it with `install_project`.

    It sees them through a folder of links that leaves out this checkout's own distribution: a copy's venv holds the
    copy's project only, as a user's does, so the entry points (`mlci.predictor`, the params check) are the copy's.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    child_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent_site, seen = Path(sysconfig.get_paths()["purelib"]), venv / "parent-site-packages"
    seen.mkdir()
    for entry in parent_site.iterdir():
        if not _is_this_checkouts_project(entry.name):
            (seen / entry.name).symlink_to(entry)
    (Path(child_site) / "_parent_env.pth").write_text(f"{seen}\n")
    parent_bin = Path(sys.executable).parent
    for tool in parent_bin.iterdir():
        target = venv / "bin" / tool.name
        if target.exists() or not tool.is_file() or tool.name.startswith(("python", "activate", "Activate")):
            continue
        head = tool.read_bytes()[:200]
        if head.startswith(b"#!") and b"python" in head.split(b"\n", 1)[0]:
            body = tool.read_text().split("\n", 1)[1]  # a console script: run it with the new venv's python
            target.write_text(f"#!{python}\n{body}")
            target.chmod(0o755)
        else:
            target.symlink_to(tool)  # a binary (actionlint, shellcheck, hadolint, ...)
    return venv


def install_project(venv: Path, project: Path) -> None:
    """Install only `project` into `venv`, editable, and stamp the venv as the Makefile's `make install` does."""
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["-e", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (venv / ".installed").touch()  # the Makefile's stamp: this environment is ready, `make install` is a no-op

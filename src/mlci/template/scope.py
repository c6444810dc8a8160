"""`mlci template test-scope`: which tests `make test` runs here, the project's or the machinery's too.

A copy tests its own code: its project's tests and a machinery smoke. The machinery's full tests run when a change
could break it: a template-owned file or a lock differs from the base (the commit a pull request targets, or
`main`; committed, staged, unstaged or untracked alike), when the base cannot be read (no base, a shallow clone
without it), and always where MLCI_TEST_SCOPE=full says so (the template's own CI sets it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlci.template.manifest import load_manifest

FULL, PROJECT = "full", "project"
SCOPE_VARIABLE = "MLCI_TEST_SCOPE"
# The locks: a change of them changes what the machinery runs on.
LOCKS = ("requirements.txt", "requirements/torch-cpu.txt", "requirements/torch-cuda.txt", "requirements/uv.txt")


@dataclass(frozen=True)
class Scope:
    scope: str  # FULL or PROJECT
    reason: str


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def changed_since(root: Path, base: str) -> list[str] | None:
    """Paths that differ between BASE's merge base with HEAD and the working tree, untracked files included; None
    when git cannot tell (no such base, no history)."""
    merge_base = _git(root, "merge-base", base, "HEAD")
    if merge_base.returncode != 0:
        return None
    diff = _git(root, "diff", "--name-only", "--no-renames", merge_base.stdout.strip())
    untracked = _git(root, "ls-files", "--others", "--exclude-standard")
    if diff.returncode != 0 or untracked.returncode != 0:
        return None
    return sorted((set(diff.stdout.split("\n")) | set(untracked.stdout.split("\n"))) - {""})


def decide_scope(root: Path, base: str) -> Scope:
    """FULL or PROJECT, with the reason in words."""
    forced = os.environ.get(SCOPE_VARIABLE, "")
    if forced in (FULL, PROJECT):
        return Scope(forced, f"{SCOPE_VARIABLE}={forced}")
    changed = changed_since(root, base)
    if changed is None:
        return Scope(FULL, f"cannot compare with {base!r} (no such commit here)")
    manifest = load_manifest(root)
    machinery = [path for path in changed if path in LOCKS or manifest.side(path) == "template"]
    if machinery:
        shown = ", ".join(machinery[:3]) + (f" and {len(machinery) - 3} more" if len(machinery) > 3 else "")
        return Scope(FULL, f"template files or locks changed since {base}: {shown}")
    return Scope(PROJECT, f"no template file or lock changed since {base}")

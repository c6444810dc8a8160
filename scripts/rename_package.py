#!/usr/bin/env python3
"""Rename the project's package everywhere: `make rename NAME=my_project` (or this script directly).

Moves `src/<old>/` to `src/<new>/` (with `git mv` in a git repository) and replaces the old name, as a whole word,
in every tracked text file: imports, pyproject.toml (distribution, CLI, tool settings), dvc.yaml and dvc.lock,
the Makefile, workflows, README, the Dockerfile. Leaves alone the DVC store and data (content-hashed) and LICENSE
(set your own copyright there). Standard library only, so it runs before `make install`.

After a rename, `make install` reinstalls the package under its new name, and the first `make repro` re-runs the
stages whose code files changed (the imports did).
"""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Never rewritten: content-hashed DVC data, and the copyright holder's line.
SKIPPED = re.compile(r"^(dvc-store|data)/|^LICENSE$")


class RenameError(Exception):
    """The rename cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class RenameResult:
    old: str
    new: str
    moved: tuple[Path, Path]
    rewritten: tuple[str, ...]


def name_from_repository(repository: str) -> str:
    """A package name from a repository name: `Acme/My-ML.Project` -> `my_ml_project`."""
    name = re.sub(r"[^a-z0-9]+", "_", repository.rsplit("/", 1)[-1].lower()).strip("_")
    if not name:
        raise RenameError(f"cannot make a package name from repository name {repository!r}")
    return f"pkg_{name}" if name[0].isdigit() else name


def current_package(root: Path) -> str:
    """The one package under src/ (a folder with __init__.py)."""
    packages = sorted(path.parent.name for path in (root / "src").glob("*/__init__.py"))
    if len(packages) != 1:
        raise RenameError(f"expected exactly one package under {root / 'src'}, found {packages or 'none'}")
    return packages[0]


def check_new_name(new: str, old: str, root: Path) -> None:
    """Raise RenameError unless `new` is a valid, free, lowercase package name."""
    if new == old:
        raise RenameError(f"the package is already named {old!r}")
    if not PACKAGE_NAME.fullmatch(new):
        raise RenameError(
            f"{new!r} is not a valid package name: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. my_project)"
        )
    if keyword.iskeyword(new):
        raise RenameError(f"{new!r} is a Python keyword: choose another name")
    if new in sys.stdlib_module_names:
        raise RenameError(f"{new!r} is a standard-library module: choose another name")
    if (root / "src" / new).exists():
        raise RenameError(f"{root / 'src' / new} already exists")
    spec = importlib.util.find_spec(new)
    if spec is not None:
        where = spec.origin or (list(spec.submodule_search_locations or []) or ["?"])[0]
        raise RenameError(f"{new!r} is already an importable module here ({where}): choose another name")


def tracked_files(root: Path) -> list[str]:
    """Files git tracks (the working tree's version), or every file outside tool folders when there is no git."""
    if (root / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
        return [name for name in listed.stdout.split("\0") if name]
    ignored = {".git", ".venv", ".dvc", "artifacts", "checkpoints", "__pycache__", ".pytest_cache"}
    return [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*"))
        if path.is_file() and not ignored.intersection(path.relative_to(root).parts)
    ]


def replace_name(text: str, old: str, new: str) -> str:
    """Replace `old` as a whole word; inside a kebab-case compound (`old-report`) use `new` with dashes.

    Compounds such as a comment watermark or an image name allow only letters, digits and dashes; a dash followed
    by a digit or a glob (`old-0.1.0.whl`, `old-*.whl`) is a wheel's name-version separator and keeps `new` as is.
    """
    kebab = new.replace("_", "-")
    text = re.sub(rf"(?<=[A-Za-z0-9]-)\b{re.escape(old)}\b|\b{re.escape(old)}\b(?=-[A-Za-z])", kebab, text)
    return re.sub(rf"\b{re.escape(old)}\b", new, text)


def rewrite(path: Path, old: str, new: str) -> bool:
    """Replace the old name in one text file; binary and non-UTF-8 files are left alone."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return False
    replaced = replace_name(text, old, new)
    if replaced == text:
        return False
    path.write_text(replaced, encoding="utf-8")
    return True


def move_package(root: Path, old: str, new: str) -> tuple[Path, Path]:
    source, target = root / "src" / old, root / "src" / new
    in_git = (root / ".git").exists() and subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(source)], cwd=root, capture_output=True, check=False
    ).returncode == 0
    if in_git:
        subprocess.run(["git", "mv", str(source), str(target)], cwd=root, check=True, capture_output=True)
    else:
        source.rename(target)
    shutil.rmtree(root / "src" / f"{old}.egg-info", ignore_errors=True)  # stale build metadata of the old name
    return source, target


def rename_package(root: Path, new: str) -> RenameResult:
    """Rename the package under `root` to `new` everywhere; returns what changed."""
    old = current_package(root)
    check_new_name(new, old, root)
    moved = move_package(root, old, new)
    rewritten = tuple(
        name for name in tracked_files(root) if not SKIPPED.search(name) and rewrite(root / name, old, new)
    )
    return RenameResult(old, new, moved, rewritten)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("name", nargs="?", help="the new package name, e.g. my_project")
    group.add_argument("--from-repository", metavar="OWNER/REPO", help="derive the name from a repository name")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the project to rename (default: this one)")
    args = parser.parse_args(argv)
    try:
        new = args.name if args.name else name_from_repository(args.from_repository)
        result = rename_package(args.root.resolve(), new)
    except RenameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"renamed {result.old} -> {result.new}: src/{result.old}/ -> src/{result.new}/, {len(result.rewritten)} files"
    )
    for name in result.rewritten:
        print(f"  {name}")
    print("next: make install && make test && make repro, then commit (git add -A)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

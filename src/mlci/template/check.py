"""`mlci template check`: every tracked file on exactly one side, and no template file that names the project."""

from __future__ import annotations

import re
from pathlib import Path

from mlci.template.manifest import Manifest, ProjectNames, load_manifest, project_names, tracked_files


def names_the_project(text: str, names: ProjectNames) -> list[int]:
    """The line numbers of TEXT that name the project as a whole word (its package or kebab-case name)."""
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in names.spellings) + r")\b")
    return [number for number, line in enumerate(text.splitlines(), start=1) if pattern.search(line)]


def fence_problems(root: Path, manifest: Manifest | None = None, names: ProjectNames | None = None) -> list[str]:
    """One line per problem, each naming the file and what to do; empty when the fence holds."""
    names = names or project_names(root)
    manifest = manifest or load_manifest(root, names.package)
    problems = []
    for path in tracked_files(root):
        side = manifest.side(path)
        if side is None:
            problems.append(
                f"{path}: on neither side of the fence: add its pattern to pyproject.toml's "
                "[tool.mlci.template] yours (or stop tracking it)"
            )
        elif side == "both":
            problems.append(f"{path}: on both sides: a `template` and a `yours` pattern of template.toml match it")
        elif side == "template":
            try:
                text = (root / path).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary: nothing to name
            lines = names_the_project(text, names)
            if lines:
                problems.append(
                    f"{path}: a template file names the project ({' or '.join(names.spellings)}) on line "
                    f"{', '.join(map(str, lines))}: read the name from pyproject.toml instead, or move what the user "
                    "edits into a file of theirs"
                )
    return problems

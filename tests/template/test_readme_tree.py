"""README's annotated tree says of each path what template.toml says: YOURS or TEMPLATE."""

from __future__ import annotations

import re
from pathlib import Path

from mlci.template.manifest import load_manifest, project_names, tracked_files

REPO_ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(?P<paths>\S.*?)\s+(?P<side>YOURS|TEMPLATE)\b")


def readme_tree_rows() -> dict[str, str]:
    """Each path of the tree in README's "Make it yours" with its mark, "yours" or "template". A row may name several
    paths (comma-separated); a row too long for one line has its mark on the next, indented."""
    section = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Make it yours", 1)[1]
    lines = section.split("```\n", 2)[1].splitlines()
    rows = {}
    package = project_names(REPO_ROOT).package
    for number, line in enumerate(lines):
        if line.startswith(" "):
            continue  # a continuation: read with the row above
        found = ROW.match(line)
        if found is None and number + 1 < len(lines):
            found = ROW.match(line + " " + lines[number + 1].strip())
        assert found, f"README's tree: no YOURS/TEMPLATE mark for {line!r}"
        for path in found.group("paths").split(","):
            rows[path.strip().replace("<package>", package)] = found.group("side").lower()
    return rows


def test_every_row_of_the_readme_tree_is_on_the_side_template_toml_gives_it():
    rows = readme_tree_rows()
    assert len(rows) >= 20
    manifest = load_manifest(REPO_ROOT)
    files = tracked_files(REPO_ROOT)
    wrong = []
    for path in files:
        matching = [row for row in rows if path == row or (row.endswith("/") and path.startswith(row))]
        if matching:
            row = max(matching, key=len)  # the most specific row speaks for the file
            if rows[row] != manifest.side(path):
                wrong.append(f"{path}: README says {rows[row]} ({row}), template.toml says {manifest.side(path)}")
    assert wrong == []
    assert [row for row in rows if not any(p == row or p.startswith(row) for p in files)] == []

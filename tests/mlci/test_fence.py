"""The fence between the wings: the machinery names nothing of the project beside it and never imports it."""

import ast
import re
from pathlib import Path

from mlci.template.manifest import project_names

REPO_ROOT = Path(__file__).resolve().parents[2]
MACHINERY = REPO_ROOT / "src" / "mlci"


def test_the_machinery_never_mentions_digits():
    mentions = [
        f"{path.relative_to(MACHINERY)}:{number}"
        for path in sorted(MACHINERY.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search("digit", line, re.IGNORECASE)
    ]
    assert mentions == []


def test_the_machinery_imports_only_itself_and_third_party_packages():
    imported = set()
    for path in MACHINERY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert "mlci" in imported  # the walk saw the package's own imports
    assert project_names(REPO_ROOT).package not in imported

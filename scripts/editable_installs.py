"""What the venv holds against pyproject.toml's name, for `make install`; run by the venv's Python, stdlib only.

`others NAME`: the distributions installed editable from this checkout under another name, one a line. After a
rename the old one would stay: its `mlci.predictor` entry point beside the new one, and its console scripts (`mlci`
too), which its uninstall removes, so it must go before the editable install that recreates them.
`stale NAME`: why the install is out of date (NAME is not installed, a console script of NAME's is missing, another
distribution is installed editable from here), or nothing: the Makefile then keeps its stamp.
"""

from __future__ import annotations

import configparser
import json
import re
import sys
import sysconfig
from pathlib import Path
from urllib.parse import unquote, urlparse


def canonical(name: str) -> str:
    """The name as PEP 503 compares names: `My_Project` and `my-project` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, Path]:
    """Each distribution's canonical name and its .dist-info folder (the folder is named `<name>-<version>`)."""
    site = Path(sysconfig.get_path("purelib"))
    return {canonical(folder.name.split("-")[0]): folder for folder in site.glob("*.dist-info")}


def editable_from(folder: Path, root: Path) -> bool:
    """Whether the distribution was installed editable from `root` (its direct_url.json, PEP 610)."""
    try:
        direct = json.loads((folder / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    url = urlparse(direct.get("url", ""))
    return (
        bool(direct.get("dir_info", {}).get("editable"))
        and url.scheme == "file"
        and Path(unquote(url.path)).resolve() == root
    )


def others(name: str, root: Path) -> list[str]:
    return sorted(
        dist for dist, folder in installed().items() if dist != canonical(name) and editable_from(folder, root)
    )


def stale(name: str, root: Path) -> str:
    folder = installed().get(canonical(name))
    if folder is None:
        return f"{name} is not installed"
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str  # a script's name keeps its case
    entry_points.read(folder / "entry_points.txt", encoding="utf-8")
    scripts = entry_points.options("console_scripts") if entry_points.has_section("console_scripts") else []
    missing = [script for script in scripts if not (Path(sysconfig.get_path("scripts")) / script).exists()]
    if missing:
        return f"{name}'s console scripts are missing: {', '.join(missing)}"
    left = others(name, root)
    return f"also installed from this checkout: {', '.join(left)}" if left else ""


def main(argv: list[str]) -> int:
    command, name = argv
    root = Path.cwd().resolve()
    print("\n".join(others(name, root)) if command == "others" else stale(name, root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

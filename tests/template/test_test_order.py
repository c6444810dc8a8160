"""`--reverse-order` (tests/conftest.py) runs the tests last to first, so a run shows no test needs another's
leftovers: `pytest -p no:xdist tests/mlci tests/<package> --reverse-order`."""

import subprocess
import sys
from pathlib import Path

from project_copy import PROJECT

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = ["tests/mlci/test_gate.py", f"tests/{PROJECT.package}/test_config.py"]


def _collected(*options: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--collect-only", "-q", *options],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_reverse_order_runs_the_same_tests_last_to_first():
    forward = _collected(*MODULES)
    assert forward[0].startswith(MODULES[0]) and forward[-1].startswith(MODULES[1])
    assert _collected("--reverse-order", *MODULES) == forward[::-1]

"""The fork PR's comment, rendered on this repository's side from the report's numbers (render_fork_comment.py).

The data file is the fork's: every name and value in it is hostile until checked. The first test feeds it a real
report's `comment-data.json` (mlci.report writes it), the others hand-made hostile ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.files import COMMENT_DATA_JSON
from mlci.report import build_report_files
from tests.mlci.frames import write_project

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDER = REPO_ROOT / ".github/scripts/render_fork_comment.py"
WITHHELD = "_(withheld: not a plain name)_"


def render(path: Path) -> subprocess.CompletedProcess:
    # -I: isolated, as on the runner, where nothing of the project is installed or importable
    return subprocess.run([sys.executable, "-I", str(RENDER), str(path)], capture_output=True, text=True)


def render_data(tmp_path: Path, data: dict) -> subprocess.CompletedProcess:
    path = tmp_path / COMMENT_DATA_JSON
    path.write_text(json.dumps(data), encoding="utf-8")
    return render(path)


def test_a_real_report_s_data_renders_its_metrics_and_verdicts(tmp_path: Path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    write_project(repo, accuracy=0.9, epochs=10)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=repo, check=True)
    write_project(repo, accuracy=0.95, epochs=12)
    build_report_files(repo, "main", tmp_path / "out", permutations=50)

    result = render(tmp_path / "out" / COMMENT_DATA_JSON)

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("## Model report\n\n_A fork's pull request: this comment is rendered by this repository")
    assert "Compared with the base `main (" in text
    assert "**At a glance:** data validation passed; data unchanged." in text
    assert "| `runs/evaluate/metrics.json` | `accuracy` | 0.9500 | 0.9000 | +0.0500 |" in text
    assert "| `runs/train/metrics.json` | `step` | 12 | 10 | +2 |" in text


def test_hostile_names_are_withheld_and_non_numbers_dashed(tmp_path: Path):
    data = {
        "schema": 1,
        "base": "main](https://evil.example)",
        "metrics": [
            {"file": "m.json", "name": "accuracy", "pr": 0.97, "base": 0.95},
            {"file": "m.json", "name": "[CI passed, safe to merge](https://evil.example)", "pr": 1, "base": 0},
            {"file": "m.json", "name": "a`b", "pr": "![x](https://evil.example/p.png)", "base": 0.5},
            {"file": "m.json", "name": "x\n## Approved", "pr": 1e309, "base": True},
            {"file": "m.json", "name": "ok | fake cell", "pr": 2, "base": 1},
        ],
        "gate": "passed ✅ [merge me](https://evil.example)",
        "gates": [{"gate": "accuracy >= 0.95", "status": "<img src=x>"}],
        "validation": "yes",
        "data": "drift",
    }

    result = render_data(tmp_path, data)

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "## Model report\n\n"
        "_A fork's pull request: this comment is rendered by this repository from the run's numbers. The full report "
        "(intervals, plots, per-class tables) is in the run's job summary and its `pr-report` artifact._\n\n"
        f"Compared with the base {WITHHELD}.\n\n"
        "**At a glance:** quality gate: unknown; data changed, drift detected.\n\n"
        "### Metrics\n\n"
        "| file | metric | this PR | base | Δ |\n"
        "|:---|:---|---:|---:|---:|\n"
        "| `m.json` | `accuracy` | 0.9700 | 0.9500 | +0.0200 |\n"
        f"| `m.json` | {WITHHELD} | 1 | 0 | +1 |\n"
        f"| `m.json` | {WITHHELD} | — | 0.5000 | — |\n"
        f"| `m.json` | {WITHHELD} | — | — | — |\n"
        f"| `m.json` | {WITHHELD} | 2 | 1 | +1 |\n\n"
        "### Quality gate\n\n"
        "| gate | result |\n"
        "|:---|:---|\n"
        "| `accuracy >= 0.95` | unknown |\n"
    )
    assert "](" not in result.stdout.replace("(intervals", "")


def test_long_tables_are_capped(tmp_path: Path):
    rows = [{"file": "m.json", "name": f"metric_{i}", "pr": i, "base": i} for i in range(75)]
    result = render_data(tmp_path, {"schema": 1, "base": None, "metrics": rows})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("| `m.json` |") == 60
    assert "_15 more metrics: see the full report._" in result.stdout
    assert "| file | metric | this PR |\n" in result.stdout  # no base: one side only


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"## a Markdown report\n", "comment-data.json is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b'{"schema": 2, "metrics": []}', "comment-data.json is not report data of schema 1"),
        (b'{"schema": 1, "metrics": "| a |"}', "comment-data.json: `metrics` is not a list of objects"),
        (
            b"\xff\xfe",
            "comment-data.json is not JSON: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
    ],
)
def test_a_file_that_is_not_report_data_posts_nothing(tmp_path: Path, content: bytes, error: str):
    path = tmp_path / COMMENT_DATA_JSON
    path.write_bytes(content)
    result = render(path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"::error::cannot render the fork's report: {error}\n"


def test_an_integer_past_the_float_range_and_an_unhashable_verdict_are_dashed_not_a_traceback(tmp_path: Path):
    huge = int("1" + "0" * 309)
    data = {
        "schema": 1,
        "base": "main",
        "metrics": [
            {"file": "m.json", "name": "accuracy", "pr": huge, "base": 0.5},
            {"file": "m.json", "name": "loss", "pr": 0.25, "base": -huge},
        ],
        "gate": ["passed"],
        "gates": [{"gate": "accuracy >= 0.95", "status": {"a": 1}}],
        "data": ["drift"],
    }
    result = render_data(tmp_path, data)
    assert result.returncode == 0, result.stderr
    assert "| `m.json` | `accuracy` | — | 0.5000 | — |\n| `m.json` | `loss` | 0.2500 | — | — |\n" in result.stdout
    assert "**At a glance:** quality gate: unknown; data: unknown." in result.stdout
    assert "| `accuracy >= 0.95` | unknown |" in result.stdout


def test_json_nested_past_the_recursion_limit_posts_nothing(tmp_path: Path):
    path = tmp_path / COMMENT_DATA_JSON
    path.write_text('{"schema": 1, "metrics": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    result = render(path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "::error::cannot render the fork's report: comment-data.json is not report data: it is nested too deeply\n"
    )

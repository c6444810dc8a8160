"""The drift monitor and its one issue, on generated frames: a clean sample stays quiet, a shifted one raises drift, a
sample that breaks the contract fails validation, an unreadable one is an alarm too; the issue is opened once,
updated (never duplicated) while runs fail and closed by a clean run; the self-test names the packages that moved."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from mlci.cli import main
from mlci.contract import DataContract, dump_contract
from mlci.errors import UserFacingError
from mlci.files import CONTRACT
from mlci.issues import (
    GitHubIssues,
    Issue,
    find_issues,
    json_values,
    marker,
    moved_packages,
    pinned_versions,
    self_test_body,
    sync_issue,
    with_marker,
)
from mlci.monitor import MonitorResult, monitor, monitor_markdown
from mlci.suite import create_gx_project
from tests.mlci.frames import make_contract, make_frame

PERMUTATIONS = 200  # enough for a shift of one standard deviation; the default 1000 only costs time here


@pytest.fixture(scope="module")
def contract() -> DataContract:
    return make_contract(numeric=3, categories=1)


@pytest.fixture(scope="module")
def project(tmp_path_factory, contract) -> Path:
    """A folder with the contract, its GX project and the training data, as a repository root holds them."""
    root = tmp_path_factory.mktemp("monitored")
    dump_contract(contract, root / CONTRACT)
    create_gx_project(contract, root)
    (root / contract.path).parent.mkdir(parents=True, exist_ok=True)
    make_frame(contract, rows=300, seed=0).to_csv(root / contract.path, index=False)
    return root


@pytest.fixture
def in_project(project: Path):
    previous = Path.cwd()
    os.chdir(project)
    yield project
    os.chdir(previous)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def run_monitor(contract: DataContract, recent: Path) -> MonitorResult:
    return monitor(contract, recent, permutations=PERMUTATIONS)


# ------------------------------------------------------------------------------------------------------- the monitor
def test_a_sample_from_the_training_distribution_is_clean(in_project, contract, tmp_path):
    result = run_monitor(contract, write(make_frame(contract, rows=200, seed=1), tmp_path / "recent.csv"))
    assert (result.alarm, result.reasons(), result.problems) == (False, [], ())
    assert result.validation["success"] and result.comparison.pr_rows == 200
    body = monitor_markdown(result)
    assert body.startswith("## Data monitor: ✅ clean\n")
    assert "### Drift, training data vs recent data: no drift detected" in body
    assert "What to do" not in body


def test_the_bundled_default_compares_the_training_data_with_itself(in_project, contract):
    result = run_monitor(contract, contract.path)
    assert not result.alarm
    assert result.recent_file == result.reference_file == contract.path


def test_a_shifted_sample_raises_drift_but_passes_validation(in_project, contract, tmp_path):
    recent = write(make_frame(contract, rows=200, seed=2, shift=1.0), tmp_path / "recent.csv")
    result = run_monitor(contract, recent)
    assert result.alarm and result.reasons() == ["drift detected"]
    assert result.validation["success"]
    assert set(result.comparison.drift.drifted_features) == {"x0", "x1", "x2"}
    assert result.title() == "Data monitor: drift detected on the recent data"
    body = monitor_markdown(result, run_url="https://github.com/o/r/actions/runs/7")
    assert body.startswith("## Data monitor: ⚠️ alarm: drift detected\n")
    assert "### Drift, training data vs recent data: ⚠️ **drift detected**" in body
    assert "| Kolmogorov-Smirnov per numeric feature |" in body and "| **drift** |" in body
    assert "Features whose own test rejects: `x0`, `x1`, `x2`." in body
    assert "`kind` class counts, training vs recent" in body
    assert body.endswith("Run: https://github.com/o/r/actions/runs/7\n")


def test_a_sample_that_breaks_the_contract_fails_validation_with_the_expectation_named(in_project, contract, tmp_path):
    frame = make_frame(contract, rows=200, seed=3)
    frame.loc[0, "kind"] = "wolf"
    result = run_monitor(contract, write(frame, tmp_path / "recent.csv"))
    assert result.alarm and "validation failed" in result.reasons()
    failed = result.validation["failed_expectations"]
    assert [(row["expectation"], row["column"]) for row in failed] == [("expect_column_values_to_be_in_set", "kind")]
    body = monitor_markdown(result)
    assert "### Validation of the recent data" in body
    assert "| expect_column_values_to_be_in_set | kind |" in body
    assert "| `wolf` |" in body  # the unknown class shows in the target table too


def test_an_unreadable_sample_is_an_alarm_that_says_why(in_project, contract, tmp_path):
    empty = tmp_path / "recent.csv"
    empty.write_text("")
    result = run_monitor(contract, empty)
    assert result.alarm and result.reasons() == ["data could not be read"]
    assert result.validation is None and result.comparison is None
    assert result.problems == (
        f"recent data: {empty} is empty: run `dvc pull --force {empty}` to restore the tracked data",
    )
    assert "Could not be read:" in monitor_markdown(result)


def test_a_gx_project_from_another_contract_stops_the_monitor(tmp_path, contract):
    other = make_contract(numeric=2, categories=0)
    create_gx_project(other, tmp_path)
    recent = write(make_frame(contract, rows=50, seed=4), tmp_path / "recent.csv")
    with pytest.raises(UserFacingError, match="was not generated from"):
        monitor(contract, recent, recent, gx_root=tmp_path / "gx", permutations=PERMUTATIONS)


def test_names_from_the_data_cannot_break_the_tables(in_project, contract, tmp_path):
    result = run_monitor(contract, write(make_frame(contract, rows=100, seed=5), tmp_path / "a|b`c.csv"))
    assert "/a\\|b'c.csv` against" in monitor_markdown(result)


def test_the_command_exits_1_on_an_alarm_and_writes_the_body_either_way(in_project, contract, tmp_path):
    out = tmp_path / "out"
    clean = write(make_frame(contract, rows=200, seed=8), tmp_path / "clean.csv")
    assert main(["monitor", "--recent", str(clean), "--out", str(out), "--permutations", "200"]) == 0
    assert json.loads((out / "monitor.json").read_text())["alarm"] is False
    shifted = write(make_frame(contract, rows=200, seed=7, shift=1.0), tmp_path / "shifted.csv")
    assert main(["monitor", "--recent", str(shifted), "--out", str(out), "--permutations", "200"]) == 1
    saved = json.loads((out / "monitor.json").read_text())
    assert (saved["alarm"], saved["reasons"], saved["title"]) == (
        True,
        ["drift detected"],
        "Data monitor: drift detected on the recent data",
    )
    assert saved["comparison"]["drift"] is True and saved["comparison"]["tests"][0]["p_value"] < 0.05
    assert (out / "monitor.md").read_text().startswith("## Data monitor: ⚠️ alarm: drift detected")


def test_the_command_leaves_no_stale_verdict_when_it_cannot_run(in_project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "monitor.md").write_text("last week's verdict")
    assert main(["monitor", "--contract", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 1
    assert not (out / "monitor.md").exists()


# ------------------------------------------------------------------------------------------------------- the issue
class FakeIssues:
    """An in-memory issues API with GitHubIssues' methods."""

    def __init__(self, issues: list[Issue] | None = None):
        self.issues = {issue.number: issue for issue in issues or []}
        self.closed: dict[int, str] = {}
        self.comments: dict[int, list[str]] = {}

    def open_issues(self, author):
        return [
            i for n, i in sorted(self.issues.items()) if n not in self.closed and (not author or i.author == author)
        ]

    def create(self, title, body):
        number = max(self.issues, default=0) + 1
        self.issues[number] = Issue(number, title, body, "github-actions[bot]")
        return number

    def edit(self, number, title, body):
        self.issues[number] = Issue(number, title, body, self.issues[number].author)

    def comment(self, number, body):
        self.comments.setdefault(number, []).append(body)

    def close(self, number, comment, reason="completed"):
        self.comment(number, comment)
        self.closed[number] = reason


def test_a_failing_run_opens_one_issue_later_ones_update_it_a_clean_run_closes_it():
    issues = FakeIssues([Issue(1, "Unrelated", "a user's issue", "someone")])
    assert sync_issue(issues, "monitor", True, "Drift", "first body", run_url="RUN1") == "opened #2"
    assert issues.issues[2].body == f"first body\n\n{marker('monitor')}\n"
    assert sync_issue(issues, "monitor", True, "Drift and validation", "second body", run_url="RUN2") == "updated #2"
    assert sorted(issues.issues) == [1, 2]  # no duplicate
    assert (issues.issues[2].title, issues.issues[2].body) == (
        "Drift and validation",
        f"second body\n\n{marker('monitor')}\n",
    )
    assert issues.comments[2] == ["Still failing (RUN2): the description above is this run's result."]
    assert sync_issue(issues, "monitor", False, "", "", run_url="RUN3") == "closed #2"
    assert issues.closed == {2: "completed"} and "passed (RUN3)" in issues.comments[2][-1]
    assert sync_issue(issues, "monitor", False, "", "") == "nothing to close: no open issue"
    assert sync_issue(issues, "monitor", True, "Drift", "again") == "opened #3"  # a new failure, a new issue


def test_the_issue_is_found_by_its_marker_and_author_not_by_title():
    text = f"body\n\n{marker('monitor')}\n"
    issues = [
        Issue(1, "Data monitor", "same title, no marker", "github-actions[bot]"),
        Issue(2, "anything", text, "someone"),  # the marker pasted by someone else: not ours to edit
        Issue(3, "renamed by a person", text, "github-actions[bot]"),
        Issue(4, "the self-test", f"x\n{marker('self-test')}", "github-actions[bot]"),
    ]
    assert [i.number for i in find_issues(issues, "monitor", "github-actions[bot]")] == [3]
    assert [i.number for i in find_issues(issues, "monitor", None)] == [2, 3]


def test_two_open_issues_with_the_marker_become_one():
    text = with_marker("old", "monitor")
    issues = FakeIssues([Issue(5, "a", text, "github-actions[bot]"), Issue(9, "b", text, "github-actions[bot]")])
    assert sync_issue(issues, "monitor", True, "new", "new body") == "updated #5"
    assert issues.closed == {9: "not_planned"} and issues.comments[9] == ["Duplicate of #5."]


def test_a_body_over_the_size_limit_is_cut_and_keeps_its_marker():
    body = with_marker("x" * 70000, "monitor")
    assert len(body) < 65536 and body.endswith(f"{marker('monitor')}\n")


def test_the_marker_key_is_checked():
    with pytest.raises(ValueError):
        marker("Monitor --> <script>")


def test_the_cli_client_lists_every_page_and_sends_json_bodies(tmp_path):
    calls = []
    page1 = [{"number": 3, "title": "t", "body": marker("m"), "user": {"login": "github-actions[bot]"}}]
    page2 = [{"number": 4, "title": "pr", "body": "", "user": {"login": "x"}, "pull_request": {}}]

    def run(command, **kwargs):
        payload = json.loads(Path(command[command.index("--input") + 1]).read_text()) if "--input" in command else None
        calls.append((command[1:5], payload))
        stdout = json.dumps(page1) + "\n" + json.dumps(page2) if command[3] == "GET" else '{"number": 8}'
        return __import__("subprocess").CompletedProcess(command, 0, stdout, "")

    client = GitHubIssues("octo/ml", run=run)
    assert client.open_issues(None) == [Issue(3, "t", marker("m"), "github-actions[bot]")]
    assert client.create("T", "B") == 8
    client.close(3, "bye")
    assert calls == [
        (["api", "-X", "GET", "repos/octo/ml/issues?state=open&per_page=100"], None),
        (["api", "-X", "POST", "repos/octo/ml/issues"], {"title": "T", "body": "B"}),
        (["api", "-X", "POST", "repos/octo/ml/issues/3/comments"], {"body": "bye"}),
        (["api", "-X", "PATCH", "repos/octo/ml/issues/3"], {"state": "closed", "state_reason": "completed"}),
    ]
    with pytest.raises(ValueError):
        GitHubIssues("not a repository")


def test_json_values_reads_concatenated_pages():
    assert json_values("[1]\n[2, 3]\n") == [[1], [2, 3]]
    assert json_values("") == []


# ------------------------------------------------------------------------------------------------------- self-test
LOCK = """\
# This file was autogenerated by uv via the following command:
#    make lock
great-expectations==1.24.1 \\
    --hash=sha256:aaaa
    # via my-project (pyproject.toml)
numpy==2.4.6 ; python_full_version >= '3.11' \\
    --hash=sha256:bbbb
pyyaml==6.0.2 \\
    --hash=sha256:cccc
"""
FREEZE = """\
-e file:///work/project
great_expectations==1.25.0
numpy==2.4.6
PyYAML==6.0.2
torch==2.15.0+cpu
"""


def test_the_self_test_names_the_packages_that_moved_from_the_locks():
    locked = pinned_versions(LOCK.splitlines())
    assert locked == {"great-expectations": "1.24.1", "numpy": "2.4.6", "pyyaml": "6.0.2"}
    moved = moved_packages(locked, pinned_versions(FREEZE.splitlines()))
    assert moved == [("great-expectations", "1.24.1", "1.25.0"), ("torch", "", "2.15.0+cpu")]


def test_the_self_test_body_names_the_first_failure_its_log_and_the_moves():
    body = self_test_body("fast tests", [("numpy", "2.4.6", "2.5.0")], "E   assert 1 == 2\nFAILED x", "RUN")
    assert body.startswith("## Self-test: ⚠️ the newest versions the dependency ranges allow fail\n")
    assert "First failure: **fast tests**." in body
    assert "| `numpy` | 2.4.6 | 2.5.0 |" in body
    assert "```\nE   assert 1 == 2\nFAILED x\n```" in body
    assert body.endswith("Run: RUN\n")
    green = self_test_body(None, [])
    assert "✅" in green and "None: the environment is the locked set." in green and "What to do" not in green

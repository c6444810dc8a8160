"""The scheduled workflows under act, offline: the drift monitor and the self-test each keep ONE issue.

Each run works on a copy of the repository (tests/workflows/act/act_harness.py, host mode, the prebuilt venv). `gh`
is tests/workflows/act/gh-issues/gh, first on PATH: a stand-in for the issues API that keeps the issues in a JSON
file. The token is a fake one (the harness's empty token makes the issue jobs skip, as on a fork without one).
The monitor: a drifted sample opens the issue, a sample that breaks the contract updates it (no second issue), the
bundled data closes it. The self-test: a failing test step opens its issue, a passing run closes it; no package is
upgraded here (`upgrade: false`: offline, and the shared venv must stay as it is).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from act_harness import ACT_DIR, ActRun, ActSettings, copy_working_tree, run_act

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

GH_STAND_IN = ACT_DIR / "gh-issues"
REPOSITORY = {"name": "ml-template", "full_name": "local/ml-template", "owner": {"login": "local"}, "fork": False}
MONITOR_MARKER = "<!-- mlci-issue: monitor -->"
SELF_TEST_MARKER = "<!-- mlci-issue: self-test -->"


@dataclass(frozen=True)
class Step:
    """One act run and the pretend repository's issues right after it."""

    run: ActRun
    issues: list[dict]
    gh_calls: list[str]


class Scenario:
    """Runs one workflow several times on one repository copy, against one stand-in issue store."""

    def __init__(self, root: Path, workflow: str):
        self.root, self.workflow = root, workflow
        self.repo = copy_working_tree(root / "repo")
        self.store, self.gh_log = root / "issues.json", root / "gh.log"
        self.runs = 0

    def run(self, inputs: dict[str, object]) -> Step:
        self.runs += 1
        event = self.root / f"event-{self.runs}.json"
        event.write_text(json.dumps({"inputs": inputs, "repository": REPOSITORY}), encoding="utf-8")
        self.gh_log.write_text("")
        settings = ActSettings(
            self.repo,
            self.root / f"act-work-{self.runs}",
            event="workflow_dispatch",
            workflow=self.workflow,
            env={
                "PATH": f"{GH_STAND_IN}:{os.environ['PATH']}",
                "FAKE_GH_ISSUES": str(self.store),
                "FAKE_GH_LOG": str(self.gh_log),
            },
            # the last --eventpath and --secret win over the harness's own
            extra_args=["--eventpath", str(event), "--secret", "GITHUB_TOKEN=act-fake-token"],
        )
        run = run_act(settings)
        issues = json.loads(self.store.read_text(encoding="utf-8"))["issues"] if self.store.is_file() else []
        return Step(run, issues, self.gh_log.read_text().splitlines())


def job_result(step: Step, job_suffix: str) -> str:
    results = step.run.job_results()
    found = [result for name, result in results.items() if name.endswith(job_suffix)]
    assert len(found) == 1, results
    return found[0]


# ------------------------------------------------------------------------------------------------------- monitor
@pytest.fixture(scope="module")
def monitor_steps(tmp_path_factory: pytest.TempPathFactory) -> list[Step]:
    """Three runs: a drifted sample, then one that breaks the contract, then the bundled data."""
    scenario = Scenario(tmp_path_factory.mktemp("monitor"), ".github/workflows/monitor.yml")
    data = scenario.root / "data"
    data.mkdir()
    digits = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "digits.csv")
    pixels = [column for column in digits.columns if column.startswith("pixel_")]
    drifted = digits.copy()
    drifted[pixels] = (drifted[pixels] + 1).clip(upper=16)  # every pixel a shade darker: within the contract's range
    drifted.to_csv(data / "drifted.csv", index=False)
    invalid = digits.copy()
    invalid.loc[0, "label"] = 42
    invalid.to_csv(data / "invalid.csv", index=False)
    return [
        scenario.run({"recent-data": str(data / "drifted.csv")}),
        scenario.run({"recent-data": str(data / "invalid.csv")}),
        scenario.run({}),
    ]


def test_a_drifted_sample_fails_the_check_and_opens_one_issue_with_the_drift_table(monitor_steps):
    step = monitor_steps[0]
    assert job_result(step, "/validate and drift-test the recent data") == "failed", step.run.tail()
    assert job_result(step, "/open, update or close the monitor's issue") == "succeeded", step.run.tail()
    (issue,) = step.issues
    assert (issue["number"], issue["state"], issue["title"]) == (
        1,
        "open",
        "Data monitor: drift detected on the recent data",
    )
    body = issue["body"]
    assert body.rstrip().endswith(MONITOR_MARKER)
    assert "### Drift, training data vs recent data: ⚠️ **drift detected**" in body
    assert re.search(r"\| Kolmogorov-Smirnov per numeric feature \| .* \| \*\*drift\*\* \|", body), body
    assert re.search(r"All \d+ expectations passed on 1,797 rows", body), body
    assert "### Drift, training data vs recent data" in step.run.summary("check")


def test_a_later_failing_run_updates_the_same_issue_never_a_second(monitor_steps):
    step = monitor_steps[1]
    assert job_result(step, "/validate and drift-test the recent data") == "failed", step.run.tail()
    (issue,) = step.issues  # still one issue
    assert (issue["number"], issue["state"]) == (1, "open")
    assert issue["title"].startswith("Data monitor: validation failed")
    assert re.search(r"\| expect_column_values_to_be_in_set \| label \|.*42", issue["body"]), issue["body"]
    assert len(issue["comments"]) == 1 and issue["comments"][0].startswith("Still failing")
    assert not [call for call in step.gh_calls if re.match(r"api -X POST \S+/issues( |$)", call)], step.gh_calls


def test_a_clean_run_succeeds_and_closes_the_issue_with_a_comment(monitor_steps):
    step = monitor_steps[2]
    assert step.run.returncode == 0, step.run.tail()
    assert job_result(step, "/validate and drift-test the recent data") == "succeeded"
    (issue,) = step.issues
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert issue["comments"][-1].startswith("The last run passed")
    assert "## Data monitor: ✅ clean" in step.run.summary("check")


# ------------------------------------------------------------------------------------------------------- self-test
@pytest.fixture(scope="module")
def self_test_steps(tmp_path_factory: pytest.TempPathFactory) -> list[Step]:
    """Two runs on the locked set (no upgrade), no pipeline: a test step made to fail, then one that passes."""
    scenario = Scenario(tmp_path_factory.mktemp("self-test"), ".github/workflows/self-test.yml")
    quick = "tests/mlci/test_monitor.py -k test_the_marker_key_is_checked -p no:cacheprovider"
    return [
        scenario.run({"upgrade": False, "pipeline": False, "pytest-args": "tests/no_such_test_file.py"}),
        scenario.run({"upgrade": False, "pipeline": False, "pytest-args": quick}),
    ]


def test_a_failing_self_test_opens_an_issue_naming_the_first_failure(self_test_steps):
    step = self_test_steps[0]
    assert job_result(step, "/newest dependencies") == "failed", step.run.tail()
    assert job_result(step, "/open, update or close the self-test's issue") == "succeeded", step.run.tail()
    (issue,) = step.issues
    assert issue["state"] == "open"
    assert issue["title"] == "Self-test: the newest dependency versions fail at the fast tests"
    body = issue["body"]
    assert "First failure: **fast tests (make test-fast)**." in body
    assert "no_such_test_file.py" in body, step.run.tail(120)  # the tail of the failed step's log
    assert "### Packages that moved from the locks" in body
    assert body.rstrip().endswith(SELF_TEST_MARKER)


def test_a_passing_self_test_closes_its_issue(self_test_steps):
    step = self_test_steps[1]
    assert step.run.returncode == 0, step.run.tail()
    (issue,) = step.issues
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert "## Self-test: ✅" in step.run.summary("test")

"""The harness and stand-ins behave as GitHub does where it matters, shown by short act runs of tiny workflows:
a duplicate artifact name in one run is refused, a caller that under-grants never starts, and a real event payload
(`make act ACT_ARGS="-e payload.json -j job"`) is replayed with act's own options passed on."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from act_harness import GitHubWouldRefuse, run_act, settings_from_args

pytestmark = pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act")

UPLOAD = "actions/upload-artifact@b7c566a772e6b6bfb58ed0dc250532a479d7789f # v6.0.0"
CONFLICT = (
    "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this "
    "name already exists on the workflow run"
)


def uploads_twice(overwrite: bool) -> str:
    """A workflow whose second job uploads the first job's artifact name again."""
    extra = "\n          overwrite: true" if overwrite else ""
    job = """
  {id}:
    runs-on: ubuntu-latest{needs}
    steps:
      - run: echo {id} > out.txt
      - uses: {upload}
        with:
          name: result
          path: out.txt{extra}"""
    return "on: push\njobs:" + "".join(
        job.format(id=name, needs=needs, upload=UPLOAD, extra=extra)
        for name, needs in (("first", ""), ("second", "\n    needs: first"))
    )


def repository(tmp_path: Path, workflow: str) -> Path:
    """A one-commit repository holding `workflow` as .github/workflows/w.yml."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".github" / "workflows" / "w.yml").write_text(workflow, encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "w"], cwd=repo, check=True)
    return repo


def act(tmp_path: Path, workflow: str, *args: str):
    settings, _ = settings_from_args(
        ["--workflow", ".github/workflows/w.yml", "--work-dir", str(tmp_path / "work"), *args],
        repo_root=repository(tmp_path, workflow),
    )
    settings.venv = None
    return run_act(settings)


def test_a_second_upload_of_one_name_in_a_run_is_refused_as_github_does(tmp_path: Path) -> None:
    run = act(tmp_path, uploads_twice(overwrite=False), "--event", "push")
    assert run.job_results() == {"w.yml/first": "succeeded", "w.yml/second": "failed"}, run.tail()
    assert CONFLICT in run.log


def test_overwrite_replaces_the_earlier_upload(tmp_path: Path) -> None:
    run = act(tmp_path, uploads_twice(overwrite=True), "--event", "push")
    assert run.job_results() == {"w.yml/first": "succeeded", "w.yml/second": "succeeded"}, run.tail()
    assert (run.only_run_dir() / "result" / "out.txt").read_text() == "second\n"


def test_every_upload_in_the_workflows_overwrites_so_a_rerun_can_upload_again() -> None:
    from helpers import GITHUB_DIR
    from yaml import safe_load

    missing = [
        f"{path.name}: {job_id}: {step.get('name')}"
        for path in sorted((GITHUB_DIR / "workflows").glob("*.yml"))
        for job_id, job in safe_load(path.read_text(encoding="utf-8"))["jobs"].items()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
        and (step.get("with") or {}).get("overwrite") is not True
    ]
    assert missing == []


UNDER_GRANTING_CALLER = """\
on: push
permissions: {}
jobs:
  call:
    uses: ./.github/workflows/called.yml
    permissions:
      contents: read
"""
CALLED = """\
on: workflow_call
permissions: {}
jobs:
  needs-packages:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      packages: read
    steps:
      - run: echo never
"""


def test_a_caller_that_grants_less_than_its_called_workflow_asks_never_starts(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "repo" / ".github" / "workflows" / "called.yml").write_text(CALLED, encoding="utf-8")
    with pytest.raises(GitHubWouldRefuse) as refused:
        act(tmp_path, UNDER_GRANTING_CALLER, "--event", "push")
    assert str(refused.value) == (
        ".github/workflows/w.yml: GitHub would not run this as act does:\n"
        "Error calling workflow './.github/workflows/called.yml'. The nested job 'needs-packages' is requesting "
        "'packages: read', but is only allowed 'packages: none'."
    )
    assert not (tmp_path / "work" / "artifacts").exists()


def test_a_deploy_call_without_secrets_never_starts_instead_of_deploying_with_empty_credentials(tmp_path: Path) -> None:
    from act_harness import check_github_rules
    from helpers import REPO_ROOT

    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "deploy.yml").write_text((REPO_ROOT / ".github/workflows/deploy.yml").read_text(), encoding="utf-8")
    (workflows / "w.yml").write_text(
        "on: push\njobs:\n  staging:\n    uses: ./.github/workflows/deploy.yml\n    permissions: write-all\n"
        "    with: {version: v1.0.0, environment: staging}\n",
        encoding="utf-8",
    )
    with pytest.raises(GitHubWouldRefuse) as refused:
        check_github_rules(tmp_path, ".github/workflows/w.yml")
    assert str(refused.value) == (
        ".github/workflows/w.yml: GitHub would not run this as act does:\n"
        "job 'staging' calls ./.github/workflows/deploy.yml without `secrets:`: its job 'promote' reads DEPLOY_SECRETS "
        "from its environment, which GitHub leaves empty in a called workflow (pass `secrets: inherit`)"
    )


REPLAYED = """\
on: [push, pull_request]
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - env:
          MESSAGE: ${{ github.event.head_commit.message }}
        run: echo "replayed $GITHUB_EVENT_NAME $MESSAGE"
  other:
    runs-on: ubuntu-latest
    steps:
      - run: echo "other job ran"
"""


def test_a_real_push_payload_is_replayed_and_act_options_pass_through(tmp_path: Path) -> None:
    payload = tmp_path / "push.json"
    payload.write_text(
        json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "1" * 40, "head_commit": {"message": "m1"}}),
        encoding="utf-8",
    )
    run = act(tmp_path, REPLAYED, "-e", str(payload), "-j", "show")
    assert run.returncode == 0, run.tail()
    assert "replayed push m1" in run.log
    assert "other job ran" not in run.log


def test_a_payload_of_no_known_event_asks_for_the_event_by_name(tmp_path: Path) -> None:
    payload = tmp_path / "odd.json"
    payload.write_text('{"zen": "x"}', encoding="utf-8")
    with pytest.raises(ValueError) as error:
        settings_from_args(["-e", str(payload)])
    assert str(error.value) == (
        f"cannot tell which event {payload} is a payload of: name it, e.g. ACT_ARGS='--event push -e {payload}'"
    )


def test_make_act_hands_act_args_to_the_harness_which_reads_the_payload_and_passes_the_rest_to_act(
    tmp_path: Path,
) -> None:
    from helpers import REPO_ROOT

    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "act", "ACT_ARGS=-e path/to/event.json -j code"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry.stdout.rstrip().endswith(
        "act_harness.py --platform=-self-hosted --venv " f"{REPO_ROOT / '.venv'} -e path/to/event.json -j code"
    )
    payload = tmp_path / "event.json"
    payload.write_text((REPO_ROOT / "tests/workflows/act/events/push.json").read_text(), encoding="utf-8")
    settings, _ = settings_from_args(["-e", str(payload), "-j", "code"])
    assert (settings.event, settings.event_path, settings.extra_args) == ("push", payload.resolve(), ["-j", "code"])

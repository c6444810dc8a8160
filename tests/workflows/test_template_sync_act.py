"""template-sync.yml under act, offline: a template release reaches a copy as ONE pull request, kept up to date.

A local bare git repository plays the template: a copy of this repository (tests/project_copy.py) whose template.toml
says v1.0.0, tagged v1.0.0, then releases that each change template-owned files. The repository the workflow runs in
is made from v1.0.0 as "Use this template" makes one (`git archive`, one commit) and has a local bare `origin` that
stands in for it on GitHub: act's checkout is its working tree with its .git, whose origin has GitHub's URL (act
names the repository after it) and the bare one as its push URL, so the workflow's push lands there.
origin's pre-receive hook keeps GitHub's rule on workflow files: a push that changes one is refused unless it is made
with the token that may (the test's TEMPLATE_SYNC_TOKEN), never with the job's own. `gh` is
tests/workflows/act/gh-pulls/gh, first on PATH: pull requests in a JSON file, and GitHub's record of the template this
repository was made from, which points at the local template. The real `make update-template` does the update.
In order: v1.1.0 opens one pull request (the source from GitHub's record); v1.2.0, run by hand with the template
input, edits that same pull request; once it is merged, a run on the current copy opens none and pushes nothing;
v1.3.0 changes a workflow file: without TEMPLATE_SYNC_TOKEN the commit leaves it out and the body names it, with the
token the same pull request gets it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from act_harness import ACT_DIR, ActRun, ActSettings, run_act
from project_copy import copy_project

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
]

WORKFLOW = ".github/workflows/template-sync.yml"
GH_STAND_IN = ACT_DIR / "gh-pulls"
REPOSITORY = {
    "name": "my-project",
    "full_name": "acme/my-project",
    "owner": {"login": "acme"},
    "default_branch": "main",
    "is_template": False,
    "fork": False,
}
BRANCH = "template-sync"
JOB = "update from the template's newest release"
IDENTITY = ["-c", "user.name=sync test", "-c", "user.email=sync@example.invalid", "-c", "commit.gpgsign=false"]
WORKFLOWS_TOKEN = "fake-token-with-workflows-write"
# origin's pre-receive hook: GitHub refuses a push that creates or changes a workflow file unless its token has the
# workflows permission. The hook sees the pushing process's environment (a local push runs it as a child), where the
# workflow's push step has its token in GH_TOKEN.
PRE_RECEIVE = f"""#!/bin/sh
while read -r old new ref; do
  [ "$new" = 0000000000000000000000000000000000000000 ] && continue
  for commit in $(git rev-list "$new" --not --all); do
    changed="$(git diff-tree --root --no-commit-id --name-only -r "$commit" -- .github/workflows)"
    if [ -n "$changed" ] && [ "${{GH_TOKEN:-}}" != "{WORKFLOWS_TOKEN}" ]; then
      echo "refusing to allow a GitHub App to create or update workflow \\`$changed\\`" \\
        "without \\`workflows\\` permission" >&2
      exit 1
    fi
  done
done
"""
# What each release changes (appended lines), besides template.toml's version.
RELEASES = {
    "v1.1.0": {"src/mlci/__init__.py": "# v1.1.0: a line the template's release v1.1.0 adds\n"},
    "v1.2.0": {"docs/monitoring.md": "\nv1.2.0: a line the template's release v1.2.0 adds.\n"},
    "v1.3.0": {
        ".github/workflows/monitor.yml": "# v1.3.0: a line the template's release v1.3.0 adds\n",
        "src/mlci/__init__.py": "# v1.3.0: a line the template's release v1.3.0 adds\n",
    },
}


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=False, env=env or clean_env()
    )
    assert done.returncode == 0 or not check, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip() if check else done.stdout + done.stderr


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith(("GIT_", "GH_"))}


def set_version(repo: Path, version: str) -> None:
    manifest = repo / "template.toml"
    text, count = re.subn(r'(?m)^version = ".*"$', f'version = "{version}"', manifest.read_text(encoding="utf-8"))
    assert count == 1, 'template.toml has no `version = "..."` line'
    manifest.write_text(text, encoding="utf-8")


class Template:
    """The template's repository: a working copy that makes the releases, and the bare repository copies fetch."""

    def __init__(self, root: Path):
        self.work = copy_project(root / "template-work", include_untracked=True, branch="main")
        self.bare = root / "template.git"
        git(root, "init", "--quiet", "--bare", str(self.bare))
        self.release("v1.0.0")

    def release(self, version: str) -> None:
        for path, line in RELEASES.get(version, {}).items():
            with (self.work / path).open("a", encoding="utf-8") as handle:
                handle.write(line)
        set_version(self.work, version)
        git(self.work, "commit", "--quiet", "--all", f"--message=release {version}")
        git(self.work, "tag", "--annotate", f"--message=release {version}", version)
        git(self.work, "push", "--quiet", "--tags", str(self.bare), "main")

    def file(self, version: str, path: str) -> str:
        return git(self.bare, "show", f"{version}:{path}")


@dataclass(frozen=True)
class Step:
    """One act run, and the pretend GitHub right after it: pull requests, origin's branches, the gh calls."""

    run: ActRun
    pulls: list[dict]
    branches: dict[str, str]
    gh_calls: list[str]

    def job(self) -> str | None:
        found = [result for name, result in self.run.job_results().items() if name.rstrip().endswith(JOB)]
        return found[0] if found else None

    def tail(self) -> str:
        return self.run.tail(80)


class Copy:
    """A repository made from the template's v1.0.0 as "Use this template" makes one, with a local bare origin."""

    def __init__(self, root: Path, template: Template):
        self.root, self.template = root, template
        self.repo, self.origin = root / "copy", root / "origin.git"
        self.repo.mkdir()
        archive = subprocess.run(["git", "archive", "v1.0.0"], cwd=template.bare, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(self.repo)], input=archive.stdout, check=True)
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(self.repo, "init", "--quiet", "--initial-branch=main")
        git(self.repo, "add", "--all")
        git(self.repo, "commit", "--quiet", "--message=Initial commit")
        # origin's URL is GitHub's (act names the repository after it); pushes go to the local bare one
        git(self.repo, "remote", "add", "origin", f"https://github.com/{REPOSITORY['full_name']}.git")
        git(self.repo, "config", "remote.origin.pushurl", str(self.origin))
        git(self.repo, "push", "--quiet", "origin", "main")
        hook = self.origin / "hooks" / "pre-receive"
        hook.write_text(PRE_RECEIVE, encoding="utf-8")
        hook.chmod(0o755)
        self.store, self.gh_log = root / "github.json", root / "gh.log"
        self.runs = 0

    def fetch(self) -> None:
        git(self.repo, "fetch", "--quiet", "--prune", str(self.origin), "+refs/heads/*:refs/remotes/origin/*")

    def branches(self) -> dict[str, str]:
        listed = git(self.origin, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
        return dict(line.split() for line in listed.splitlines())

    def pulls(self) -> list[dict]:
        return json.loads(self.store.read_text(encoding="utf-8"))["pulls"] if self.store.is_file() else []

    def run(self, event: str = "schedule", inputs: dict | None = None, secrets: dict[str, str] | None = None) -> Step:
        """One run of the workflow on the copy's default branch, as GitHub starts it there."""
        self.runs += 1
        self.fetch()  # what actions/checkout with fetch-depth 0 holds: every branch
        payload = {"repository": REPOSITORY}
        payload.update({"schedule": "41 4 * * 2"} if event == "schedule" else {"inputs": inputs or {}})
        event_path = self.root / f"event-{self.runs}.json"
        event_path.write_text(json.dumps({**payload, "ref": "refs/heads/main"}), encoding="utf-8")
        self.gh_log.write_text("")
        env = {
            "PATH": f"{GH_STAND_IN}:{os.environ['PATH']}",
            "FAKE_GH_STORE": str(self.store),
            "FAKE_GH_LOG": str(self.gh_log),
            "FAKE_GH_GIT_DIR": str(self.origin),
            "FAKE_GH_REPOSITORY": REPOSITORY["full_name"],
            "FAKE_GH_TEMPLATE_URL": str(self.template.bare),
        }
        secret_args = [arg for name, value in (secrets or {}).items() for arg in ("--secret", f"{name}={value}")]
        settings = ActSettings(
            self.repo,
            self.root / f"act-work-{self.runs}",
            event=event,
            workflow=WORKFLOW,
            env=env,
            # the last --eventpath and --secret win over the harness's own
            extra_args=["--eventpath", str(event_path), "--secret", "GITHUB_TOKEN=act-fake-token", *secret_args],
        )
        run = run_act(settings)
        return Step(run, self.pulls(), self.branches(), self.gh_log.read_text().splitlines())

    def merge(self, number: int) -> None:
        """The user merges the pull request (a fast-forward of main on origin); the copy's main follows."""
        self.fetch()
        git(self.repo, "merge", "--quiet", "--ff-only", f"origin/{BRANCH}")
        git(self.repo, "push", "--quiet", "origin", "main")
        store = json.loads(self.store.read_text(encoding="utf-8"))
        (pull,) = [pull for pull in store["pulls"] if pull["number"] == number]
        pull["state"] = "merged"
        self.store.write_text(json.dumps(store, indent=2), encoding="utf-8")

    def show(self, ref: str, path: str) -> str:
        return git(self.origin, "show", f"{ref}:{path}")


# ------------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Copy, dict[str, Step]]:
    """Five runs of template-sync.yml on one copy, one template release (or a merge) before each."""
    root = tmp_path_factory.mktemp("template-sync")
    template = Template(root)
    copy = Copy(root, template)
    steps = {}
    template.release("v1.1.0")
    steps["v1.1.0"] = copy.run()
    template.release("v1.2.0")
    steps["v1.2.0"] = copy.run("workflow_dispatch", {"template": str(template.bare), "ref": ""})
    copy.merge(1)
    steps["current"] = copy.run()
    template.release("v1.3.0")
    steps["v1.3.0"] = copy.run()
    steps["v1.3.0 with the token"] = copy.run(secrets={"TEMPLATE_SYNC_TOKEN": WORKFLOWS_TOKEN})
    return copy, steps


# ---------------------------------------------------------------------------------------------------------- tests
def test_the_stand_in_origin_refuses_a_workflow_change_pushed_without_the_workflows_token(tmp_path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    (origin / "hooks" / "pre-receive").write_text(PRE_RECEIVE, encoding="utf-8")
    (origin / "hooks" / "pre-receive").chmod(0o755)
    work = tmp_path / "work"
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "x.yml").write_text("name: x\n")
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "--message=a workflow")
    refused = git(work, "push", str(origin), "main", env={**clean_env(), "GH_TOKEN": "job-token"}, check=False)
    assert "refusing to allow a GitHub App to create or update workflow `.github/workflows/x.yml`" in refused
    git(work, "push", "--quiet", str(origin), "main", env={**clean_env(), "GH_TOKEN": WORKFLOWS_TOKEN})


def test_a_release_opens_one_pull_request_whose_body_is_the_update_report(synced) -> None:
    copy, steps = synced
    step = steps["v1.1.0"]
    assert (step.run.returncode, step.job()) == (0, "succeeded"), step.tail()
    (pull,) = step.pulls
    assert (pull["number"], pull["state"], pull["head"], pull["base"]) == (1, "open", BRANCH, "main")
    assert pull["title"] == "Template update: v1.0.0 → v1.1.0"
    report = step.run.summary("sync")  # the job summary is the report
    assert report.startswith("# Template update: v1.0.0 → v1.1.0\n"), report
    assert "- `src/mlci/__init__.py`" in report and "- `template.toml`" in report, report
    assert pull["body"].startswith(report)
    assert "close and reopen it to\nrun CI" in pull["body"]  # opened with the job's token
    # the source came from GitHub's record of the template this repository was made from
    assert step.gh_calls[0] == f"api repos/{REPOSITORY['full_name']} --jq .template_repository.clone_url // empty"
    assert [call.split()[1] for call in step.gh_calls if call.startswith("pr ")] == ["list", "create"], step.gh_calls


def test_the_branch_holds_the_release_s_files_on_top_of_main(synced) -> None:
    copy, steps = synced
    step = steps["v1.1.0"]
    main, branch = step.branches["main"], step.branches[BRANCH]
    assert git(copy.origin, "rev-parse", f"{branch}^") == main  # one commit on the default branch
    assert copy.show(branch, "src/mlci/__init__.py") == copy.template.file("v1.1.0", "src/mlci/__init__.py")
    assert 'version = "v1.1.0"' in copy.show(branch, "template.toml")
    changed = git(copy.origin, "diff", "--name-only", main, branch).splitlines()
    assert changed == ["src/mlci/__init__.py", "template.toml"]
    assert git(copy.origin, "log", "-1", "--format=%an <%ae>", branch) == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
    )


def test_a_later_release_edits_the_same_pull_request_never_a_second(synced) -> None:
    copy, steps = synced
    step = steps["v1.2.0"]
    assert (step.run.returncode, step.job()) == (0, "succeeded"), step.tail()
    (pull,) = step.pulls  # still one pull request
    assert (pull["number"], pull["state"]) == (1, "open")
    assert pull["title"] == "Template update: v1.0.0 → v1.2.0"
    assert pull["body"].startswith(step.run.summary("sync"))
    assert "- `docs/monitoring.md`" in pull["body"]
    assert [call.split()[:3] for call in step.gh_calls if call.startswith("pr ")] == [
        ["pr", "list", "--repo"],
        ["pr", "edit", "1"],
    ], step.gh_calls
    assert not [call for call in step.gh_calls if call.startswith("api ")]  # the template input named the source
    branch = step.branches[BRANCH]
    assert git(copy.origin, "rev-parse", f"{branch}^") == step.branches["main"]  # rebuilt on main, force-pushed
    for path in ("src/mlci/__init__.py", "docs/monitoring.md"):
        assert copy.show(branch, path) == copy.template.file("v1.2.0", path), path


def test_a_current_copy_gets_no_pull_request_and_no_push(synced) -> None:
    copy, steps = synced
    step, before = steps["current"], steps["v1.2.0"]
    assert (step.run.returncode, step.job()) == (0, "succeeded"), step.tail()
    assert "up to date with v1.2.0 of the template" in step.run.log, step.tail()
    assert "This copy is current" in step.run.summary("sync")
    assert step.branches == {"main": before.branches[BRANCH], BRANCH: before.branches[BRANCH]}  # nothing pushed
    assert [pull["state"] for pull in step.pulls] == ["merged"]
    assert not [call for call in step.gh_calls if call.startswith(("pr ", "auth "))], step.gh_calls


def test_without_the_token_workflow_files_stay_out_of_the_commit_and_the_body_names_them(synced) -> None:
    copy, steps = synced
    step = steps["v1.3.0"]
    assert (step.run.returncode, step.job()) == (0, "succeeded"), step.tail()
    merged, pull = step.pulls  # the first was merged: a new one
    assert (merged["state"], pull["number"], pull["state"]) == ("merged", 2, "open")
    assert pull["title"] == "Template update: v1.2.0 → v1.3.0"
    branch = step.branches[BRANCH]
    changed = git(copy.origin, "diff", "--name-only", step.branches["main"], branch).splitlines()
    assert changed == ["src/mlci/__init__.py", "template.toml"]
    body = pull["body"]
    assert "## Workflow files not in this pull request" in body
    assert "- `.github/workflows/monitor.yml`" in body.split("## Workflow files not in this pull request")[1]
    assert "Add the secret `TEMPLATE_SYNC_TOKEN`" in body
    assert "## Workflow files not in this pull request" in step.run.summary("sync")


def test_with_the_token_the_same_pull_request_gets_the_workflow_files_too(synced) -> None:
    copy, steps = synced
    step = steps["v1.3.0 with the token"]
    assert (step.run.returncode, step.job()) == (0, "succeeded"), step.tail()
    assert [pull["number"] for pull in step.pulls if pull["state"] == "open"] == [2]
    (pull,) = [pull for pull in step.pulls if pull["number"] == 2]
    assert "Workflow files not in this pull request" not in pull["body"]
    assert "close and reopen" not in pull["body"]  # a pull request opened with a token of yours starts CI
    branch = step.branches[BRANCH]
    changed = git(copy.origin, "diff", "--name-only", step.branches["main"], branch).splitlines()
    assert changed == [".github/workflows/monitor.yml", "src/mlci/__init__.py", "template.toml"]
    monitor = ".github/workflows/monitor.yml"
    assert copy.show(branch, monitor) == copy.template.file("v1.3.0", monitor)
    assert [call.split()[1] for call in step.gh_calls if call.startswith("pr ")] == ["list", "edit"], step.gh_calls

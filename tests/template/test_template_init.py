"""template-init.yml's steps, run as a runner would run them, in a copy of the repository with a local `origin`.

`uses:` steps (the checkout) are replaced by the prepared copy; `gh` is tests/template/stand-ins/gh. What this does
NOT cover: GitHub's evaluation of the job's `if:` (checked statically below), tokens and permissions.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from project_copy import PROJECT

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "template-init.yml"
STAND_INS = Path(__file__).resolve().parent / "stand-ins"
GIT_IDENTITY = ["-c", "user.name=Template", "-c", "user.email=template@example.com"]


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def new_repository(tmp_path: Path) -> Path:
    """A repository as "Use this template" makes it (one commit), with a local bare `origin`."""
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    project = tmp_path / "project"
    for name in filter(None, _git(REPO_ROOT, "ls-files", "-z").split("\0")):
        if (REPO_ROOT / name).is_file() and not name.startswith(("dvc-store/", "tests/")):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, project / name)
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "Initial commit")
    _git(project, "remote", "add", "origin", str(origin))
    _git(project, "push", "-q", "origin", "main")
    return project


def _read_outputs(path: Path) -> dict[str, str]:
    outputs, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            key, delimiter = line.split("<<", 1)
            outputs[key] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def run_job(project: Path, repository: str, gh_log: Path, **fake_gh: str) -> dict:
    """Run the job's `run:` steps in order, honouring their `if:` on step outputs; returns outputs and summary."""
    job = _workflow()["jobs"]["rename"]
    context = {
        "github.token": "fake-token",
        "github.repository": repository,
        "github.event.repository.default_branch": "main",
        "github.server_url": "https://github.com",
    }
    outputs: dict[str, dict[str, str]] = {}
    summary = project.parent / "summary.md"
    summary.write_text("")

    def expand(value: str) -> str:
        def lookup(match: re.Match) -> str:
            name = match[1].strip()
            step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", name)
            return outputs.get(step[1], {}).get(step[2], "") if step else context[name]

        return re.sub(r"\$\{\{(.+?)\}\}", lookup, str(value))

    for step in job["steps"]:
        if "run" not in step:
            continue  # the checkout: the prepared copy stands in for it
        condition_text = step.get("if", "")
        condition = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+) == '(\w+)'", condition_text)
        if condition_text and not condition:
            raise AssertionError(f"this harness cannot evaluate `if: {condition_text}`")
        if condition and outputs.get(condition[1], {}).get(condition[2]) != condition[3]:
            continue
        output_file = project.parent / f"output-{step.get('id', 'step')}"
        output_file.write_text("")
        env = {
            **os.environ,
            "PATH": f"{STAND_INS}:{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "FAKE_GH_LOG": str(gh_log),
            **{key: str(value) for key, value in _workflow()["env"].items()},
            **{key: expand(value) for key, value in (step.get("env") or {}).items()},
            **fake_gh,
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"step {step['name']!r} failed: {done.stdout}{done.stderr}"
        if "id" in step:
            outputs[step["id"]] = _read_outputs(output_file)
    return {"outputs": outputs, "summary": summary.read_text()}


def _origin_branches(project: Path) -> list[str]:
    return _git(project, "ls-remote", "--heads", "origin").split()[1::2]


def test_first_push_renames_on_a_branch_and_opens_a_pull_request(new_repository, tmp_path):
    gh_log = tmp_path / "gh.log"
    run_job(new_repository, "acme/My-Digits", gh_log)
    assert _origin_branches(new_repository) == ["refs/heads/main", "refs/heads/template-init"]
    files = _git(new_repository, "ls-tree", "-r", "--name-only", "origin/template-init")
    assert "src/my_digits/cli.py" in files and f"src/{PROJECT.package}/cli.py" not in files
    assert ".github/template-initialized" in files
    assert "rename.log" not in files and "pr-body.md" not in files
    calls = gh_log.read_text().splitlines()
    assert calls[0] == "api repos/acme/My-Digits/branches/template-init --silent"
    assert calls[-1].startswith("pr create --repo acme/My-Digits --base main --head template-init")
    assert "close and reopen this one to run CI" in (tmp_path / "gh.log.body").read_text()


def test_nothing_happens_once_the_marker_is_there(new_repository, tmp_path):
    (new_repository / ".github" / "template-initialized").write_text("done\n")
    result = run_job(new_repository, "acme/My-Digits", tmp_path / "gh.log")
    assert result["outputs"]["decide"] == {"run": "false"}
    assert _origin_branches(new_repository) == ["refs/heads/main"]
    assert (new_repository / "src" / PROJECT.package).is_dir()


def test_nothing_happens_while_the_branch_waits_for_review(new_repository, tmp_path):
    result = run_job(new_repository, "acme/My-Digits", tmp_path / "gh.log", FAKE_GH_BRANCH_EXISTS="1")
    assert result["outputs"]["decide"] == {"run": "false"}
    assert "pr create" not in (tmp_path / "gh.log").read_text()


def test_an_unusable_repository_name_skips_green_with_the_reason(new_repository, tmp_path):
    result = run_job(new_repository, "acme/json", tmp_path / "gh.log")
    assert result["outputs"]["rename"] == {"renamed": "false"}
    assert "error: 'json' is a standard-library module: choose another name" in result["summary"]
    assert _origin_branches(new_repository) == ["refs/heads/main"]


def test_when_actions_may_not_open_pull_requests_the_summary_links_the_branch(new_repository, tmp_path):
    result = run_job(new_repository, "acme/My-Digits", tmp_path / "gh.log", FAKE_GH_PR_RC="1")
    assert "https://github.com/acme/My-Digits/compare/main...template-init?expand=1" in result["summary"]
    assert "refs/heads/template-init" in _origin_branches(new_repository)


def test_workflow_files_naming_the_package_are_left_out_and_listed(new_repository, tmp_path):
    extra = new_repository / ".github" / "workflows" / "extra.yml"
    extra.write_text(f"# runs {PROJECT.package}\n")
    # The user's own workflow (pyproject.toml marks it theirs), so the rename rewrites it.
    with (new_repository / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.mlci.template]\nyours = [".github/workflows/extra.yml"]\n')
    _git(new_repository, "add", "-A")
    _git(new_repository, "commit", "-q", "-m", "a workflow naming the package")
    run_job(new_repository, "acme/My-Digits", tmp_path / "gh.log")
    shown = _git(new_repository, "show", "origin/template-init:.github/workflows/extra.yml")
    assert shown == f"# runs {PROJECT.package}\n"
    assert "      - .github/workflows/extra.yml" in (tmp_path / "gh.log.body").read_text()


def test_the_job_never_runs_in_the_template_or_a_fork_and_alone_may_write():
    workflow = _workflow()
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["rename"]
    assert job["if"] == "github.event.repository.is_template == false && github.event.repository.fork == false"
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}

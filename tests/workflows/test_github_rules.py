"""What GitHub enforces and act does not, checked statically (tests/workflows/act/github_rules.py): a called
workflow's token narrowed to the caller's grant, the check names a branch rule must require, environment secrets in
a called workflow; on the repository's workflows and on every workflow example in README and docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from github_rules import check_names, local_resolver, permission_errors, secret_errors, unpassed_secrets
from helpers import GITHUB_DIR, REPO_ROOT

RESOLVE = local_resolver(REPO_ROOT)
WORKFLOWS = sorted((GITHUB_DIR / "workflows").glob("*.yml"))
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.DOTALL | re.MULTILINE)
CI = GITHUB_DIR / "workflows" / "ci.yml"
# The checks a pull request must pass (the report is informational: it runs after them and only comments).
REQUIRED = ["code / lint and test", "data / validate data", "pipeline / dvc repro", "quality / quality gate"]


def docs_workflow_examples() -> list[tuple[str, str]]:
    """(`file:line`, text) of every YAML block in README and docs/ that calls a workflow."""
    examples = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in YAML_BLOCK.finditer(text):
            if re.search(r"^\s+uses: \S+/\.github/workflows/", match[1], re.MULTILINE):
                line = text[: match.start()].count("\n") + 1
                examples.append((f"{path.relative_to(REPO_ROOT)}:{line}", match[1]))
    return examples


def test_the_docs_hold_workflow_examples() -> None:
    places = [place.split(":")[0] for place, _ in docs_workflow_examples()]
    assert {"docs/workflows.md", "docs/monitoring.md"} <= set(places)


@pytest.mark.parametrize("place,example", docs_workflow_examples(), ids=lambda value: value.split("\n")[0][:40])
def test_every_docs_example_grants_what_its_called_workflows_ask(place: str, example: str) -> None:
    assert permission_errors(example, RESOLVE) == [], place


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_caller_in_the_repository_grants_what_it_calls(path: Path) -> None:
    assert permission_errors(path, RESOLVE) == []


UNDER_GRANTING = """\
jobs:
  pipeline:
    uses: OWNER/REPO/.github/workflows/pipeline.yml@v1
    permissions:
      contents: read
"""


def test_a_caller_that_under_grants_gets_githubs_start_up_error() -> None:
    assert permission_errors(UNDER_GRANTING, RESOLVE) == [
        "Error calling workflow 'OWNER/REPO/.github/workflows/pipeline.yml@v1'. The nested job 'reproduce' is "
        "requesting 'packages: read', but is only allowed 'packages: none'."
    ]


def test_a_grant_narrowed_twice_reaches_the_innermost_job(tmp_path: Path) -> None:
    outer = tmp_path / ".github" / "workflows"
    outer.mkdir(parents=True)
    (outer / "middle.yml").write_text(
        "on: workflow_call\njobs:\n  inner:\n    uses: ./.github/workflows/pipeline.yml\n"
        "    permissions: {contents: read}\n",
        encoding="utf-8",
    )
    (outer / "pipeline.yml").write_text((GITHUB_DIR / "workflows" / "pipeline.yml").read_text(), encoding="utf-8")
    caller = "jobs:\n  call:\n    uses: ./.github/workflows/middle.yml\n    permissions: write-all\n"
    assert permission_errors(caller, local_resolver(tmp_path)) == [
        "Error calling workflow './.github/workflows/pipeline.yml'. The nested job 'reproduce' is "
        "requesting 'packages: read', but is only allowed 'packages: none'."
    ]


# -- required checks: the names GitHub shows ------------------------------------------------------------------------


def test_ci_reports_its_checks_as_caller_slash_job() -> None:
    assert check_names(CI, RESOLVE) == [*REQUIRED, "report / report"]


def paragraphs(path: Path) -> list[str]:
    return re.split(r"\n\s*\n|\n(?=\s*\d+\. |\s*- )", path.read_text(encoding="utf-8"))


def test_no_doc_asks_to_require_a_check_by_its_bare_job_id() -> None:
    caller_ids = set(yaml.safe_load(CI.read_text(encoding="utf-8"))["jobs"])
    bare = [
        f"{path.relative_to(REPO_ROOT)}: `{name}`"
        for path in DOCS
        for paragraph in paragraphs(path)
        if re.search(r"\brequire", paragraph, re.IGNORECASE) and "check" in paragraph
        for name in re.findall(r"`([^`]+)`", paragraph)
        if name in caller_ids
    ]
    assert bare == []


@pytest.mark.parametrize("name", ["README.md", "docs/template.md"])
def test_the_checklist_names_every_required_check_as_github_shows_it(name: str) -> None:
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    assert [check for check in REQUIRED if f"`{check}`" not in text] == []


def test_every_check_name_in_the_docs_is_one_ci_reports() -> None:
    known = set(check_names(CI, RESOLVE))
    named = {name for path in DOCS for name in re.findall(r"`([\w -]+ / [\w -]+)`", path.read_text(encoding="utf-8"))}
    assert sorted(named - known) == []


# -- environment secrets in a called workflow ------------------------------------------------------------------------


def test_release_passes_its_secrets_to_the_staging_deploy() -> None:
    release = GITHUB_DIR / "workflows" / "release.yml"
    assert secret_errors(release, RESOLVE) == []
    assert yaml.safe_load(release.read_text(encoding="utf-8"))["jobs"]["staging"]["secrets"] == "inherit"


def test_a_deploy_call_without_secrets_is_named_with_what_goes_empty() -> None:
    caller = "jobs:\n  staging:\n    uses: ./.github/workflows/deploy.yml\n    with: {environment: staging}\n"
    assert secret_errors(caller, RESOLVE) == [
        "job 'staging' calls ./.github/workflows/deploy.yml without `secrets:`: its job 'promote' reads "
        "DEPLOY_SECRETS from its environment, which GitHub leaves empty in a called workflow (pass `secrets: inherit`)"
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_caller_passes_secrets_to_a_workflow_that_reads_environment_secrets(path: Path) -> None:
    assert secret_errors(path, RESOLVE) == []


# -- the DVC remote's credentials reach every job that reads the remote ----------------------------------------------

# What pulls from the DVC remote: `make data` (and the targets that run it first) and `dvc pull`.
PULLS = re.compile(r"\bmake (data|repro|report|monitor|release-model)\b|\bdvc pull\b")


def test_every_job_that_reads_the_dvc_remote_gets_its_credentials() -> None:
    missing = []
    for path in WORKFLOWS:
        for job_id, job in (yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]).items():
            steps = job.get("steps", [])
            if not any(PULLS.search(str(step.get("run", ""))) for step in steps):
                continue
            setup = [step for step in steps if step.get("uses") == "./.github/actions/setup"]
            given = [(step.get("with") or {}).get("dvc-credentials") for step in setup]
            # image.yml reproduces inside the image (`docker run`): the step's env gives them to the container
            given += [
                (step.get("env") or {}).get("DVC_REMOTE_CREDENTIALS")
                for step in steps
                if PULLS.search(str(step.get("run", ""))) and "docker run" in step["run"]
            ]
            if given != ["${{ secrets.DVC_REMOTE_CREDENTIALS }}"]:
                missing.append(f"{path.name}: {job_id}")
    assert missing == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_caller_passes_the_secrets_its_called_workflow_declares(path: Path) -> None:
    assert unpassed_secrets(path, RESOLVE) == []


@pytest.mark.parametrize("place,example", docs_workflow_examples(), ids=lambda value: value.split("\n")[0][:40])
def test_every_docs_example_passes_the_secrets_its_called_workflows_declare(place: str, example: str) -> None:
    assert unpassed_secrets(example, RESOLVE) == [], place


def test_a_call_that_drops_a_declared_secret_is_named() -> None:
    caller = "jobs:\n  data:\n    uses: ./.github/workflows/data.yml\n    permissions: {contents: read}\n"
    assert unpassed_secrets(caller, RESOLVE) == [
        "job 'data' calls ./.github/workflows/data.yml without passing its secret DVC_REMOTE_CREDENTIALS: "
        "it is empty there"
    ]

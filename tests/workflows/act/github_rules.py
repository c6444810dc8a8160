"""GitHub's rules that act does not apply, checked on the workflow files themselves.

- A called workflow's token is the caller job's grant narrowed, never widened: a nested job that asks for more than
  the caller grants makes GitHub reject the whole run at start-up (`permission_errors`, with GitHub's message).
- A job of a called workflow reports its check as `<caller job name> / <called job name>` (`check_names`): that is
  the name a branch rule must require.
- Environment secrets reach a called workflow's job only when the caller passes secrets (`secret_errors`).

The act harness runs `permission_errors` and `secret_errors` before every run, as GitHub does at start-up; the
workflow tests run them on the repository's workflows and on every workflow example in README and docs/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import yaml

LEVELS = {"none": 0, "read": 1, "write": 2}
# `metadata: read` is every token's and cannot be asked for; these are the scopes a `permissions:` block names.
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
# `owner/repo/.github/workflows/x.yml@ref` or `./.github/workflows/x.yml`
CALLED_WORKFLOW = re.compile(r"^(?:[\w.-]+/[\w.-]+/|\./)(?P<path>\.github/workflows/[\w.-]+\.ya?ml)(?:@\S+)?$")

Resolver = Callable[[str], "Path | None"]


def permission_map(permissions: object) -> dict[str, str] | None:
    """A `permissions:` value as scope -> level (`read-all`, `write-all` and `{}` expanded); None when absent."""
    if permissions is None:
        return None
    if permissions in ("read-all", "write-all"):
        return {scope: str(permissions).split("-")[0] for scope in SCOPES}
    return {scope: str(level) for scope, level in dict(permissions).items()}


def job_permissions(workflow: dict, job: dict) -> dict[str, str] | None:
    """The grant a job runs with: its own block, else the workflow's; None: the repository's default token."""
    own = permission_map(job.get("permissions"))
    return own if own is not None else permission_map(workflow.get("permissions"))


def local_resolver(repo_root: Path) -> Resolver:
    """Resolve `uses:` of a workflow (this repository's `./` form or any `owner/repo/...@ref`) to `repo_root`'s file:
    the docs' `OWNER/REPO/.github/workflows/x.yml@v1` examples call this repository's workflows."""

    def resolve(uses: str) -> Path | None:
        match = CALLED_WORKFLOW.match(uses)
        if match is None:
            return None
        path = repo_root / match["path"]
        return path if path.is_file() else None

    return resolve


def load(source: Path | str) -> dict:
    """A workflow from a file or from YAML text."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    return yaml.safe_load(text) or {}


def permission_errors(source: Path | str, resolve: Resolver) -> list[str]:
    """GitHub's start-up errors for every caller job in `source` whose called workflow (recursively) asks for more
    than the caller job grants. A caller with no grant anywhere (the repository's default token) is not checked."""
    workflow = load(source)
    errors = []
    for job in (workflow.get("jobs") or {}).values():
        called = resolve(job["uses"]) if isinstance(job, dict) and "uses" in job else None
        grant = job_permissions(workflow, job) if called is not None else None
        if grant is not None:
            errors += nested_errors(job["uses"], called, grant, resolve)
    return errors


def nested_errors(uses: str, called: Path, grant: dict[str, str], resolve: Resolver) -> list[str]:
    """The errors of one call: each job of `called` (and of what it calls in turn) against `grant`."""
    workflow = load(called)
    errors = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        asked = job_permissions(workflow, job) or {}
        for scope, level in sorted(asked.items()):
            allowed = grant.get(scope, "none")
            if LEVELS.get(level, 0) > LEVELS.get(allowed, 0):
                errors.append(
                    f"Error calling workflow '{uses}'. The nested job '{job_id}' is requesting "
                    f"'{scope}: {level}', but is only allowed '{scope}: {allowed}'."
                )
        inner = resolve(job["uses"]) if "uses" in job else None
        if inner is not None:
            narrowed = {scope: min(level, grant.get(scope, "none"), key=LEVELS.get) for scope, level in asked.items()}
            errors += nested_errors(job["uses"], inner, narrowed, resolve)
    return errors


def secret_errors(source: Path | str, resolve: Resolver) -> list[str]:
    """Caller jobs that pass no `secrets:` to a called workflow whose jobs run in an environment and read secrets:
    on GitHub those environment secrets resolve empty (only `github.token` reaches the called workflow)."""
    workflow = load(source)
    errors = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        called = resolve(job["uses"]) if isinstance(job, dict) and "uses" in job else None
        if called is None or "secrets" in job:
            continue
        for called_id, called_job in (load(called).get("jobs") or {}).items():
            reads = sorted(set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(called_job))) - {"GITHUB_TOKEN"})
            if called_job.get("environment") and reads:
                errors.append(
                    f"job '{job_id}' calls {job['uses']} without `secrets:`: its job '{called_id}' reads "
                    f"{', '.join(reads)} from its environment, which GitHub leaves empty in a called workflow "
                    "(pass `secrets: inherit`)"
                )
    return errors


def unpassed_secrets(source: Path | str, resolve: Resolver) -> list[str]:
    """Caller jobs that do not pass a secret their called workflow declares (`on.workflow_call.secrets`): GitHub
    does not complain about an optional one, it is just empty there."""
    workflow = load(source)
    errors = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        called = resolve(job["uses"]) if isinstance(job, dict) and "uses" in job else None
        if called is None or job.get("secrets") == "inherit":
            continue
        on = load(called).get("on", load(called).get(True)) or {}
        declared = ((on.get("workflow_call") or {}) if isinstance(on, dict) else {}).get("secrets") or {}
        for name in sorted(set(declared) - set(job.get("secrets") or {})):
            errors.append(f"job '{job_id}' calls {job['uses']} without passing its secret {name}: it is empty there")
    return errors


def check_names(source: Path | str, resolve: Resolver) -> list[str]:
    """The check names the jobs of `source` report on a commit, as GitHub shows them (a called workflow's job as
    `<caller job name> / <called job name>`; a name is the job's `name:`, else its id)."""
    workflow = load(source)
    names = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        caller = str(job.get("name", job_id))
        called = resolve(job["uses"]) if "uses" in job else None
        if called is None:
            names.append(caller)
            continue
        names += [f"{caller} / {inner}" for inner in check_names(called, resolve)]
    return names

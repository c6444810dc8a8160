"""Offline static checks of the workflows, actions and dependabot config: actionlint (+shellcheck), zizmor,
check-jsonschema, and the repository's own hardening rules. Each check is also run on a deliberately bad workflow to
prove it can fail."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from helpers import GITHUB_DIR, REPO_ROOT, tool

FULL_SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[^@]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"uses:\s*(?P<value>[^\s#'\"]+(?:\s*#.*)?)$")

BAD_WORKFLOW = """\
name: bad
on:
  pull_request_target:
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}" > $GITHUB_STEP_SUMMARY
"""


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)


@pytest.fixture
def bad_workflow(tmp_path: Path) -> Path:
    path = tmp_path / ".github" / "workflows" / "bad.yml"
    path.parent.mkdir(parents=True)
    path.write_text(BAD_WORKFLOW, encoding="utf-8")
    return path


# -- actionlint with shellcheck --------------------------------------------------------------------------------------


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return run([tool("actionlint"), "-shellcheck", tool("shellcheck"), "-no-color", *map(str, paths)])


def test_actionlint_with_shellcheck_finds_nothing(workflow_paths: list[Path]) -> None:
    result = actionlint(*workflow_paths)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_actionlint_reports_shellcheck_and_injection_findings(bad_workflow: Path) -> None:
    result = actionlint(bad_workflow)
    assert result.returncode == 1
    assert "shellcheck reported issue in this script: SC2086" in result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout


# -- zizmor ----------------------------------------------------------------------------------------------------------


def zizmor(path: Path) -> subprocess.CompletedProcess:
    return run([tool("zizmor"), "--offline", "--min-severity=low", "--no-progress", str(path)])


def test_zizmor_offline_finds_nothing_at_low_or_above() -> None:
    result = zizmor(GITHUB_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_as_an_auditor_finds_nothing_either() -> None:
    """The auditor persona adds the pedantic audits (undocumented permissions, missing concurrency limits)."""
    result = run([tool("zizmor"), "--offline", "--persona=auditor", "--no-progress", str(GITHUB_DIR)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_reports_dangerous_trigger_and_template_injection(bad_workflow: Path) -> None:
    result = zizmor(bad_workflow)
    assert result.returncode != 0
    for audit in ("dangerous-triggers", "template-injection", "artipacked", "excessive-permissions"):
        assert f"[{audit}]" in result.stdout


def test_every_disabled_zizmor_audit_is_justified() -> None:
    lines = (GITHUB_DIR / "zizmor.yml").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() == "disable: true":
            audit_line = number - 1
            assert lines[audit_line - 1].lstrip().startswith("#"), f"zizmor.yml: {lines[audit_line]} lacks a reason"


# -- check-jsonschema ------------------------------------------------------------------------------------------------


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    return run([tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)])


def test_schemas_accept_workflows_actions_and_dependabot(workflow_paths: list[Path], action_paths: list[Path]) -> None:
    for schema, paths in (
        ("vendor.github-workflows", workflow_paths),
        ("vendor.github-actions", action_paths),
        ("vendor.dependabot", [GITHUB_DIR / "dependabot.yml"]),
    ):
        result = check_jsonschema(schema, *paths)
        assert result.returncode == 0, f"{schema}: {result.stdout}{result.stderr}"


def test_workflow_schema_rejects_a_job_without_a_runner(tmp_path: Path) -> None:
    path = tmp_path / "no-runner.yml"
    path.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: make\n", encoding="utf-8")
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 1
    assert "Schema validation errors were encountered" in result.stdout + result.stderr


# -- the repository's hardening rules (STYLE.md, "Workflows read like the code") -------------------------------------


def triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    return {on: None} if isinstance(on, str) else dict(on or {})


def hardening_problems(path: Path) -> list[str]:
    """Every breach of the hardening rules in one workflow file, as `file: problem` lines."""
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    name, problems = path.name, []
    if workflow.get("permissions") != {}:
        problems.append(f"{name}: top-level `permissions: {{}}` missing")
    if (workflow.get("defaults") or {}).get("run", {}).get("shell") != "bash" and any(
        "steps" in job for job in workflow["jobs"].values()
    ):
        problems.append(f"{name}: `defaults: run: shell: bash` missing")
    on = triggers(workflow)
    if "pull_request_target" in on:
        problems.append(f"{name}: pull_request_target is not allowed")
    for job_id, job in workflow["jobs"].items():
        if "permissions" not in job:
            problems.append(f"{name}: job {job_id} has no explicit permissions")
        # Only this repository's own workflow may inherit (an environment's secrets reach a called job no other way).
        if job.get("secrets") == "inherit" and not str(job.get("uses", "")).startswith("./"):
            problems.append(f"{name}: job {job_id} passes `secrets: inherit` to another repository's workflow")
        if "uses" not in job and "timeout-minutes" not in job:
            problems.append(f"{name}: job {job_id} has no timeout-minutes")
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                if (step.get("with") or {}).get("persist-credentials") is not False:
                    problems.append(f"{name}: job {job_id} checks out without `persist-credentials: false`")
    problems += [f"{name}: {p}" for p in pin_problems(text)]
    if "workflow_call" in on:
        for input_name, spec in ((on["workflow_call"] or {}).get("inputs") or {}).items():
            missing = [key for key in ("description", "type", "required", "default") if key not in spec]
            if missing:
                problems.append(f"{name}: input {input_name} lacks {', '.join(missing)}")
    runs_steps = any("steps" in job for job in workflow["jobs"].values())
    if runs_steps and ("GX_ANALYTICS_ENABLED" not in text or "DVC_NO_ANALYTICS" not in text):
        problems.append(f"{name}: GX and DVC analytics are not switched off")
    return problems


def pin_problems(text: str) -> list[str]:
    """Remote actions not pinned to a full commit SHA with a `# vX.Y.Z` comment."""
    problems = []
    for line in text.splitlines():
        match = USES_LINE.search(line.strip())
        if match is None or match["value"].startswith(("./", "docker://")):
            continue
        if not FULL_SHA_PIN.match(match["value"]):
            problems.append(f"`{match['value']}` is not pinned to a full SHA with a # vX.Y.Z comment")
    return problems


def test_every_workflow_follows_the_hardening_rules(workflow_paths: list[Path]) -> None:
    assert [problem for path in workflow_paths for problem in hardening_problems(path)] == []


def test_every_composite_action_pins_its_remote_actions(action_paths: list[Path]) -> None:
    assert [problem for path in action_paths for problem in pin_problems(path.read_text(encoding="utf-8"))] == []


def test_hardening_rules_catch_every_breach_in_a_bad_workflow(bad_workflow: Path) -> None:
    assert hardening_problems(bad_workflow) == [
        "bad.yml: top-level `permissions: {}` missing",
        "bad.yml: `defaults: run: shell: bash` missing",
        "bad.yml: pull_request_target is not allowed",
        "bad.yml: job greet has no explicit permissions",
        "bad.yml: job greet has no timeout-minutes",
        "bad.yml: job greet checks out without `persist-credentials: false`",
        "bad.yml: `actions/checkout@v4` is not pinned to a full SHA with a # vX.Y.Z comment",
        "bad.yml: GX and DVC analytics are not switched off",
    ]


def test_ci_chains_data_before_training_and_reads_the_gpu_runner_variable() -> None:
    ci = yaml.safe_load((GITHUB_DIR / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert set(triggers(ci)) == {"pull_request", "push", "workflow_dispatch"}
    assert ci["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # GitHub cancels a group's pending run when a third arrives: only a PR's runs share a group.
    assert ci["concurrency"]["group"] == (
        "${{ github.workflow }}-${{ github.event.pull_request.number && format('pr-{0}', "
        "github.event.pull_request.number) || format('run-{0}', github.run_id) }}"
    )
    jobs = ci["jobs"]
    assert jobs["pipeline"]["needs"] == "data"
    assert jobs["pipeline"]["with"]["runs-on"] == "${{ vars.GPU_RUNNER || 'ubuntu-latest' }}"
    assert jobs["quality"]["needs"] == "pipeline"
    assert jobs["report"]["needs"] == ["code", "data", "pipeline", "quality"]
    assert jobs["report"]["with"] == {
        "pipeline-artifact": "pipeline-outputs",
        "validation-artifact": "data-validation",
        "quality-artifact": "quality-gate",
    }
    assert jobs["report"]["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_the_training_job_container_is_optional_and_pulls_ghcr_images_with_the_job_token() -> None:
    ci = yaml.safe_load((GITHUB_DIR / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    pipeline = yaml.safe_load((GITHUB_DIR / "workflows" / "pipeline.yml").read_text(encoding="utf-8"))
    caller = ci["jobs"]["pipeline"]
    assert caller["with"]["container"] == "${{ vars.GPU_CONTAINER || '' }}"
    assert caller["with"]["container-options"] == "${{ vars.GPU_CONTAINER_OPTIONS || '' }}"
    job = pipeline["jobs"]["reproduce"]
    # A mapping whose empty image means "no container" on GitHub; act would read a whole-object expression as an
    # image named "Object".
    assert job["container"] == {"image": "${{ inputs.container }}", "options": "${{ inputs.container-options }}"}
    assert job["permissions"] == caller["permissions"] == {"contents": "read", "packages": "read"}


def test_dependabot_covers_actions_uv_docker_and_npm_grouped_with_a_cooldown() -> None:
    config = yaml.safe_load((GITHUB_DIR / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"github-actions", "uv", "docker", "npm"}
    for ecosystem, update in updates.items():
        assert update.get("groups"), f"{ecosystem} updates are not grouped"
        assert update.get("cooldown", {}).get("default-days", 0) >= 3, f"{ecosystem} has no cooldown"


# -- docs: the reuse example is a caller that lints ------------------------------------------------------------------

README_EXAMPLE = re.compile(r"```yaml\n(# \.github/workflows/ci\.yml of a repository created from .*?)```", re.DOTALL)


def test_readme_reuse_example_is_a_valid_caller(tmp_path: Path) -> None:
    match = README_EXAMPLE.search((REPO_ROOT / "docs" / "workflows.md").read_text(encoding="utf-8"))
    assert match, "docs/workflows.md lost its example of calling the workflows from another repository"
    caller = tmp_path / ".github" / "workflows" / "ci.yml"
    caller.parent.mkdir(parents=True)
    caller.write_text(match[1], encoding="utf-8")
    assert "uses: OWNER/REPO/.github/workflows/pipeline.yml@v1" in match[1]
    ci = yaml.safe_load((GITHUB_DIR / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    assert yaml.safe_load(match[1])["concurrency"] == ci["concurrency"]
    lint = actionlint(caller)
    assert (lint.returncode, lint.stdout) == (0, "")
    assert check_jsonschema("vendor.github-workflows", caller).returncode == 0
    # the example shows the `@v1` form; README asks to pin it to a SHA like any third-party reference
    assert [problem for problem in hardening_problems(caller) if "is not pinned" not in problem] == []


# -- supply chain and secrets of the GPU runner, the image and the fork report poster --------------------------------

HARDENED_WORKFLOWS = sorted(path.name for path in (GITHUB_DIR / "workflows").glob("*.yml"))
CML_DIR = GITHUB_DIR / "cml"


@pytest.mark.parametrize("name", HARDENED_WORKFLOWS)
def test_zizmor_auditor_persona_finds_nothing_at_medium_or_above(name: str) -> None:
    path = GITHUB_DIR / "workflows" / name
    result = run([tool("zizmor"), "--offline", "--persona=auditor", "--min-severity=medium", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_gpu_runner_installs_cml_from_the_lockfile_and_keeps_cloud_secrets_in_an_environment() -> None:
    text = (GITHUB_DIR / "workflows" / "gpu-runner.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert "npx" not in text
    launch = workflow["jobs"]["launch"]
    install = next(step for step in launch["steps"] if step.get("name") == "Install the CML CLI from the lockfile")
    assert install["working-directory"] == ".github/cml"
    assert "npm ci --ignore-scripts" in install["run"]
    for name, job in workflow["jobs"].items():
        # the DVC remote's credentials are the repository's (docs/template.md), not the cloud's
        if "secrets." in yaml.safe_dump(job).replace("secrets.DVC_REMOTE_CREDENTIALS", ""):
            assert job.get("environment") == "cml-cloud", f"job {name} reads secrets outside the cml-cloud environment"
    assert "secrets." not in yaml.safe_dump({key: workflow[key] for key in workflow if key != "jobs"})
    package = json.loads((CML_DIR / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"] == {"@dvcorg/cml": "0.20.6"}  # exact: no range


def test_a_copy_gets_the_cml_lockfile_from_a_manual_workflow_that_opens_a_pull_request() -> None:
    workflow = yaml.safe_load((GITHUB_DIR / "workflows" / "cml-lock.yml").read_text(encoding="utf-8"))
    assert set(triggers(workflow)) == {"workflow_dispatch"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = {step["name"]: step for step in job["steps"]}
    lock = steps["Write the lockfile (npm install --package-lock-only)"]
    assert lock["working-directory"] == ".github/cml"
    assert "npm install --package-lock-only --ignore-scripts" in lock["run"]
    assert "git add .github/cml/package-lock.json" in steps["Commit and push the branch"]["run"]
    assert "gh pr create" in steps["Open the pull request"]["run"]
    gpu = (GITHUB_DIR / "workflows" / "gpu-runner.yml").read_text(encoding="utf-8")
    assert "run the cml-lock workflow (Actions > cml-lock > Run workflow) and merge its pull request" in gpu


def test_training_is_queued_only_once_the_cloud_runner_is_online() -> None:
    # A job no runner takes waits up to 24 h, and teardown needs train: never queue train for a runner that is not up.
    workflow = yaml.safe_load((GITHUB_DIR / "workflows" / "gpu-runner.yml").read_text(encoding="utf-8"))
    launch, teardown = workflow["jobs"]["launch"], workflow["jobs"]["teardown"]
    names = [step["name"] for step in launch["steps"]]
    assert names[-2:] == ["cml runner launch", "Wait for the runner to come online"]
    wait = launch["steps"][-1]
    assert wait["env"]["GH_TOKEN"] == "${{ secrets.CML_REPO_TOKEN }}"
    assert int(wait["env"]["WAIT_SECONDS"]) // 60 < launch["timeout-minutes"]
    assert '.status == \\"online\\"' in wait["run"]
    assert "did not come online within $((WAIT_SECONDS / 60)) minutes: training is not queued" in wait["run"]
    assert workflow["jobs"]["train"]["needs"] == ["check", "launch"]
    assert teardown["if"] == "always() && needs.check.outputs.enabled == 'true'"


def test_gpu_runner_label_is_random_per_run_not_derived_from_the_run_id() -> None:
    text = (GITHUB_DIR / "workflows" / "gpu-runner.yml").read_text(encoding="utf-8")
    check = yaml.safe_load(text)["jobs"]["check"]
    assert check["outputs"]["label"] == "${{ steps.label.outputs.label }}"
    label_step = next(step for step in check["steps"] if step.get("id") == "label")
    assert label_step["run"] == 'echo "label=cml-gpu-$(openssl rand -hex 16)" >> "$GITHUB_OUTPUT"'
    assert "github.run_id" not in text and "RUNNER_LABEL: cml-gpu" not in text


@pytest.mark.skipif(
    not (CML_DIR / "package-lock.json").exists(),
    reason="no .github/cml/package-lock.json yet: the npm registry reachable here has no @dvcorg/cml (404)",
)
def test_cml_lockfile_pins_every_package_with_an_integrity_hash() -> None:
    lock = json.loads((CML_DIR / "package-lock.json").read_text(encoding="utf-8"))
    packages = {path: entry for path, entry in lock["packages"].items() if path}
    assert packages["node_modules/@dvcorg/cml"]["version"] == "0.20.6"
    unpinned = [path for path, entry in packages.items() if not entry.get("link") and not entry.get("integrity")]
    assert unpinned == []


def test_base_images_the_image_workflow_builds_on_are_pinned_by_digest_where_dependabot_updates_them() -> None:
    workflow = yaml.safe_load((GITHUB_DIR / "workflows" / "image.yml").read_text(encoding="utf-8"))
    files = [entry["base-file"] for entry in workflow["jobs"]["publish"]["strategy"]["matrix"]["include"]]
    assert files == [".github/base-images/cpu/Dockerfile", ".github/base-images/cuda/Dockerfile"]
    for name in files:
        froms = re.findall(r"^FROM\s+(\S+)", (GITHUB_DIR.parent / name).read_text(encoding="utf-8"), re.MULTILINE)
        assert len(froms) == 1 and re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", froms[0]), (name, froms)
    dependabot = yaml.safe_load((GITHUB_DIR / "dependabot.yml").read_text(encoding="utf-8"))
    (docker,) = [entry for entry in dependabot["updates"] if entry["package-ecosystem"] == "docker"]
    assert sorted(docker["directories"]) == ["/", "/.github/base-images/cpu", "/.github/base-images/cuda"]


def test_no_workflow_reads_a_metric_by_name() -> None:
    # A regression's metrics are mae/rmse, a classifier's accuracy/macro_f1: workflows pass the metrics file on as a
    # whole (pipeline.yml's `metrics` output) and let `mlci` read the names the task has.
    named = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in sorted(GITHUB_DIR.rglob("*"))
        if path.is_file() and path.suffix in (".yml", ".yaml", ".sh", ".py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\b(accuracy|macro_f1|macro-f1|mae|rmse)\b", line)
    ]
    assert named == []


def test_the_template_runs_its_plumbing_tests_on_github_but_no_pull_request_waits_for_the_slow_ones() -> None:
    workflow = yaml.safe_load((GITHUB_DIR / "workflows" / "template-tests.yml").read_text(encoding="utf-8"))
    on = triggers(workflow)
    assert set(on) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert {".github/**", "tests/workflows/**", "tests/template/**", "tests/docker/**", "Makefile"} <= set(
        on["pull_request"]["paths"]
    )
    plumbing, full = workflow["jobs"]["plumbing"], workflow["jobs"]["full"]
    assert plumbing["if"] == "github.event.repository.is_template && github.event_name != 'schedule'"
    (fast,) = [step for step in plumbing["steps"] if "make test-fast" in step.get("run", "")]
    assert fast["env"] == {"MLCI_TEMPLATE_TESTS": "1", "MLCI_TEST_SCOPE": "full"}
    assert fast["run"] == 'make test-fast PYTEST_ARGS="tests/workflows tests/template tests/docker"'
    assert full["if"] == "github.event.repository.is_template && github.event_name != 'pull_request'"
    assert full["steps"][-1]["run"] == ".ci/run"
    assert "MLCI_TEMPLATE_TESTS=1 make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def workflow_steps(name: str, job: str) -> list[dict]:
    return yaml.safe_load((GITHUB_DIR / "workflows" / name).read_text(encoding="utf-8"))["jobs"][job]["steps"]


def test_a_job_image_that_cannot_write_the_workspace_stops_first_with_the_user_option_to_add() -> None:
    first = workflow_steps("pipeline.yml", "reproduce")[0]
    assert first["name"] == "Check the job can write its workspace"
    assert 'owner="$(stat -c %u "$GITHUB_WORKSPACE")"' in first["run"]
    assert ': >> "$GITHUB_OUTPUT"' in first["run"]
    assert (
        "::error::this job runs as uid $(id -u), which cannot write the workspace (owned by uid $owner): add "
        "\\`--user $owner\\` to the job image's options" in first["run"]
    )
    gpu = yaml.safe_load((GITHUB_DIR / "workflows" / "gpu-runner.yml").read_text(encoding="utf-8"))
    assert gpu["jobs"]["train"]["with"]["container-options"] == "--gpus all --user root"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_the_workspace_check_names_the_uid_to_run_as() -> None:
    # The step itself, as a job image's user (uid 65534) in a workspace the runner (root) created; not in tmp_path,
    # whose parents (pytest-of-root/) that user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="workspace-check-"))
    try:
        root.chmod(0o755)
        workspace, output = root / "workspace", root / "output"
        workspace.mkdir(mode=0o755)
        output.touch(mode=0o644)
        script = workflow_steps("pipeline.yml", "reproduce")[0]["run"]
        env = {"PATH": os.environ["PATH"], "GITHUB_WORKSPACE": str(workspace), "GITHUB_OUTPUT": str(output)}
        as_image_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        refused = subprocess.run([*as_image_user, "bash", "-e", "-c", script], env=env, capture_output=True, text=True)
        allowed = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(root)
    assert (refused.returncode, refused.stdout) == (
        1,
        "::error::this job runs as uid 65534, which cannot write the workspace (owned by uid 0): add `--user 0` to "
        "the job image's options (the repository variable GPU_CONTAINER_OPTIONS, or the caller's container-options)\n",
    )
    assert (allowed.returncode, allowed.stdout) == (0, "")


def test_the_saved_dvc_cache_holds_only_this_commits_outputs() -> None:
    steps = {step["name"]: (index, step) for index, step in enumerate(workflow_steps("pipeline.yml", "reproduce"))}
    gc_index, gc = steps["Keep only this commit's outputs in the DVC cache (dvc gc)"]
    save_index, save = steps["Save the DVC cache"]
    assert gc["run"] == "dvc gc --workspace --force --quiet"
    assert gc_index < save_index and gc["if"] == save["if"]


def test_a_tag_github_started_no_release_for_can_be_released_by_hand_from_that_tag() -> None:
    release = yaml.safe_load((GITHUB_DIR / "workflows" / "release.yml").read_text(encoding="utf-8"))
    assert set(triggers(release)) == {"push", "workflow_dispatch"}
    version = next(step for step in release["jobs"]["model"]["steps"] if step.get("id") == "version")
    assert version["env"]["REF_TYPE"] == "${{ github.ref_type }}"
    assert (
        "::error::run the release from a tag, not the branch $TAG: Run workflow > Use workflow from > Tags > vX.Y.Z"
        in version["run"]
    )

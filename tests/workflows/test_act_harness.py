"""The act harness without running act: stand-in discovery, the command line it builds, the environment it passes."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from act_harness import (
    STAND_INS,
    ActRun,
    ActSettings,
    MissingStandIn,
    act_command,
    clean_environment,
    find_remote_actions,
    local_repository_flags,
    prepare_work_dir,
    pull_request_event,
)
from docker_api import NoDockerApi, docker_api
from helpers import ACT_DIR, GITHUB_DIR, REPO_ROOT, tool

SHA = "0123456789abcdef0123456789abcdef01234567"


def pinned_repos() -> set[str]:
    """owner/repo of every remote `uses:` in .github/, read independently of the harness."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in GITHUB_DIR.rglob("*.yml"))
    return {m[1] for m in re.finditer(r"uses:\s*([\w.-]+/[\w.-]+)(?:/[^@\s]*)?@[0-9a-f]{40}", text)}


def test_discovery_finds_every_remote_action_of_the_repository() -> None:
    assert {action.repo for action in find_remote_actions(REPO_ROOT)} == pinned_repos()


def test_every_remote_action_the_pr_workflow_reaches_has_a_stand_in() -> None:
    reached = find_remote_actions(REPO_ROOT, ".github/workflows/ci.yml")
    assert {"actions/checkout", "actions/setup-python", "actions/cache"} <= {action.repo for action in reached}
    for action in reached:
        assert (action.stand_in / "action.yml").is_file(), action


def test_an_action_the_run_cannot_reach_needs_no_stand_in(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("jobs:\n  a:\n    uses: ./.github/workflows/called.yml\n", encoding="utf-8")
    (workflows / "called.yml").write_text(f"steps:\n  - uses: actions/checkout@{SHA} # v5.1.0\n", encoding="utf-8")
    (workflows / "other.yml").write_text(f"steps:\n  - uses: someone/tool@{SHA} # v1.0.0\n", encoding="utf-8")
    flags = local_repository_flags(tmp_path, ".github/workflows/ci.yml")
    assert flags == ["--local-repository", f"actions/checkout@{SHA}={STAND_INS / 'actions__checkout'}"]


def test_each_stand_in_has_an_action_and_says_what_it_does_not_do() -> None:
    for folder in sorted(path for path in STAND_INS.iterdir() if path.is_dir()):
        assert (folder / "action.yml").is_file(), folder
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert re.search(r"\bNOT\b", readme), f"{folder.name}/README.md does not say what the stand-in does NOT do"


def test_a_remote_action_without_stand_in_stops_with_the_folder_to_add(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "x.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(f"jobs:\n  a:\n    steps:\n      - uses: someone/tool/sub@{SHA} # v1.0.0\n", encoding="utf-8")
    with pytest.raises(MissingStandIn) as error:
        local_repository_flags(tmp_path, ".github/workflows/x.yml")
    assert str(error.value) == (
        f"no act stand-in for someone/tool@{SHA} (used in .github/workflows/x.yml): "
        "add tests/workflows/act/stand-ins/someone__tool/action.yml and a README.md saying what it does not do"
    )


def test_local_and_docker_references_need_no_stand_in(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "x.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("steps:\n  - uses: ./.github/actions/setup\n  - uses: docker://alpine:3\n", encoding="utf-8")
    assert find_remote_actions(tmp_path) == []


def test_the_command_runs_offline_on_loopback_with_an_empty_token(tmp_path: Path) -> None:
    command = act_command(ActSettings(REPO_ROOT, tmp_path, venv=Path("/opt/venv")))
    joined = " ".join(command)
    assert "--platform ubuntu-latest=-self-hosted" in joined
    assert "--secret GITHUB_TOKEN=" in joined
    assert "--artifact-server-addr 127.0.0.1" in joined and "--cache-server-addr 127.0.0.1" in joined
    assert f"--artifact-server-path {tmp_path.resolve()}/artifacts" in joined
    assert "--env VENV=/opt/venv" in joined
    assert joined.count("--local-repository") == len(find_remote_actions(REPO_ROOT, ".github/workflows/ci.yml"))


def test_container_mode_mounts_the_work_dir_in_every_job_and_passes_no_host_venv(tmp_path: Path) -> None:
    settings = ActSettings(
        REPO_ROOT, tmp_path, platform="catthehacker/ubuntu:act-22.04", container_options=["-v /a:/a:ro"]
    )
    command = act_command(settings)
    options = f"-v {tmp_path.resolve()}:{tmp_path.resolve()} -v /a:/a:ro"
    assert "--platform" in command and "ubuntu-latest=catthehacker/ubuntu:act-22.04" in command
    assert command[command.index("--container-options") + 1] == options
    # pipeline.yml's job has a `container:` key, for which act ignores --container-options: the same options go in
    # through the variable ci.yml reads for that job.
    assert f"GPU_CONTAINER_OPTIONS={options}" in command
    assert "--pull=false" in command
    assert not [item for item in command if item.startswith("VENV=")]


def test_container_mode_makes_the_shared_folders_writable_by_the_image_user(tmp_path: Path) -> None:
    (tmp_path / "cache" / "old").mkdir(parents=True)
    tmp_path.chmod(0o700)
    prepare_work_dir(tmp_path, shared=True)
    assert tmp_path.stat().st_mode & 0o777 == 0o755
    for name in ("artifacts", "summaries", "cache", "cache/old"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o777, name


def test_tokens_and_runner_variables_of_the_calling_shell_never_reach_act(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_ACTIONS", "RUNNER_TEMP", "ACT", "CI", "MAKEFLAGS"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("HOME_IS_KEPT", "yes")
    env = clean_environment()
    assert [
        name for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_ACTIONS", "RUNNER_TEMP", "ACT", "CI") if name in env
    ] == []
    assert "MAKEFLAGS" not in env and env["HOME_IS_KEPT"] == "yes"


def test_every_stand_in_is_a_valid_action_definition() -> None:
    definitions = sorted(str(path) for path in STAND_INS.rglob("action.yml"))
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", *definitions],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_container_mode_without_docker_or_podman_says_what_to_install(tmp_path: Path) -> None:
    empty_path = {"PATH": str(tmp_path)}  # neither docker nor podman can be found
    with pytest.raises(NoDockerApi) as raised:
        with docker_api(empty_path):
            pass
    assert str(raised.value) == (
        "act's container mode needs a Docker API: start Docker, set DOCKER_HOST, or install podman "
        "(apt-get install podman runc); or run on this machine with ACT_PLATFORM=-self-hosted"
    )


def test_a_docker_host_from_the_environment_is_used_as_it_is() -> None:
    with docker_api({"DOCKER_HOST": "unix:///run/user/1000/docker.sock", "PATH": ""}) as extra_env:
        assert extra_env == {}


def test_a_podman_service_that_dies_reports_its_status_and_error(tmp_path: Path) -> None:
    fake_podman = tmp_path / "podman"
    fake_podman.write_text("#!/bin/sh\necho 'Error: cannot open the socket' >&2\nexit 125\n")
    fake_podman.chmod(0o755)
    with pytest.raises(NoDockerApi) as raised:
        with docker_api({"PATH": str(tmp_path)}):
            pass
    assert str(raised.value) == "`podman system service` exited with status 125: Error: cannot open the socket"


def test_the_runner_image_build_without_docker_or_podman_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "dirname").symlink_to(shutil.which("dirname"))  # the one tool the script needs before the check
    result = subprocess.run(
        ["/bin/bash", str(ACT_DIR / "runner-image" / "build.sh"), "runner:tag", "project:tag"],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (2, "error: neither docker nor podman found: install one of them\n")


def commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name, encoding="utf-8")
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, "add", name], cwd=repo, check=True)
    subprocess.run(["git", *identity, "commit", "-q", "-m", name], cwd=repo, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_a_pull_request_payload_from_the_repository_names_its_base_and_head_commits(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "--initial-branch=main"], cwd=repo, check=True)
    base = commit(repo, "a").strip()
    subprocess.run(["git", "switch", "-q", "-c", "my-change"], cwd=repo, check=True)
    head = commit(repo, "b").strip()
    path = pull_request_event(repo, tmp_path / "event.json", base="main")
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["pull_request"]["base"] == {"ref": "main", "sha": base}
    assert payload["pull_request"]["head"] == {"ref": "my-change", "sha": head}
    assert payload["repository"]["is_template"] is False
    command = act_command(ActSettings(repo, tmp_path / "work", event_path=path))
    assert command[command.index("--eventpath") + 1] == str(path)


def test_the_templates_payload_says_so_and_keeps_the_all_zero_base_without_one(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "--initial-branch=act-local"], cwd=repo, check=True)
    commit(repo, "a")
    payload = json.loads(pull_request_event(repo, tmp_path / "event.json", is_template=True).read_text())
    assert payload["repository"]["is_template"] is True
    assert payload["pull_request"]["base"]["sha"] == "0" * 40


def test_a_base_the_repository_does_not_hold_is_an_error_not_a_guess(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "--initial-branch=act-local"], cwd=repo, check=True)
    commit(repo, "a")
    with pytest.raises(ValueError, match="has no 'main'"):
        pull_request_event(repo, tmp_path / "event.json", base="main")
    assert not (tmp_path / "event.json").exists()


def _setup_uv_script() -> str:
    import yaml

    action = yaml.safe_load((STAND_INS / "astral-sh__setup-uv" / "action.yml").read_text(encoding="utf-8"))
    return action["runs"]["steps"][0]["run"]


def test_the_setup_uv_stand_in_installs_uv_only_from_a_hashed_version_file(tmp_path: Path) -> None:
    """Without a uv on PATH and without a version-file, it stops: it never falls back to an unhashed `pip install`."""
    env = {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "VERSION": "0.13.9", "VERSION_FILE": ""}
    env |= {"GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_PATH": str(tmp_path / "path")}
    assert shutil.which("uv", path=env["PATH"]) is None, "a uv in /usr/bin: this test needs a PATH without one"
    done = subprocess.run(["bash", "-c", _setup_uv_script()], env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (
        1,
        "::error::setup-uv stand-in: no uv on PATH and no version-file; it installs uv only from a hash-pinned "
        "requirements file (version-file: requirements/uv.txt), never an unhashed uv==0.13.9",
    )
    assert not (tmp_path / "setup-uv").exists()


def _act_benchmark():
    spec = importlib.util.spec_from_file_location("act_benchmark", REPO_ROOT / "benchmarks" / "act_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["act_benchmark"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_replays_the_runs_job_times_on_githubs_schedule(tmp_path: Path) -> None:
    """act ran `slow` beside `first`, and `second` (needing only `first`) after both; GitHub starts it after `first`."""
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "jobs:\n  first: {}\n  slow: {}\n  second: {needs: first}\n  last: {needs: [second, slow]}\n",
        encoding="utf-8",
    )
    lines = [
        ("act's own start", 0.5),
        ("[first/wf/job] set up", 1.0),
        ("[slow/wf/job] set up", 1.0),
        ("[first/wf/job] done", 11.0),
        ("[slow/wf/job] done", 31.0),
        ("[second/wf/job] set up", 32.0),
        ("[second/wf/job] done", 37.0),
        ("[last/wf/job] set up", 38.0),
        ("[last/wf/job] done", 40.0),
    ]
    run = ActRun(0, "".join(f"{text}\n" for text, _ in lines), 41.0, tmp_path, tuple(at for _, at in lines))
    scheduled, durations = _act_benchmark().github_schedule(run, workflow)
    assert durations == {"first": 10.0, "slow": 30.0, "second": 5.0, "last": 2.0}
    assert scheduled == 1.0 + max(10.0 + 5.0, 30.0) + 2.0

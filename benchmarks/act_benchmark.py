"""Wall time of the pull-request workflow under act: cold (empty caches) and warm (nothing changed: no training).

Two modes, each run cold then warm:
- prebuilt: every job uses this checkout's venv (the harness passes VENV), so `make install` is a no-op; the
  fastest local loop, but it hides the set-up cost every job pays on GitHub. It runs on the working tree in a
  one-commit repository, with the quick code job (one test module, coverage gate off) unless --full-tests is given.
- github: what a pull request costs on GitHub. No venv is prebuilt: every job creates its own and installs the
  locked set with uv (`make install`), from uv's package cache as setup-uv restores it on GitHub (empty for the cold
  run, filled by it for the warm one; the uv on PATH stands in for the one setup-uv downloads). The code job runs as
  code.yml runs it: `make lint`, then `make test` with the coverage gate in the scope code.yml's env gives it, with
  nothing of the quick code job. Two repositories, each with caches of its own, as two repositories on GitHub have:
  - template: the working tree (or --head's commit) in a one-commit repository; the payload says
    `repository.is_template: true`, so code.yml sets MLCI_TEST_SCOPE=full: every test but the template's plumbing
    (MLCI_TEMPLATE_TESTS, which .ci/run sets, is not set on GitHub either).
  - copy: a repository made from the template. `main` holds the template's files (one commit, as "Use this
    template" makes it) and the rename `make rename NAME=<package>_copy` makes on the first push; the pull request, on a
    branch of its own, changes one file of the user's (a test of the package: nothing the pipeline depends on); the
    payload's base sha is `main`'s commit, so `mlci template test-scope` picks the project scope
    (tests/<package>/ and the machinery's smoke, coverage of the package) as it does on GitHub.
  Then `make test` runs straight in each repository, one after the other on the same machine and the same venv
  (the copy installed into it), for the ratio the copy's `make test` takes of the template's (target <= 0.35).

The copy is the reference project renamed, not a swap to other data and model (tests/template/test_swap.py builds
one from a generated data set, a new model, its GX suite and a `make repro`: minutes, and no helper to share). For
the code job that is representative: a swapped copy's code job runs the same `make install` (the same locks), the
same `make lint` over about the same files, and the project scope, whose machinery smoke is the same; a swap changes
which of the project's own tests run (its test_behaviour.py holds the user's facts), so their count differs and is
printed for every code job and every `make test`, beside the scope that was picked.

Printed, never asserted, each figure with the machine's load (os.getloadavg(), 1/5/15 min) before and after it.
Targets on the 2-core reference machine: prebuilt warm <= 60 s and <= 0.3 x cold; github: a copy's PR warm <= 60 s
end to end, cold <= 4 min; a copy's `make test` <= 0.35 x the template's.

    python benchmarks/act_benchmark.py [--mode prebuilt|github|both] [--only template|copy] [--full-tests] [--head]
                                       [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "workflows" / "act"))

from act_harness import (  # noqa: E402
    ActRun,
    ActSettings,
    clean_environment,
    copy_working_tree,
    pull_request_event,
    quick_code_job,
    run_act,
)
from project_copy import (  # noqa: E402 (act_harness puts tests/ on the path)
    IDENTITY,
    PROJECT,
    copy_project,
    install_project,
    venv_on_top_of_this_one,
)

QUICK_CODE_JOB = quick_code_job(f"tests/{PROJECT.package}/test_config.py")
WARM_TARGET_SECONDS = {"prebuilt": 60.0, "github": 60.0}
COLD_TARGET_SECONDS = {"github": 240.0}
WARM_TARGET_RATIO = 0.3
MAKE_TEST_TARGET_RATIO = 0.35
MODES = {
    "prebuilt": "prebuilt venv",
    "github": "GitHub-like: each job runs make install with uv, no prebuilt venv; the code job as code.yml runs it",
}
REPOSITORIES = ("template", "copy")
# A name of the copy's own: spelt out here, this template file would name the copy's project (`make lint` fails that).
COPY_PACKAGE = f"{PROJECT.package}_copy"
COPY_BRANCH = "my-change"
# What no GitHub runner has set: a value from the calling shell would change the test scope or the tests run.
NOT_ON_GITHUB = ("MLCI_TEST_SCOPE", "MLCI_TEMPLATE_TESTS", "PYTEST_ADDOPTS", "PYTEST_ARGS", "COV_FAIL_UNDER")

CODE_JOB = "lint and test"
LOG_LINE = re.compile(r"^\[(?P<job>[^\]]+)\]\s+(?P<text>.*)$")
PYTEST_SUMMARY = re.compile(r"=+ (?P<counts>\d+ (?:passed|failed|skipped|errors?|deselected|xfailed|xpassed)\b.*?) in ")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COVERAGE = re.compile(r"Total coverage: ([\d.]+)%")
SCOPE_LINE = re.compile(r"test scope: (?P<scope>\w+) \((?P<reason>.*)\)\s*$")
STEP_DONE = re.compile(r"Success - Main (?P<step>.+?) \[(?P<duration>[\d.a-zµ]+)\]\s*$")
GO_DURATION = re.compile(r"(?P<value>[\d.]+)(?P<unit>h|ms|m|s|µs|us|ns)")
UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class Measured:
    """One timed thing with the machine's load (1/5/15 min) before and after it."""

    seconds: float
    returncode: int
    log: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def load(self) -> str:
        return "load {} -> {}".format(
            *(" ".join(f"{x:.2f}" for x in load) for load in (self.load_before, self.load_after))
        )


@dataclass(frozen=True)
class Tests:
    """What one pytest run reported: the scope `make test` picked (and why) and pytest's summary line."""

    scope: str
    counts: str
    coverage: str

    @classmethod
    def read(cls, lines: list[str]) -> Tests:
        lines = [ANSI_ESCAPE.sub("", line) for line in lines]  # pytest colours its summary under act
        scopes = [match for line in lines if (match := SCOPE_LINE.search(line))]
        summaries = [match["counts"] for line in lines if (match := PYTEST_SUMMARY.search(line))]
        coverages = [match[1] for line in lines if (match := COVERAGE.search(line))]
        scope = f"{scopes[-1]['scope']} ({scopes[-1]['reason']})" if scopes else "not printed"
        summary = summaries[-1] if summaries else "no pytest summary"
        return cls(scope, summary, f"coverage {coverages[-1]}%" if coverages else "no coverage total")

    @property
    def ran(self) -> int:
        """Tests that ran: passed, failed and errors (not skipped or deselected)."""
        counted = {name: int(number) for number, name in re.findall(r"(\d+) (\w+)", self.counts)}
        return sum(counted.get(name, 0) for name in ("passed", "failed", "error", "errors"))


def measure(run, *args, **kwargs) -> tuple[Measured, object]:
    """Call `run`, with the load read before and after."""
    before = os.getloadavg()
    started = time.perf_counter()
    result = run(*args, **kwargs)
    seconds = time.perf_counter() - started
    if isinstance(result, ActRun):
        seconds, returncode, log = result.seconds, result.returncode, result.log
    else:
        returncode, log = result.returncode, result.stdout
    return Measured(seconds, returncode, log, before, os.getloadavg()), result


def job_lines(run: ActRun, job: str) -> list[str]:
    """The log lines of the job named `job` (act prefixes each with `[<caller>/<workflow>/<job name>]`)."""
    return [m["text"] for line in run.log.splitlines() if (m := LOG_LINE.match(line)) and m["job"].endswith(f"/{job}")]


def step_seconds(lines: list[str]) -> dict[str, float]:
    """Each finished step's duration, as act prints it (a Go duration: `1m2.5s`, `850ms`)."""
    steps = {}
    for line in lines:
        if match := STEP_DONE.search(line):
            parts = GO_DURATION.findall(match["duration"])
            steps[match["step"]] = sum(float(value) * UNIT_SECONDS[unit] for value, unit in parts)
    return steps


def github_schedule(run: ActRun, workflow: Path) -> tuple[float, dict[str, float]]:
    """When the run would have ended with its jobs started as GitHub starts them (each once the jobs it `needs` have
    ended), and each job's time.

    act starts a stage of the chain only when every job of the one before has ended (nektos/act#158), so a job
    waits for all of them, not just for the ones it needs. This replays the run's own job times (first to last log
    line of each caller job of `workflow`) on GitHub's rule. An estimate: under act the jobs shared this machine's
    cores, where on GitHub each has a runner of its own.
    """
    jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
    spans = run.job_spans()
    durations = {job: spans[job][1] - spans[job][0] for job in jobs if job in spans}
    ends: dict[str, float] = {}

    def end(job: str) -> float:
        if job not in ends:
            needs = jobs[job].get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            ends[job] = max((end(need) for need in needs), default=0.0) + durations.get(job, 0.0)
        return ends[job]

    start_up = min((first for first, _ in spans.values()), default=0.0)  # act's own start, before any job
    return start_up + max((end(job) for job in durations), default=0.0), durations


def describe(label: str, measured: Measured, run: ActRun, limit: float | None, workflow: Path) -> str:
    trained = "trained" if "Running stage 'train'" in run.log else "training skipped"
    jobs = ", ".join(f"{job.rsplit('/', 1)[-1]}={result}" for job, result in run.job_results().items())
    code = job_lines(run, CODE_JOB)
    tests = Tests.read(code)
    steps = step_seconds(code)
    timing = ", ".join(
        f"{step} {steps[step]:.1f} s" for step in ("Set up", "Lint (make lint)", "Test (make test)") if step in steps
    )
    scheduled, durations = github_schedule(run, workflow)
    busy = ", ".join(f"{job} {seconds:.1f} s" for job, seconds in durations.items())
    return (
        f"  {label:5} {measured.seconds:7.1f} s{target(measured.seconds, limit)}   exit {measured.returncode}   "
        f"{trained}   {measured.load()}\n"
        f"        jobs: {jobs}\n"
        f"        code job: scope {tests.scope}; {tests.ran} tests ran ({tests.counts}), {tests.coverage}\n"
        f"        code job steps: {timing or 'no step times'}\n"
        f"        jobs (first to last log line): {busy}\n"
        f"        on GitHub's schedule (each job once the jobs it needs have ended; act waits for the whole stage "
        f"before): {scheduled:.1f} s{target(scheduled, limit)} (an estimate from these job times)"
    )


def uv_on_path(folder: Path) -> str:
    """A folder holding only a link to uv, for the jobs' PATH: setup-uv's stand-in then finds it, and no other tool of
    this checkout's venv leaks into the jobs."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("error: uv not found: run `make install` (it installs uv when none is on PATH)")
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "uv"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(found).resolve())
    return str(folder)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_env(venv: Path, **extra: str) -> dict[str, str]:
    """A shell as a runner has it: none of this run's pytest, coverage, make or test-scope state; `venv` used."""
    env = {
        name: value
        for name, value in clean_environment().items()
        if not name.startswith(("PYTEST_", "COV_", "MAKE")) and name not in (*NOT_ON_GITHUB, "VIRTUAL_ENV")
    }
    return {**env, "CI": "true", "VENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", **extra}


def make_copy(base: Path, committed_only: bool) -> tuple[Path, Path, str]:
    """The copy (see the module docstring) and a venv with it installed; returns both and the file its PR changes."""
    repo = copy_project(base / "copy", include_untracked=True, committed_only=committed_only, branch="main")
    venv = venv_on_top_of_this_one(base / "venv-copy")
    renamed = subprocess.run(
        ["make", "rename", f"NAME={COPY_PACKAGE}"], cwd=repo, env=make_env(venv), capture_output=True, text=True
    )
    if renamed.returncode != 0:
        raise SystemExit(f"error: make rename in {repo} failed:\n{renamed.stdout}{renamed.stderr}")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"Rename the package to {COPY_PACKAGE}")
    install_project(venv, repo)
    git(repo, "switch", "--quiet", "-c", COPY_BRANCH)
    changed = f"tests/{COPY_PACKAGE}/test_config.py"
    with (repo / changed).open("a", encoding="utf-8") as test_file:
        test_file.write("\n\n# A pull request's change to a file of the project's own.\n")
    git(repo, "commit", "--quiet", "--all", "-m", "A change to a test of the project")
    return repo, venv, changed


def run_pair(mode: str, name: str, repo: Path, base: Path, env: dict[str, str], event: Path | None) -> list:
    """The cold and the warm run of one repository in one mode, in folders of their own under `base`."""
    base = base / mode / name
    # Cold means every cache a workflow restores is empty: the DVC cache, the pre-commit environments, pip's download
    # cache and uv's package cache (on GitHub they come from actions/cache and setup-uv; here each gets a folder of
    # its own, empty for the cold run).
    caches = {"PRE_COMMIT_HOME": base / "pre-commit", "PIP_CACHE_DIR": base / "pip-cache"}
    if mode == "github":
        caches["UV_CACHE_DIR"] = base / "uv-cache"
    for folder in caches.values():
        shutil.rmtree(folder, ignore_errors=True)
    env = {**env, **{cache: str(path) for cache, path in caches.items()}}
    venv = REPO_ROOT / ".venv" if mode == "prebuilt" else None
    settings = ActSettings(repo, base / "work", env=env, venv=venv, event_path=event)
    path = os.environ["PATH"]
    if mode == "github":
        os.environ["PATH"] = f"{uv_on_path(base / 'uv-bin')}{os.pathsep}{path}"
    try:
        cold = measure(run_act, settings, keep_cache=False)
        warm = measure(run_act, settings)
    finally:
        os.environ["PATH"] = path
    for label, (measured, _) in (("cold", cold), ("warm", warm)):
        (base / f"{label}.log").write_text(measured.log, encoding="utf-8")  # kept with --keep
    return [cold, warm]


def make_test(repo: Path, venv: Path, **env: str) -> tuple[Measured, Tests]:
    """`make test` in `repo` with `venv`, as the code job runs it (2 workers on 2 cores, the coverage gate)."""
    measured, _ = measure(
        subprocess.run,
        ["make", "test", "BASE_REF=main"],
        cwd=repo,
        env=make_env(venv, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    (repo.parent / f"make-test-{repo.name}.log").write_text(measured.log, encoding="utf-8")  # kept with --keep
    return measured, Tests.read(measured.log.splitlines())


def target(seconds: float, limit: float | None) -> str:
    return "" if limit is None else f" (target <= {limit:.0f} s: {'met' if seconds <= limit else 'MISSED'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="which set-up to time (default both)")
    parser.add_argument(
        "--only", choices=REPOSITORIES, help="github mode: time this repository alone (default both, and the ratio)"
    )
    parser.add_argument("--full-tests", action="store_true", help="prebuilt mode: the code job runs every test")
    parser.add_argument("--head", action="store_true", help="benchmark the last commit, not the working tree")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    for name in NOT_ON_GITHUB:
        os.environ.pop(name, None)
    modes = list(MODES) if args.mode == "both" else [args.mode]
    names = [args.only] if args.only else list(REPOSITORIES)
    act_runs: dict[tuple[str, str], list] = {}
    make_tests: dict[str, tuple[Measured, Tests]] = {}
    print(f"load before everything: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="act-benchmark-") as temporary:
        base = (args.keep or Path(temporary)).resolve()
        template = copy_working_tree(base / "template", committed_only=args.head)
        if "prebuilt" in modes:
            env = {} if args.full_tests else QUICK_CODE_JOB
            act_runs["prebuilt", "template"] = run_pair("prebuilt", "template", template, base, env, None)
        if "github" in modes:
            repos: dict[str, tuple[Path, Path, Path]] = {}
            if "template" in names:
                venv = venv_on_top_of_this_one(base / "venv-template")
                install_project(venv, template)
                event = pull_request_event(template, base / "events" / "template.json", is_template=True)
                repos["template"] = (template, venv, event)
            if "copy" in names:
                repo, venv, changed = make_copy(base, args.head)
                print(f"copy: {repo} (package {COPY_PACKAGE}; its pull request changes {changed}, base main)")
                repos["copy"] = (repo, venv, pull_request_event(repo, base / "events" / "copy.json", base="main"))
            for name, (repo, _, event) in repos.items():
                act_runs["github", name] = run_pair("github", name, repo, base, {}, event)
            # After the act runs: act copies the repositories without their ignored files, but what `make test`
            # leaves (the pulled data, .coverage) must not make a cold run warmer.
            scopes = {"template": {"MLCI_TEST_SCOPE": "full"}, "copy": {}}  # code.yml's env in each
            for name, (repo, venv, _) in repos.items():
                make_tests[name] = make_test(repo, venv, **scopes[name])
    for (mode, name), ((cold, cold_run), (warm, warm_run)) in act_runs.items():
        print(f"\nPR workflow under act (-P ubuntu-latest=-self-hosted, {MODES[mode]}): {name}")
        if mode == "github" and name == "template":
            print("  the template's own PR: every test but the template's plumbing ones (no target)")
            limits = (None, None)
        else:
            limits = (COLD_TARGET_SECONDS.get(mode), WARM_TARGET_SECONDS[mode])
        workflow = (template if name == "template" else base / "copy") / ".github/workflows/ci.yml"
        print(describe("cold", cold, cold_run, limits[0], workflow))
        print(describe("warm", warm, warm_run, limits[1], workflow))
        ratio = warm.seconds / cold.seconds
        print(f"  warm/cold = {ratio:.2f}{f' (target <= {WARM_TARGET_RATIO})' if mode == 'prebuilt' else ''}")
    if make_tests:
        print("\n`make test` straight in each repository, one after the other (PYTEST_WORKERS=auto, coverage gate)")
        for name, (measured, tests) in make_tests.items():
            print(
                f"  {name:8} {measured.seconds:7.1f} s   exit {measured.returncode}   {measured.load()}\n"
                f"           scope {tests.scope}; {tests.ran} tests ran ({tests.counts}), {tests.coverage}"
            )
        if len(make_tests) == 2:
            ratio = make_tests["copy"][0].seconds / make_tests["template"][0].seconds
            met = "met" if ratio <= MAKE_TEST_TARGET_RATIO else "MISSED"
            print(f"  copy / template = {ratio:.2f} (target <= {MAKE_TEST_TARGET_RATIO}: {met})")
    print(f"\nload after everything: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = [m for pair in act_runs.values() for m, _ in pair] + [m for m, _ in make_tests.values()]
    return 0 if all(measured.returncode == 0 for measured in failed) else 1


if __name__ == "__main__":
    sys.exit(main())

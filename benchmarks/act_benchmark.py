"""Wall time of the pull-request workflow under act: cold (empty caches) and warm (nothing changed: no training).

Two modes, each run cold then warm:
- prebuilt: every job uses this checkout's venv (the harness passes VENV), so `make install` is a no-op; the
  fastest local loop, but it hides the set-up cost every job pays on GitHub.
- github: no venv is prebuilt; every job creates its own and installs the locked set with uv (`make install`), from
  uv's package cache as setup-uv restores it on GitHub: empty for the cold run, filled by it for the warm one. The uv
  on PATH stands in for the one setup-uv downloads.

Cold: empty DVC cache, pre-commit environments, pip cache and (github mode) uv cache. Warm: a second run of the same
tree, the caches filled. Printed, not asserted. Targets on the 2-core reference machine: prebuilt warm <= 60 s and
<= 0.3 x cold; github warm <= 90 s.
Runs on a copy of the working tree (tracked and new files), like tests/workflows/test_act.py, with the same quick
code job (one test module, coverage gate off) unless --full-tests is given.

    python benchmarks/act_benchmark.py [--mode prebuilt|github|both] [--full-tests] [--head] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "workflows" / "act"))

from act_harness import ActRun, ActSettings, copy_working_tree, quick_code_job, run_act  # noqa: E402
from project_copy import PROJECT  # noqa: E402 (act_harness puts tests/ on the path)

QUICK_CODE_JOB = quick_code_job(f"tests/{PROJECT.package}/test_config.py")
WARM_TARGET_SECONDS = {"prebuilt": 60.0, "github": 90.0}
WARM_TARGET_RATIO = 0.3
MODES = {
    "prebuilt": "prebuilt venv",
    "github": "GitHub-like: each job runs make install with uv, no prebuilt venv",
}


def describe(label: str, run: ActRun) -> str:
    trained = "trained" if "Running stage 'train'" in run.log else "training skipped"
    jobs = ", ".join(f"{job.rsplit('/', 1)[-1]}={result}" for job, result in run.job_results().items())
    return f"{label:5} {run.seconds:7.1f} s   exit {run.returncode}   {trained:16}   {jobs}"


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


def run_mode(mode: str, repo: Path, base: Path, env: dict[str, str]) -> tuple[ActRun, ActRun]:
    """The cold and the warm run of one mode, in folders of its own under `base`."""
    base = base / mode
    # Cold means every cache a workflow restores is empty: the DVC cache, the pre-commit environments, pip's download
    # cache and uv's package cache (on GitHub they come from actions/cache and setup-uv; here each gets a folder of
    # its own, empty for the cold run).
    caches = {"PRE_COMMIT_HOME": base / "pre-commit", "PIP_CACHE_DIR": base / "pip-cache"}
    if mode == "github":
        caches["UV_CACHE_DIR"] = base / "uv-cache"
    for folder in caches.values():
        shutil.rmtree(folder, ignore_errors=True)
    env = {**env, **{name: str(path) for name, path in caches.items()}}
    venv = REPO_ROOT / ".venv" if mode == "prebuilt" else None
    settings = ActSettings(repo, base / "work", env=env, venv=venv)
    path = os.environ["PATH"]
    if mode == "github":
        os.environ["PATH"] = f"{uv_on_path(base / 'uv-bin')}{os.pathsep}{path}"
    try:
        cold = run_act(settings, keep_cache=False)
        warm = run_act(settings)
    finally:
        os.environ["PATH"] = path
    return cold, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="which set-up to time (default both)")
    parser.add_argument("--full-tests", action="store_true", help="the code job runs the whole test suite")
    parser.add_argument("--head", action="store_true", help="benchmark the last commit, not the working tree")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    env = {} if args.full_tests else QUICK_CODE_JOB
    modes = list(MODES) if args.mode == "both" else [args.mode]
    results = {}
    with tempfile.TemporaryDirectory(prefix="act-benchmark-") as temporary:
        base = args.keep or Path(temporary)
        repo = copy_working_tree(base / "repo", committed_only=args.head)
        for mode in modes:
            results[mode] = run_mode(mode, repo, base, env)
    for mode, (cold, warm) in results.items():
        print(f"PR workflow under act (-P ubuntu-latest=-self-hosted, {MODES[mode]})")
        print(describe("cold", cold))
        print(describe("warm", warm))
        ratio = warm.seconds / cold.seconds
        print(
            f"warm/cold = {ratio:.2f}{f' (target <= {WARM_TARGET_RATIO})' if mode == 'prebuilt' else ''}; "
            f"warm {warm.seconds:.1f} s (target <= {WARM_TARGET_SECONDS[mode]:.0f} s)"
        )
    return 0 if all(run.returncode == 0 for pair in results.values() for run in pair) else 1


if __name__ == "__main__":
    sys.exit(main())

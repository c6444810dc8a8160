"""Wall time of the pull-request workflow under act: cold (empty caches) and warm (nothing changed: no training).

Cold: empty DVC cache, pre-commit environments and pip cache (pre-commit builds its hooks from PyPI). Warm: a second
run of the same tree, the caches filled.

Printed, not asserted. Targets on the 2-core reference machine: warm <= 60 s and <= 0.3 x cold.
Runs on a copy of the working tree (tracked and new files), like tests/workflows/test_act.py, with the same quick
code job (one test module, coverage gate off) unless --full-tests is given.

    python benchmarks/act_benchmark.py [--full-tests] [--head] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "workflows" / "act"))

from act_harness import ActRun, ActSettings, copy_working_tree, run_act  # noqa: E402

QUICK_CODE_JOB = {"PYTEST_ADDOPTS": "-m 'not slow' tests/code/test_config.py", "COV_FAIL_UNDER": "0"}
WARM_TARGET_SECONDS = 60.0
WARM_TARGET_RATIO = 0.3


def describe(label: str, run: ActRun) -> str:
    trained = "trained" if "Running stage 'train'" in run.log else "training skipped"
    jobs = ", ".join(f"{job.rsplit('/', 1)[-1]}={result}" for job, result in run.job_results().items())
    return f"{label:5} {run.seconds:7.1f} s   exit {run.returncode}   {trained:16}   {jobs}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-tests", action="store_true", help="the code job runs the whole test suite")
    parser.add_argument("--head", action="store_true", help="benchmark the last commit, not the working tree")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    env = {} if args.full_tests else QUICK_CODE_JOB
    with tempfile.TemporaryDirectory(prefix="act-benchmark-") as temporary:
        base = args.keep or Path(temporary)
        repo = copy_working_tree(base / "repo", committed_only=args.head)
        # Cold means every cache a workflow restores is empty: the DVC cache, the pre-commit environments and pip's
        # download cache (on GitHub they come from actions/cache and setup-python's pip cache; here pre-commit and
        # pip get folders of their own, empty for the cold run).
        caches = {"PRE_COMMIT_HOME": base / "pre-commit", "PIP_CACHE_DIR": base / "pip-cache"}
        for folder in caches.values():
            shutil.rmtree(folder, ignore_errors=True)
        settings = ActSettings(repo, base / "work", env={**env, **{name: str(path) for name, path in caches.items()}})
        cold = run_act(settings, keep_cache=False)
        warm = run_act(settings)
    print("PR workflow under act (-P ubuntu-latest=-self-hosted, prebuilt venv)")
    print(describe("cold", cold))
    print(describe("warm", warm))
    ratio = warm.seconds / cold.seconds
    print(
        f"warm/cold = {ratio:.2f} (target <= {WARM_TARGET_RATIO}); "
        f"warm {warm.seconds:.1f} s (target <= {WARM_TARGET_SECONDS:.0f} s)"
    )
    return 0 if cold.returncode == warm.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

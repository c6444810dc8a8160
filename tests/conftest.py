"""Shared fixtures: the project's image built once per session, the GPU marker's skip, and the template marker: the
template's own plumbing tests (act, image, rename, template-init, Makefile and DVC wiring) run only with
MLCI_TEMPLATE_TESTS=1, as the template's CI sets it. The reference project's fixtures (its data, split and tiny
configs) are in the project's own tests/<package>/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
# Folders whose tests check the template's own plumbing; a repository made from the template skips them by default.
TEMPLATE_TEST_FOLDERS = ("template", "workflows", "docker")
IMAGE_BUILD_SCRIPT = REPO_ROOT / "tests" / "docker" / "build_image.sh"
PODMAN_CONF = REPO_ROOT / "tests" / "docker" / "containers.conf"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# `make test` runs a pytest-xdist worker per core, and torch in each (and in every process a test starts) keeps a thread
# per core: OpenMP's default spin-waiting then burns the core another worker needs (tests against two busy loops
# took 15-35% longer). PASSIVE lets idle threads sleep; the thread count, and so every result bit, stays the same.
# It must be set before torch loads OpenMP: torch is imported below, in the hooks, not at the top.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Test modules import the shared helpers at this level (project_copy) by name.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))

from project_copy import PROJECT  # noqa: E402

# Modules that take minutes (`pytest --durations`), slowest first; the other modules with a slow test follow them.
# `make test` runs the tests on every core (pytest-xdist, `--dist loadfile`: a module stays on one worker, so its
# module-scoped fixtures run once); starting these first lets the workers finish together instead of one of them
# beginning a long module last. The container-mode act module leads: it builds the project's image (once per
# session, see `project_image`) before the image modules need it, so no worker waits on that build.
SLOW_MODULES_FIRST = (
    "workflows/test_act_container.py",
    "template/test_swap.py",
    "template/test_swap_tasks.py",
    "docker/test_image.py",
    "workflows/test_act.py",
    "template/test_new_user.py",
    "workflows/test_release_act.py",
    "workflows/test_quality_act.py",
    "workflows/test_monitor_act.py",
    "workflows/test_template_sync_act.py",
    "template/test_failure_states.py",
    "template/test_pipeline.py",
    "docker/test_serving_image.py",
    f"{PROJECT.package}/test_cli_runs.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse-order",
        action="store_true",
        help="run the tests last to first (with -p no:xdist: shows no test depends on another's leftovers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """A path given to pytest that does not exist is a usage error (exit 4), under xdist too.

    pytest-xdist's controller collects nothing itself, so a typo in PYTEST_ARGS (tests/typo.py) would otherwise end
    as "no tests ran" (exit 5), which `make test` reports as nothing selected and passes.
    """
    if hasattr(config, "workerinput"):
        return
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        if not arg.startswith("-") and not path.exists():
            raise pytest.UsageError(f"file or directory not found: {arg}")


def _module(item: pytest.Item) -> str:
    return Path(str(item.path)).relative_to(REPO_ROOT / "tests").as_posix()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch  # here, after OMP_WAIT_POLICY is set (see the top)

    # The modules named above first, then the other modules that hold a slow test, then the rest; stable: each group
    # keeps its order. A worker is handed a module when it has two tests or fewer left, so the long ones spread out.
    rank = {module: position for position, module in enumerate(SLOW_MODULES_FIRST)}
    with_slow = {_module(item) for item in items if "slow" in item.keywords}
    items.sort(key=lambda item: rank.get(_module(item), len(rank) + (_module(item) not in with_slow)))
    if config.getoption("reverse_order"):
        items.reverse()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device; none is available here")
    skip_template = pytest.mark.skip(reason="the template's own plumbing: set MLCI_TEMPLATE_TESTS=1 to run it")
    run_template = os.environ.get("MLCI_TEMPLATE_TESTS") == "1"
    for item in items:
        folder = _module(item).split("/")[0]
        if folder in TEMPLATE_TEST_FOLDERS:
            item.add_marker(pytest.mark.template)
            if not run_template:
                item.add_marker(skip_template)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item):
    """A `no_cover` test runs with no trace function at all. pytest-cov pauses its coverage for it, but in a
    pytest-xdist worker another tracer stays installed, and on Python 3.11 any tracer slows every Python call (GX's
    checks took twice as long). trylast: this runs inside pytest-cov's pause."""
    if item.get_closest_marker("no_cover") is None:
        return (yield)
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        return (yield)
    finally:
        sys.settrace(tracer)


@dataclass(frozen=True)
class ProjectImage:
    """The image built from the Dockerfile, and the wheelhouse it was built from (pip's only source inside)."""

    tag: str
    wheels: Path


@pytest.fixture(autouse=True)
def _own_job_summary(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test writes job summaries and annotations into a scratch file, never into the job running the suite (on
    GitHub and under act, $GITHUB_STEP_SUMMARY would show the tests' synthetic "Quality gate breached" tables)."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path_factory.getbasetemp() / "step-summary.md"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture(scope="session")
def project_image(tmp_path_factory: pytest.TempPathFactory) -> ProjectImage:
    """The project's image, built with podman offline (tests/docker/build_image.sh); modules that use it skip
    where podman or mmdebstrap is missing."""
    tag = f"localhost/{PROJECT.image}:pytest"
    # Under xdist every worker has this fixture: the first builds, the others wait on the lock and reuse the image.
    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else None
    if shared is None:
        return _build_project_image(tag, tmp_path_factory.mktemp("image-build"))
    with FileLock(shared / "project-image.lock"):
        cache = shared / "project-image-build"
        if not (cache / "built").is_file():
            cache.mkdir(exist_ok=True)
            _build_project_image(tag, cache)
            (cache / "built").touch()
    return ProjectImage(tag, cache / "wheels")


def _build_project_image(tag: str, cache: Path) -> ProjectImage:
    built = subprocess.run(
        [str(IMAGE_BUILD_SCRIPT), tag],
        env={**os.environ, "CONTAINERS_CONF": str(PODMAN_CONF), "IMAGE_BUILD_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=45 * 60,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return ProjectImage(tag, cache / "wheels")

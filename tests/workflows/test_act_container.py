"""The pull-request workflow under act in container mode: every job in a container of the runner image
(tests/workflows/act/runner-image: the project's image plus node) through podman's Docker API, as a job with
`container:` runs on GitHub (pipeline.yml's GPU path). The host-mode runs are in test_act.py; this module is apart
because its fixture builds two images and takes minutes, so `make test` starts it first on a worker of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from act_harness import ACT_DIR, PR_JOBS, REPO_ROOT, ActRun, ActSettings, copy_working_tree, quick_code_job, run_act
from project_copy import PROJECT

RUNNER_IMAGE = f"localhost/{PROJECT.image}:act-pytest"
BUILD_RUNNER_IMAGE = ACT_DIR / "runner-image" / "build.sh"
# This machine reaches PyPI through a TLS-intercepting proxy whose CA is only in the host's bundle, and pre-commit
# builds its hook environment from PyPI inside the job container. Elsewhere the mount changes nothing.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MISSING_FOR_CONTAINERS = [name for name in ("podman", "mmdebstrap") if shutil.which(name) is None]
needs_containers = pytest.mark.skipif(
    bool(MISSING_FOR_CONTAINERS),
    reason=f"{', '.join(MISSING_FOR_CONTAINERS)} not installed: apt-get install podman buildah runc mmdebstrap "
    "uidmap (.ci/run installs them, so CI runs this test)",
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("ACT")), reason="already inside an act run: no act within act"),
    needs_containers,
]


def locked_outs(lock_file: Path, stage: str) -> list[dict]:
    """What dvc.lock records of a stage's outputs: their paths and hashes."""
    return yaml.safe_load(lock_file.read_text(encoding="utf-8"))["stages"][stage]["outs"]


@pytest.fixture(scope="module")
def container_run(project_image, tmp_path_factory: pytest.TempPathFactory) -> ActRun:
    """The PR workflow once in act's container mode, every job in a container of the runner image."""
    built = subprocess.run(
        [str(BUILD_RUNNER_IMAGE), RUNNER_IMAGE, project_image.tag], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    settings = ActSettings(
        copy_working_tree(tmp_path_factory.mktemp("repo")),
        tmp_path_factory.mktemp("act-container-work"),
        platform=RUNNER_IMAGE,
        env={
            **quick_code_job(f"tests/{PROJECT.package}/test_config.py"),
            "PIP_CERT": HOST_CA_BUNDLE,
            "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"],  # tests/conftest.py's: torch's idle threads sleep
        },
        container_options=[f"-v {HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"],
    )
    return run_act(settings, keep_cache=False)


def test_in_container_mode_every_job_runs_in_the_runner_image_and_succeeds(container_run: ActRun) -> None:
    assert container_run.returncode == 0, container_run.tail()
    results = container_run.job_results()
    assert sorted(results.values()) == ["succeeded"] * len(PR_JOBS), results
    started = re.findall(r"^\[([^\]]+)\] 🚀  Start image=(\S+)$", container_run.log, re.MULTILINE)
    assert sorted(job.rsplit("/", 1)[1] for job, image in started if image == RUNNER_IMAGE) == sorted(PR_JOBS)


def test_in_container_mode_the_pipeline_trains_the_committed_model_and_its_outputs_reach_the_host(
    container_run: ActRun,
) -> None:
    pipeline = container_run.summary("reproduce")
    assert "Trained on `cpu` in this run." in pipeline, pipeline
    assert re.search(r"^\| accuracy \| 0\.9\d+ \|$", pipeline, re.MULTILINE), pipeline
    run_dir = container_run.only_run_dir()
    # Training in the image is deterministic: the model dvc.lock records and the metrics are the committed ones.
    outputs = run_dir / "pipeline-outputs"
    assert locked_outs(outputs / "dvc.lock", "train") == locked_outs(REPO_ROOT / "dvc.lock", "train")
    committed_metrics = (REPO_ROOT / "dvclive" / "evaluate" / "metrics.json").read_bytes()
    assert (outputs / "dvclive" / "evaluate" / "metrics.json").read_bytes() == committed_metrics
    for artifact in (
        "pipeline-outputs/artifacts/model/model.pt",
        "data-validation/validation.json",
        "pr-report/report.md",
    ):
        assert (run_dir / artifact).is_file(), f"{artifact} not in {run_dir}"

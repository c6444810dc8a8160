"""The serving image (Containerfile.serve): the project's image plus the model of this commit, built with podman
offline and started with no network. The test split's rows, posted from inside the container, come back with the
evaluate stage's per-row predictions; a row out of the contract is a 422 naming it; the server runs as a non-root user
and the image carries a health check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from container_tools import needs_podman
from project_copy import PROJECT, copy_project

from mlci.contract import load_contract
from mlci.files import CONTRACT, PREDICTION_ID, PREDICTION_VALUE, PREDICTIONS, PROBA_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO_ROOT / "tests" / "docker" / "containers.conf"
BIN = Path(sys.executable).parent
SERVE_TAG = f"localhost/{PROJECT.image}-serve:pytest"
BATCH = 64
pytestmark = [
    pytest.mark.slow,
    needs_podman,
]

# Runs inside the container (its Python has pandas): posts the split in batches, then one bad row, prints JSON.
CLIENT = r"""
import json, sys, urllib.error, urllib.request
import pandas as pd

split, column, value, batch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])

def post(rows):
    request = urllib.request.Request("http://127.0.0.1:8000/predict", data=json.dumps({"rows": rows}).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

rows = json.loads(pd.read_csv(split).to_json(orient="records"))
predictions = []
for start in range(0, len(rows), batch):
    status, body = post(rows[start:start + batch])
    assert status == 200, body
    predictions += body["predictions"]
bad = dict(rows[0], **{column: value})
print(json.dumps({"predictions": predictions, "bad": post([rows[1], bad])}))
"""


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with the pipeline reproduced (its code, not the venv's) and a bundle written, signed."""
    project = copy_project(tmp_path_factory.mktemp("serving"), include_untracked=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    for command in (
        ["dvc", "pull", "--quiet", "data.dvc"],
        ["dvc", "repro", "--quiet"],
        ["mlci", "bundle", "--out", "build/serve", "--model-version", "v0.0.0-pytest"],
        ["mlci", "keygen", "--out", "build/keys"],  # the server refuses an unsigned bundle
        ["mlci", "sign", "build/serve", "--private-key", "build/keys/signing-key.pem"],
    ):
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=30 * 60)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return project


@pytest.fixture(scope="module")
def serving_image(project_image, reproduced: Path) -> str:
    podman(
        # chroot isolation builds with the host's network only; the Containerfile downloads nothing
        "build", "--isolation", "chroot", "--network", "host", "--format", "docker",
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
        "--build-arg", f"RUNTIME_IMAGE={project_image.tag}",
        "-f", str(reproduced / "Containerfile.serve"), "-t", SERVE_TAG, str(reproduced / "build" / "serve"),
        timeout=20 * 60,
    )  # fmt: skip
    return SERVE_TAG


@pytest.fixture(scope="module")
def server(serving_image: str, reproduced: Path):
    """The serving image running with no network, the split folder mounted read-only at /check."""
    name = f"serve-{uuid.uuid4().hex[:8]}"
    split = reproduced / "artifacts" / "split"
    podman("run", "-d", "--name", name, "--network", "none", "-v", f"{split}:/check:ro", serving_image)
    try:
        deadline = time.monotonic() + 180
        while podman("healthcheck", "run", name, check=False).returncode != 0:
            running = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            assert running == "true", podman("logs", name, check=False).stdout[-4000:]
            assert time.monotonic() < deadline, "not healthy after 180 s: " + podman("logs", name).stderr[-4000:]
            time.sleep(2)
        yield name
    finally:
        podman("rm", "--force", name, check=False)


def test_the_image_runs_the_server_as_a_non_root_user_with_a_health_check(serving_image: str, server: str) -> None:
    image = json.loads(podman("image", "inspect", serving_image).stdout)[0]
    assert image["Config"]["User"] == "1001"
    # podman 4 reports the health check beside Config (Docker inside it)
    health_check = image.get("Healthcheck") or image["Config"].get("Healthcheck") or {}
    assert "/health" in " ".join(health_check.get("Test", []))
    assert podman("exec", server, "id", "-u").stdout.strip() == "1001"
    assert podman("exec", server, "touch", "/opt/model/model", check=False).returncode != 0


def test_the_served_answers_equal_the_evaluate_stages_predictions(server: str, reproduced: Path) -> None:
    contract = load_contract(reproduced / CONTRACT)
    feature = next(f for f in contract.features if f.numeric and f.max is not None)
    too_big = json.dumps(feature.max + 1)
    done = podman("exec", server, "python3", "-c", CLIENT, "/check/test.csv", feature.name, too_big, str(BATCH))
    answer = json.loads(done.stdout)
    served = pd.DataFrame(answer["predictions"])
    expected = pd.read_csv(reproduced / PREDICTIONS)
    id_column = contract.id
    assert served[id_column].tolist() == expected[PREDICTION_ID].tolist()
    assert served[PREDICTION_VALUE].astype(str).tolist() == expected[PREDICTION_VALUE].astype(str).tolist()
    probabilities = [c for c in expected.columns if c.startswith(PROBA_PREFIX)]
    assert probabilities and [c for c in served.columns if c.startswith(PROBA_PREFIX)] == probabilities
    difference = abs(served[probabilities].to_numpy(float) - expected[probabilities].to_numpy(float)).max()
    assert difference <= 1e-6  # written rounded to 6 decimals; a different batch may move the last digit

    status, body = answer["bad"]
    assert status == 422
    assert [(p["row"], p["column"]) for p in body["detail"]] == [(1, feature.name)]
    assert "above the contract's maximum" in body["detail"][0]["message"]


def test_metadata_names_the_bundled_version_and_the_cpu(server: str) -> None:
    script = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/metadata').read().decode())"
    metadata = json.loads(podman("exec", server, "python3", "-c", script).stdout)
    assert metadata["version"] == "v0.0.0-pytest"
    assert metadata["device"] == "cpu"
    assert metadata["params_digest"].startswith("sha256:")
    # the image holds no public key: the files were checked against the signed manifest, the signature was not
    assert metadata["verification"]["signature"] == "not checked: no public key or signer identity"
    assert metadata["verification"]["files_checked"] >= 3

"""A Docker API for act's container mode: Docker's own where it runs, else a podman service started for the run.

act talks to the Docker API only. Where Docker runs (`docker info` answers, or DOCKER_HOST names an endpoint) act
finds it by itself. Where only podman is installed (this repository's CI machines), `podman system service` serves
the same API on a socket for as long as the run lasts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# runc and explicit ulimits: crun fails on machines with hybrid cgroups (see tests/docker/containers.conf).
PODMAN_CONF = Path(__file__).resolve().parents[2] / "docker" / "containers.conf"
SOCKET_WAIT_SECONDS = 30


class NoDockerApi(RuntimeError):
    """Neither Docker nor podman is available for act's container mode."""


def docker_answers(environ: Mapping[str, str]) -> bool:
    """True when DOCKER_HOST names an endpoint or the docker CLI reaches a daemon."""
    if environ.get("DOCKER_HOST"):
        return True
    docker = shutil.which("docker", path=environ.get("PATH"))
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, env=dict(environ), check=False).returncode == 0


def wait_for_socket(socket_path: Path, service: subprocess.Popen) -> None:
    deadline = time.monotonic() + SOCKET_WAIT_SECONDS
    while not socket_path.exists():
        if service.poll() is not None:
            error = service.stderr.read() if service.stderr else ""
            raise NoDockerApi(f"`podman system service` exited with status {service.returncode}: {error.strip()}")
        if time.monotonic() > deadline:
            raise NoDockerApi(f"`podman system service` did not open {socket_path} within {SOCKET_WAIT_SECONDS} s")
        time.sleep(0.1)


@contextmanager
def docker_api(environ: Mapping[str, str] = os.environ) -> Iterator[dict[str, str]]:
    """The environment variables act needs to reach a Docker API (none where Docker itself answers)."""
    if docker_answers(environ):
        yield {}
        return
    podman = shutil.which("podman", path=environ.get("PATH"))
    if podman is None:
        raise NoDockerApi(
            "act's container mode needs a Docker API: start Docker, set DOCKER_HOST, or install podman "
            "(apt-get install podman runc); or run on this machine with ACT_PLATFORM=-self-hosted"
        )
    with tempfile.TemporaryDirectory(prefix="act-podman-") as folder:
        socket_path = Path(folder) / "podman.sock"
        env = {**environ, "CONTAINERS_CONF": environ.get("CONTAINERS_CONF") or str(PODMAN_CONF)}
        service = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{socket_path}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_socket(socket_path, service)
            yield {"DOCKER_HOST": f"unix://{socket_path}", "CONTAINERS_CONF": env["CONTAINERS_CONF"]}
        finally:
            service.terminate()
            service.wait(timeout=30)

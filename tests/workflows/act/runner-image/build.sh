#!/usr/bin/env bash
# Build the act runner image (Containerfile here) on top of the project's image, with docker where a daemon answers,
# else with podman (the recipe of tests/docker/build_image.sh: chroot isolation, runc, explicit ulimits).
# Usage: tests/workflows/act/runner-image/build.sh RUNNER_TAG PROJECT_IMAGE
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:?usage: build.sh RUNNER_TAG PROJECT_IMAGE}"
project_image="${2:?usage: build.sh RUNNER_TAG PROJECT_IMAGE}"

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    docker build --build-arg PROJECT_IMAGE="$project_image" -t "$tag" "$here"
elif command -v podman >/dev/null; then
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/../../../docker/containers.conf}"
    podman build --isolation chroot --network host \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        --build-arg PROJECT_IMAGE="$project_image" -t "$tag" "$here"
else
    echo "error: neither docker nor podman found: install one of them" >&2
    exit 2
fi

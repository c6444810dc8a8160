#!/usr/bin/env bash
# Build the project's image with podman on a machine without Docker Hub or a Docker engine (CI, the test suite).
# What differs from `docker build .` on GitHub, and why:
#   - the base is a Debian bookworm root filesystem made by mmdebstrap (Docker Hub is unreachable here), passed as
#     BASE_IMAGE; it is built once and kept in podman's store;
#   - every wheel comes from a local wheelhouse (the `wheels` build context, UV_NO_INDEX=1), filled by the
#     project's pip from its cache with the locked set (hash-checked), the CPU build of torch and uv: nothing is
#     downloaded inside the build.
# The Dockerfile is the same one GitHub builds.
# Usage: tests/docker/build_image.sh [IMAGE_TAG]        (default localhost/<project>:test)
# Needs: podman, mmdebstrap (apt-get install podman buildah runc mmdebstrap uidmap), the project's venv ($VENV).
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
# The project's image name: pyproject.toml's [project] name in kebab case, as the Makefile reads it.
project="$(sed -n '/^\[project\]/,/^\[/s/^name *= *"\([^"]*\)".*/\1/p' "$repo_root/pyproject.toml" |
    tr '[:upper:]' '[:lower:]' | sed -E 's/[-._]+/-/g')"
[ -n "$project" ] || { echo "error: no [project] name in $repo_root/pyproject.toml" >&2; exit 2; }
tag="${1:-localhost/$project:test}"
venv="${VENV:-$repo_root/.venv}"
base_tag="${BASE_TAG:-localhost/$project-base:bookworm}"
cache_dir="${IMAGE_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/$project-image}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo_root/tests/docker/containers.conf}"

for tool in podman mmdebstrap; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found: apt-get install podman buildah runc mmdebstrap uidmap" >&2; exit 2; }
done

mkdir -p "$cache_dir"
started=$SECONDS

if ! podman image exists "$base_tag"; then
    echo "== base image $base_tag (mmdebstrap bookworm)"
    mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,ca-certificates,make,git,passwd \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$cache_dir/base.tar"
    podman import --quiet "$cache_dir/base.tar" "$base_tag" >/dev/null
    rm -f "$cache_dir/base.tar"
    echo "   base: $((SECONDS - started)) s"
fi

echo "== wheelhouse"
wheel_started=$SECONDS
wheels="$cache_dir/wheels"
rm -rf "$wheels"
# The files of the locks the image installs, as locked (an sdist stays an sdist: a wheel built from it here would not
# match its hash), and uv's. setuptools, the package's build backend, is in requirements.txt.
"$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes -d "$wheels" \
    -r "$repo_root/requirements.txt" -r "$repo_root/requirements/torch-cpu.txt" -r "$repo_root/requirements/uv.txt"
echo "   wheelhouse: $((SECONDS - wheel_started)) s, $(find "$wheels" -name '*.whl' | wc -l) wheels"

echo "== podman build $tag"
build_started=$SECONDS
podman build --isolation chroot --network host \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --build-arg BASE_IMAGE="$base_tag" \
    --build-arg TORCH_INDEX_URL= \
    --build-arg UV_NO_INDEX=1 \
    --build-context wheels="$wheels" \
    --layers=false \
    -t "$tag" "$repo_root"
echo "   build: $((SECONDS - build_started)) s; total $((SECONDS - started)) s"

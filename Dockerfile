# syntax=docker/dockerfile:1
# The project's image: Python, torch, the package and its dev tools in /opt/venv; run as a non-root user.
# The repository is NOT baked in: mount a checkout at /workspace (or use the image as a job container, where the
# runner mounts it) and run the same `make` targets or commands as on a laptop:
#   docker run --rm -v "$PWD:/workspace" ghcr.io/OWNER/REPO:latest make -o /opt/venv/.installed test
#
# CPU (default):  docker build -t digitnet .
# CUDA:           docker build -t digitnet:cuda \
#                   --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
#                 (run with `--gpus all`; pick the cuXXX index your driver supports: https://pytorch.org/get-started)
# Local wheels:   pass a folder of wheels as the `wheels` build context; pip looks there first:
#                   --build-context wheels=DIR --build-arg TORCH_INDEX_URL=        (torch from DIR, the rest from PyPI)
#                   --build-context wheels=DIR --build-arg PIP_NO_INDEX=1          (everything from DIR: offline)
#                 (`pip wheel -c requirements.txt '.[dev]' -w DIR` fills DIR; tests/docker/build_image.sh does this)

# Any image with python3 (>=3.10) or a Debian/Ubuntu image where apt can install it.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# Empty unless `--build-context wheels=DIR` replaces it with a folder of wheels (pip's --find-links).
FROM scratch AS wheels

FROM ${BASE_IMAGE} AS base
# Only what the base lacks: python:*-slim has Python but no make/git; nvidia/cuda images have neither Python nor venv.
# Versions are the base distribution's (not pinned: the same line serves Debian and Ubuntu bases).
# hadolint ignore=DL3008,SC2086
RUN set -eux; \
    need=""; \
    command -v make >/dev/null || need="$need make"; \
    command -v git >/dev/null || need="$need git"; \
    command -v python3 >/dev/null || need="$need python3 python3-venv"; \
    python3 -c 'import ensurepip' 2>/dev/null || need="$need python3-venv"; \
    if [ -n "$need" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

FROM base AS builder
# torch is installed first and alone, from the index that decides its build: the CPU index by default (a bare
# `torch` from PyPI is a multi-GB CUDA build), a cuXXX index for the CUDA variant, empty for PyPI + the wheels context.
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# The package's optional extras: `dev` brings pytest, DVC's test tools and the linters, so CI can run in the image.
ARG EXTRAS=dev
# 1 installs from the wheels context only (pip reads PIP_NO_INDEX from the environment).
ARG PIP_NO_INDEX=0
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY --from=wheels / /tmp/wheels/
# An environment variable, not a flag, so that pip's build-isolation subprocess sees the wheels too.
ENV PIP_FIND_LINKS=/tmp/wheels
# TORCH_SPEC is the pin (hadolint cannot see through the variable).
# hadolint ignore=DL3013
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
COPY pyproject.toml requirements.txt README.md LICENSE /src/
COPY src /src/src
# Pinned by requirements.txt (a constraints file, as `make install` uses); the stamp tells the Makefile the
# environment is ready.
# hadolint ignore=DL3013
RUN pip install -c /src/requirements.txt "/src[${EXTRAS}]" \
    && touch /opt/venv/.installed

FROM base AS runtime
ARG APP_UID=1001
# uid 1001 is the GitHub-hosted runner's user: as a job container it can write the checked-out workspace.
RUN useradd --uid "${APP_UID}" --create-home --shell /bin/bash app \
    && mkdir -p /workspace \
    && chown app:app /workspace
# The venv belongs to the user so that `make install` in a newer checkout can refresh it (editable install).
COPY --from=builder --chown=app:app /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    VENV=/opt/venv \
    GX_ANALYTICS_ENABLED=false \
    DVC_NO_ANALYTICS=1 \
    MPLBACKEND=Agg
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER ${APP_UID}
WORKDIR /workspace
RUN digitnet --help >/dev/null
CMD ["digitnet", "--help"]

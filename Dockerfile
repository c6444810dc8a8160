# syntax=docker/dockerfile:1
# The project's image: Python, torch, the package and its dev tools in /opt/venv; run as a non-root user.
# The repository is NOT baked in: mount a checkout at /workspace (or use the image as a job container, where the
# runner mounts it) and run the same `make` targets or commands as on a laptop:
#   docker run --rm -v "$PWD:/workspace" ghcr.io/OWNER/REPO:latest make -o /opt/venv/.installed test
#
# CPU (default):  docker build -t my-project .
# CUDA:           docker build -t my-project:cuda \
#                   --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 --build-arg TORCH_VARIANT=cuda .
#                 (run with `--gpus all`; requirements/torch-cuda.txt is PyPI's torch with its CUDA libraries: its
#                 driver needs are on https://pytorch.org/get-started. A cuXXX TORCH_INDEX_URL also selects it.)
# The image installs the same hash-pinned locks as `make install`: requirements.txt and requirements/torch-*.txt.
# Local wheels:   pass a folder of wheels as the `wheels` build context; uv looks there first:
#                   --build-context wheels=DIR --build-arg TORCH_INDEX_URL=        (torch from DIR, the rest from PyPI)
#                   --build-context wheels=DIR --build-arg UV_NO_INDEX=1           (everything from DIR: offline)
#                 (`pip download --no-deps --require-hashes -r requirements.txt -r requirements/torch-cpu.txt -d DIR`;
#                 tests/docker/build_image.sh does this)

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
# torch comes from its own lock, requirements/torch-$TORCH_VARIANT.txt: cpu (default; fetched from TORCH_INDEX_URL, the
# PyTorch CPU index) or cuda (PyPI's build; a cuXXX TORCH_INDEX_URL selects it too). Empty TORCH_INDEX_URL: PyPI and
# the wheels context.
ARG TORCH_VARIANT=""
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# 1 installs from the wheels context only (--no-index).
ARG UV_NO_INDEX=0
COPY requirements.txt /src/
COPY requirements /src/requirements
COPY --from=wheels / /tmp/wheels/
# Environment variables, not flags, so that every pip and uv call sees the wheels context.
ENV PIP_FIND_LINKS=/tmp/wheels \
    UV_FIND_LINKS=/tmp/wheels \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
# uv itself, hash-pinned, in a venv of its own that the runtime stage does not copy.
RUN python3 -m venv /opt/uv \
    && PIP_NO_INDEX="$UV_NO_INDEX" /opt/uv/bin/pip install --no-cache-dir --require-hashes -r /src/requirements/uv.txt \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# uv has no environment variable for --no-index: UV_NO_INDEX=1 becomes the flag here.
RUN variant="${TORCH_VARIANT:-cpu}" index="$TORCH_INDEX_URL" no_index=""; \
    case "$index" in */whl/cu*) variant=cuda ;; esac; \
    if [ "$variant" = cuda ]; then index=""; fi; \
    if [ "$UV_NO_INDEX" = 1 ]; then no_index=--no-index index=""; fi; \
    /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes --no-deps $no_index \
        -r "/src/requirements/torch-$variant.txt" ${index:+--index-url "$index"} \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes $no_index -r /src/requirements.txt
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
# The package itself (its dependencies are the locked set above; setuptools, its build backend, is in it); the stamp
# tells the Makefile the environment is ready.
RUN /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps --no-build-isolation /src \
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
# The machinery's CLI runs, and the project's package is installed: its predictor (pyproject.toml's `mlci.predictor`
# entry point, which the server loads) imports.
RUN mlci --help >/dev/null && python -c "import mlci.serve; mlci.serve.load_factory()"
CMD ["mlci", "--help"]

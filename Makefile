# One command, three places: these targets run the same on a laptop, under act and on GitHub.
# `make` alone lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and alone: a bare `torch` from PyPI is a multi-GB CUDA build.
# CPU-only machines set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu (the workflows do).
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
COV_FAIL_UNDER ?= 90
PYTEST_ARGS ?=
METRICS_ARGS ?=

export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export PATH := $(abspath $(BIN)):$(PATH)

INSTALLED := $(VENV)/.installed

.PHONY: help install data repro FORCE validate metrics test test-fast lint format clean lock benchmark

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install --quiet -c requirements.txt -e ".[dev]"
	$(BIN)/dvc config core.analytics false
	@touch $@

install: $(INSTALLED) ## Create .venv (if missing) and install the package with its dev tools

# The tracked data is pulled when it is missing or data.dvc changed since the last pull (a checkout of another
# commit). A copy edited here is kept, so `make repro` runs on it; `dvc pull` would refuse to overwrite it.
DATA ?= data
DATA_PULLED := .dvc/tmp/data-pulled
$(DATA_PULLED): data.dvc $(if $(wildcard $(DATA)),,FORCE) | $(INSTALLED)
	$(BIN)/dvc pull data.dvc
	@mkdir -p $(@D) && touch $@

FORCE:

data: $(DATA_PULLED) ## Pull the tracked data from the DVC remote (when missing or data.dvc changed)

repro: data ## Pull the data, reproduce the pipeline, print the metrics
	$(BIN)/dvc repro
	@$(MAKE) --no-print-directory metrics

validate: data ## Pull the data and run only the GX validation stage
	$(BIN)/dvc repro validate

metrics: $(INSTALLED) ## Print the metrics as a table (dvc metrics diff main: what a branch changed)
	@$(BIN)/digitnet metrics $(METRICS_ARGS)

# pytest exits 5 when a selection (PYTEST_ARGS="-m ...") collects nothing: say so, do not fail.
test: data ## Run the tests with the coverage gate
	$(BIN)/pytest --cov=digitnet --cov-report=term-missing --cov-report=xml \
		--cov-fail-under=$(COV_FAIL_UNDER) $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || exit $$rc; echo "no tests collected"; }

test-fast: data ## Run the tests not marked slow (no coverage gate)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(INSTALLED) ## Run every pre-commit hook on every file
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

format: $(INSTALLED) ## Format the code (isort, black)
	$(BIN)/isort src tests scripts benchmarks
	$(BIN)/black src tests scripts benchmarks

# The PR report: the workspace's metrics, params, validation and data against BASE_REF's committed ones.
BASE_REF ?= main
REPORT_DIR ?= report
.PHONY: report
report: data ## Build the PR report (report/report.md + PNGs) against BASE_REF (default main)
	$(BIN)/digitnet report --base-ref "$(BASE_REF)" --out "$(REPORT_DIR)"

benchmark: $(INSTALLED) ## Print pipeline, training and validation timings
	$(BIN)/python benchmarks/run_benchmarks.py

lock: $(INSTALLED) ## Re-pin requirements.txt from the current environment
	{ head -n 2 requirements.txt; $(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu//'; } > requirements.txt.new
	mv requirements.txt.new requirements.txt

clean: ## Remove build outputs, caches and pipeline outputs (not .venv, not the DVC cache)
	rm -rf artifacts checkpoints report build dist .pytest_cache .coverage coverage.xml htmlcov gx/uncommitted
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# act: ACT_PLATFORM=-self-hosted runs the jobs on this machine (no Docker); an image name runs them in containers
# (Docker, or podman where no Docker runs): `make act-image` builds one, $(ACT_IMAGE). ACT_ARGS passes harness options.
ACT_PLATFORM ?= -self-hosted
ACT_ARGS ?=
ACT_IMAGE ?= localhost/digitnet:act
.PHONY: act act-image
act: $(INSTALLED) ## Run the pull-request workflow locally with act (offline stand-ins; nothing is posted)
	$(BIN)/python tests/workflows/act/act_harness.py --platform=$(ACT_PLATFORM) --venv $(abspath $(VENV)) $(ACT_ARGS)

act-image: image ## Build the image for `make act ACT_PLATFORM=localhost/digitnet:act` (the project's image plus node)
	tests/workflows/act/runner-image/build.sh $(ACT_IMAGE) $(IMAGE)

IMAGE ?= digitnet:local
.PHONY: image
image: ## Build the container image (docker build; where no Docker engine runs: podman, offline)
	@if command -v docker >/dev/null && docker info >/dev/null 2>&1; then \
		docker build -t $(IMAGE) . ; \
	else \
		VENV=$(abspath $(VENV)) tests/docker/build_image.sh localhost/$(IMAGE) ; \
	fi

.PHONY: rename
rename: ## Rename the package everywhere: make rename NAME=my_project
	@test -n "$(NAME)" || { echo "usage: make rename NAME=my_project" >&2; exit 2; }
	$(PYTHON) scripts/rename_package.py "$(NAME)"

# One command, three places: these targets run the same on a laptop, under act and on GitHub.
# `make` alone lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
# The project's names, read from pyproject.toml (a file of yours: the Makefile never spells them out), with sed since
# the system python3 may lack tomllib: PACKAGE is [tool.mlci] package, else the [project] name with `_` for `-` and
# `.`; IMAGE_NAME is the package in kebab case (container images).
PROJECT_NAME := $(shell sed -n '/^\[project\]/,/^\[/s/^name *= *"\([^"]*\)".*/\1/p' pyproject.toml)
PACKAGE := $(or $(shell sed -n '/^\[tool\.mlci\]/,/^\[/s/^package *= *"\([^"]*\)".*/\1/p' pyproject.toml),$(shell \
	echo '$(PROJECT_NAME)' | tr '[:upper:]' '[:lower:]' | sed -E 's/[-.]+/_/g'))
IMAGE_NAME := $(subst _,-,$(PACKAGE))
VENV ?= .venv
BIN := $(VENV)/bin
# The locked set: requirements.txt (every package but torch, hash-pinned for every platform) plus one torch lock per
# build, requirements/torch-$(TORCH_VARIANT).txt: cpu (CPU runners, laptops) or cuda (PyPI's build, GPU runners).
# TORCH_INDEX_URL is where the CPU build is fetched (the workflows pass https://download.pytorch.org/whl/cpu; empty:
# PyPI and any wheelhouse); a cuXXX index URL picks the cuda lock. Both locks: `make lock`.
TORCH_INDEX_URL ?=
TORCH_VARIANT ?= $(if $(findstring /whl/cu,$(TORCH_INDEX_URL)),cuda,cpu)
TORCH_LOCK = requirements/torch-$(TORCH_VARIANT).txt
# uv installs (INSTALLER=pip: the plain-pip path, same locks, same hash checks). A uv already on PATH is used; else
# requirements/uv.txt's uv is installed into the venv (the pip path is taken when even that fails).
INSTALLER ?= uv
# uv does not read pip's configuration: a wheelhouse pip is told about through the environment is passed on.
comma := ,
empty :=
space := $(empty) $(empty)
ifneq ($(strip $(PIP_FIND_LINKS)),)
export UV_FIND_LINKS ?= $(subst $(space),$(comma),$(strip $(PIP_FIND_LINKS)))
endif
export UV_PYTHON_DOWNLOADS ?= never
COV_FAIL_UNDER ?= 90
PYTEST_ARGS ?=
METRICS_ARGS ?=

export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export PATH := $(abspath $(BIN)):$(PATH)

INSTALLED := $(VENV)/.installed
# A missing venv: uv makes it in half a second (pip seeded into it, for the pip path and `pip download`); without
# uv, Python's venv module does (ensurepip: about 5 s). Both seed pip, so a venv with pyvenv.cfg, no stamp and no pip
# is one an interrupted `make install` left (killed during ensurepip: every later pip call failed): it is recreated.
NEW_VENV = if [ -f $(VENV)/pyvenv.cfg ] && [ ! -f $(INSTALLED) ] && ! $(BIN)/python -c 'import pip' >/dev/null 2>&1; \
	then echo "$(VENV) is incomplete (no pip: an interrupted \`make install\`?): recreating it"; rm -rf $(VENV); fi; \
	test -x $(BIN)/python || { uv="$$(command -v uv || true)"; \
	if [ -n "$$uv" ] && [ "$(INSTALLER)" = uv ] && "$$uv" venv --quiet --seed --python $(PYTHON) $(VENV); then :; \
	else $(PYTHON) -m venv $(VENV); fi; }

.PHONY: help install data repro FORCE validate metrics test test-fast lint format clean lock benchmark

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# The stamp is also stale when the venv does not hold pyproject.toml's project with its console scripts, or holds
# another distribution installed editable from here (`make rename` leaves the old one): the recipe uninstalls that one
# first, since its console scripts (mlci too) go with it, and the editable install then recreates them.
EDITABLES = $(BIN)/python -I scripts/editable_installs.py
$(INSTALLED): pyproject.toml requirements.txt $(TORCH_LOCK) requirements/uv.txt \
		$(if $(wildcard $(INSTALLED)),$(if $(shell $(EDITABLES) stale '$(PROJECT_NAME)'),FORCE))
	@$(NEW_VENV)
	@set -- $(if $(filter cpu,$(TORCH_VARIANT)),$(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))); \
	installer=$(INSTALLER); \
	if [ "$$installer" = uv ]; then \
		uv="$$(command -v uv || true)"; \
		if [ -z "$$uv" ]; then \
			echo "uv not found: installing requirements/uv.txt into $(VENV)"; \
			if $(BIN)/python -m pip install --quiet --require-hashes -r requirements/uv.txt; then uv=$(BIN)/uv; \
			else echo "warning: uv could not be installed; installing with pip (slower)" >&2; installer=pip; fi; \
		fi; \
	fi; \
	others="$$($(EDITABLES) others '$(PROJECT_NAME)')"; \
	if [ "$$installer" = uv ]; then \
		run() { echo "+ uv $$*"; "$$uv" "$$@"; }; \
		run pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r $(TORCH_LOCK) "$$@"; \
		run pip install --quiet --python $(BIN)/python --require-hashes -r requirements.txt; \
		if [ -n "$$others" ]; then run pip uninstall --quiet --python $(BIN)/python $$others; fi; \
		run pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .; \
	else \
		run() { echo "+ pip $$*"; $(BIN)/python -m pip "$$@"; }; \
		run install --quiet --require-hashes --no-deps -r $(TORCH_LOCK) "$$@"; \
		run install --quiet --require-hashes -r requirements.txt; \
		if [ -n "$$others" ]; then run uninstall --quiet --yes $$others; fi; \
		run install --quiet --no-deps --no-build-isolation -e .; \
	fi
	$(BIN)/dvc config core.analytics false
	@touch $@

install: $(INSTALLED) ## Create .venv (if missing) and install the locked set with uv (INSTALLER=pip: with pip)

.PHONY: venv
venv: ## Create .venv only (no packages): make install's first step, which also recreates one left incomplete
	@$(NEW_VENV)

# The tracked data is pulled when it is missing or data.dvc changed since the last pull (a checkout of another
# commit). A copy edited here is kept, so `make repro` runs on it: the stamp holds the file's checksum as pulled, and
# a file that no longer has it while data.dvc does not record it either is an edit (e.g. one a bare `dvc repro`
# recorded and `git checkout data.dvc` took back): it is kept and said so, never replaced (DVC would replace it
# silently, its copy being in the cache). The data file is the one the data contract (data.schema.yaml) names: its
# `path:` unquoted or quoted, a trailing comment dropped.
hash := \#
quote := '"'"'
DATA ?= $(shell sed -n -e '/^path:/{s/^path:[[:space:]]*//;s/[[:space:]]*$(hash).*//;s/[[:space:]]*$$//;\
	s/^"\(.*\)"$$/\1/;s/^$(quote)\(.*\)$(quote)$$/\1/;p;q;}' data.schema.yaml 2>/dev/null)
DATA_PULLED := .dvc/tmp/data-pulled
# DVC names data it finds in neither its cache nor the remote by hash alone: after a failed pull, `mlci missing-data`
# names the files and the fix. A contract path that data.dvc does not bring is named before any stage runs.
$(DATA_PULLED): data.dvc $(if $(wildcard $(or $(DATA),data)),,FORCE) | $(INSTALLED)
	@pulled="$$(cat $@ 2>/dev/null || true)"; \
	if [ -n "$$pulled" ] && [ -f "$(DATA)" ] && [ "$$(cksum < "$(DATA)")" != "$$pulled" ]; then \
		if $(BIN)/dvc status --quiet data.dvc; then cksum < "$(DATA)" > $@; \
		else echo "notice: $(DATA) was edited since it was pulled: kept, not replaced by the file data.dvc" \
			"tracks (\`dvc pull --force data.dvc\` takes that one)" >&2; fi; \
	else \
		echo "$(BIN)/dvc pull data.dvc"; $(BIN)/dvc pull data.dvc || { $(BIN)/mlci missing-data data.dvc; exit 1; }; \
		test -f "$(DATA)" || { echo "error: $(DATA) not found: data.schema.yaml's path names a file data.dvc" \
			"does not bring (fix the path, or \`dvc add\` that file)" >&2; exit 1; }; \
		mkdir -p $(@D) && cksum < "$(DATA)" > $@; \
	fi

FORCE:

data: $(DATA_PULLED) ## Pull the tracked data from the DVC remote (when missing or data.dvc changed)

# The data is validated before `dvc repro` records it: DVC commits a changed data file (into data.dvc and its cache)
# before it runs any stage, so a file validation rejects would be recorded. `--single-item` runs the validate stage
# alone (when its inputs changed); a rejected file leaves data.dvc, the cache and reports/validation.json as they were.
VALIDATE_FIRST := $(BIN)/dvc repro --single-item validate

# The params are checked first, by the project's own check (its `mlci.params_check` entry point): DVC skips a stage
# whose params equal the recorded ones by value, so `epochs: 12.0` would pass until a later retrain.
# A preempted training run (SIGTERM) leaves checkpoints/PREEMPTED: the recipe then exits 75 (make reports
# "Error 75" and exits 2), any other failure keeps DVC's status (255).
repro: data ## Check the params, pull the data, validate it, reproduce the pipeline, print the metrics
	$(BIN)/mlci check-params
	$(VALIDATE_FIRST)
	@echo "$(BIN)/dvc repro"; $(BIN)/dvc repro || { rc=$$?; if [ -f checkpoints/PREEMPTED ]; then \
		echo "preempted: run \`make repro\` again to resume from checkpoints/train.pt" >&2; exit 75; fi; exit $$rc; }
	@$(MAKE) --no-print-directory metrics

validate: data ## Pull the data and run only the GX validation stage (data.dvc records the data once it passes)
	$(VALIDATE_FIRST)
	$(BIN)/dvc repro validate

.PHONY: suite schema
suite: $(INSTALLED) ## Rebuild the GX suite (gx/) from the data contract data.schema.yaml
	$(BIN)/mlci schema suite

# Draft a contract for new data: make schema CSV=data/my.csv TARGET=label [ID=id]; review it, then make suite.
schema: $(INSTALLED) ## Draft data.schema.yaml from CSV (TARGET=column, optional ID=column); review it after
	@test -n "$(CSV)" -a -n "$(TARGET)" || { echo "usage: make schema CSV=data/my.csv TARGET=column [ID=column]" >&2; exit 2; }
	$(BIN)/mlci schema infer "$(CSV)" --target "$(TARGET)" $(if $(ID),--id "$(ID)") --out data.schema.yaml

metrics: $(INSTALLED) ## Print the metrics as a table (dvc metrics diff main: what a branch changed)
	@$(BIN)/mlci metrics $(METRICS_ARGS)

# The tests run on every core (pytest-xdist); a module stays on one worker (--dist loadfile), so its fixtures run
# once, and the slowest modules start first (tests/conftest.py). PYTEST_WORKERS=0 runs them in this one process
# (for a debugger, or -x to stop at the first failure).
# pytest exits 5 when a selection (PYTEST_ARGS="-m ...") collects nothing: say so, do not fail.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# A copy tests its own code: `mlci template test-scope` says `project` (its tests/<package>/ and the machinery's
# smoke, tests/mlci/test_smoke.py; coverage of the package) unless a template file or a lock changed since BASE_REF,
# or BASE_REF is not here, or MLCI_TEST_SCOPE=full: then `full`, every test (the template's plumbing too with
# MLCI_TEMPLATE_TESTS=1) and coverage of the machinery as well. MLCI_TEST_SCOPE=project|full decides it by hand.
TEST_SCOPE = $(BIN)/mlci template test-scope --base "$(BASE_REF)"
SCOPED_TESTS = if [ "$$($(TEST_SCOPE))" = full ]; then set -- --cov=mlci; else set -- tests/$(PACKAGE) tests/mlci/test_smoke.py; fi
test: data ## Run the tests with the coverage gate, on every core (PYTEST_WORKERS=0: in one process)
	@$(SCOPED_TESTS); echo "+ pytest $$* --cov=$(PACKAGE)"; \
	$(BIN)/pytest $(PYTEST_PARALLEL) "$$@" --cov=$(PACKAGE) --cov-report=term-missing --cov-report=xml \
		--cov-fail-under=$(COV_FAIL_UNDER) $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] || exit $$rc; echo "no tests collected"; }

test-fast: data ## Run the tests not marked slow (no coverage gate), on every core; the same scope as `make test`
	@$(SCOPED_TESTS); set -- "$$@" -m "not slow"; [ "$$1" != --cov=mlci ] || shift; echo "+ pytest $$*"; \
	$(BIN)/pytest $(PYTEST_PARALLEL) "$$@" $(PYTEST_ARGS)

lint: $(INSTALLED) ## Run every pre-commit hook on every file, and check the fence (template.toml)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure
	$(BIN)/mlci template check

format: $(INSTALLED) ## Format the code (isort, black)
	$(BIN)/isort src tests scripts benchmarks
	$(BIN)/black src tests scripts benchmarks

# The PR report: the workspace's metrics, params, validation and data against BASE_REF's committed ones.
BASE_REF ?= main
REPORT_DIR ?= report
.PHONY: report
report: data ## Build the PR report (report/report.md + PNGs) against BASE_REF (default main)
	$(BIN)/mlci report --base-ref "$(BASE_REF)" --out "$(REPORT_DIR)"

benchmark: $(INSTALLED) ## Print pipeline, training and validation timings
	$(BIN)/python benchmarks/run_benchmarks.py

# requirements.txt is the one lock of both inputs: yours (pyproject.toml's dependencies and dev extra) and the
# template's (requirements/template.in). The locks resolve for every platform (--universal) and Python >= LOCK_PYTHON
# and keep their pins unless UPGRADE=1.
# The CPU build of torch is looked up in the wheelhouse when one is configured, else on download.pytorch.org; the
# cuda lock is PyPI's torch with its CUDA libraries (the packages requirements.txt already pins are left out of it).
LOCK_PYTHON ?= 3.11
TORCH_CPU_LINKS ?= $(or $(UV_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
LOCK_FLAGS = --quiet --universal --python-version $(LOCK_PYTHON) --generate-hashes --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade)
lock: ## Re-resolve the hashed locks (requirements.txt, requirements/*.txt) with uv; UPGRADE=1 takes newer releases
	@uv="$$(command -v uv || echo $(BIN)/uv)"; test -x "$$uv" || { echo "uv not found: run make install" >&2; exit 2; }; \
	"$$uv" pip compile $(LOCK_FLAGS) pyproject.toml --extra dev requirements/template.in -c requirements/torch-cpu.in \
		--find-links $(TORCH_CPU_LINKS) --no-emit-package torch -o requirements.txt; \
	pinned="$$(sed -n 's/^\([A-Za-z0-9][A-Za-z0-9._-]*\)==.*/--no-emit-package \1/p' requirements.txt)"; \
	"$$uv" pip compile $(LOCK_FLAGS) requirements/torch-cpu.in -c requirements.txt $$pinned \
		--find-links $(TORCH_CPU_LINKS) --no-annotate -o requirements/torch-cpu.txt; \
	env -u UV_FIND_LINKS "$$uv" pip compile $(LOCK_FLAGS) requirements/torch-cuda.in -c requirements.txt $$pinned \
		--no-annotate -o requirements/torch-cuda.txt; \
	"$$uv" pip compile $(LOCK_FLAGS) requirements/uv.in --no-annotate -o requirements/uv.txt

clean: ## Remove build outputs, caches and pipeline outputs (not .venv, not the DVC cache)
	rm -rf artifacts checkpoints report build dist .pytest_cache .coverage coverage.xml htmlcov gx/uncommitted
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# act: ACT_PLATFORM=-self-hosted runs the jobs on this machine (no Docker); an image name runs them in containers
# (Docker, or podman where no Docker runs): `make act-image` builds one, $(ACT_IMAGE). ACT_ARGS passes harness options.
ACT_PLATFORM ?= -self-hosted
ACT_ARGS ?=
ACT_IMAGE ?= localhost/$(IMAGE_NAME):act
.PHONY: act act-image
act: $(INSTALLED) ## Run the pull-request workflow locally with act (offline stand-ins; nothing is posted)
	$(BIN)/python tests/workflows/act/act_harness.py --platform=$(ACT_PLATFORM) --venv $(abspath $(VENV)) $(ACT_ARGS)

act-image: image ## Build ACT_IMAGE, the project's image plus node, for `make act ACT_PLATFORM=<that image>`
	tests/workflows/act/runner-image/build.sh $(ACT_IMAGE) $(IMAGE)

IMAGE ?= $(IMAGE_NAME):local
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
	$(PYTHON) scripts/rename_package.py "$(NAME)" --venv "$(VENV)"

# Template releases: every template-owned file (template.toml) replaced with release REF's of TEMPLATE (defaults: the
# manifest's source and its newest v* tag); a file you changed keeps your change (merged, or beside it as <file>.rej)
# and is named in the report. Then what is derived is rebuilt: the lock when the template's requirements changed, the
# environment, the GX suite. Nothing is committed: review `git diff` and the report, then commit.
TEMPLATE ?=
REF ?=
TEMPLATE_REPORT ?= build/template-update.md
LOCK_INPUTS := requirements/template.in requirements/uv.in
.PHONY: update-template
update-template: $(INSTALLED) ## Update the template's files from a release: make update-template [TEMPLATE=url-or-path] [REF=v1.2.0]
	$(BIN)/mlci template update $(if $(TEMPLATE),--source "$(TEMPLATE)") $(if $(REF),--ref "$(REF)") --report $(TEMPLATE_REPORT)
	@if ! git diff --quiet HEAD -- $(LOCK_INPUTS); then echo "the template's requirements changed: make lock"; \
		$(MAKE) --no-print-directory lock; fi
	@$(MAKE) --no-print-directory install suite
	@echo "updated: review \`git diff\` and $(TEMPLATE_REPORT), run \`make test\`, then commit"

# -- The scheduled jobs (.github/workflows/monitor.yml and self-test.yml; docs/monitoring.md) -------------------------
# The drift monitor's recent sample: empty compares the training data with itself (a fresh copy runs green). YOURS:
# a file a DVC file tracks (RECENT_DATA.dvc exists: it is pulled), or one your own step puts there. Read from the
# environment as it is (the workflow sets it there), never expanded by make.
export RECENT_DATA ?=
MONITOR_DIR ?= reports/monitor
.PHONY: recent-data monitor
recent-data: data ## Fetch the monitor's recent sample: RECENT_DATA (a DVC-tracked file is pulled); empty: training data
	@if [ -z "$$RECENT_DATA" ]; then echo "RECENT_DATA is not set: the monitor compares the training data with itself"; \
	elif [ -f "$$RECENT_DATA.dvc" ]; then $(BIN)/dvc pull "$$RECENT_DATA.dvc"; \
	elif [ ! -f "$$RECENT_DATA" ]; then \
		echo "error: RECENT_DATA=$$RECENT_DATA not found (track it with \`dvc add\`, or fetch it here)" >&2; exit 2; fi

monitor: recent-data ## Validate the recent sample and test it for drift vs the training data (exit 1: alarm)
	@set -- --out "$(MONITOR_DIR)"; if [ -n "$$RECENT_DATA" ]; then set -- "$$@" --recent "$$RECENT_DATA"; fi; \
	echo "+ mlci monitor $$*"; $(BIN)/mlci monitor "$$@"

# The self-test: the newest releases the ranges allow (pyproject.toml's and requirements/template.in's; the locks
# ignored), torch still the CPU build from the PyTorch CPU index. `make self-test` builds them in its own venv, so the
# locked .venv stays as it is; it runs the pipeline in this checkout (dvc.lock may change: `git checkout dvc.lock`).
SELF_TEST_VENV ?= .venv-newest
SELF_TEST_DIR ?= reports/self-test
CPU_TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
.PHONY: self-test self-test-upgrade
self-test-upgrade: ## Upgrade $(VENV) to the newest versions the ranges allow (torch: the CPU build)
	@$(NEW_VENV)
	@uv="$$(command -v uv || echo $(BIN)/uv)"; test -x "$$uv" || { echo "uv not found: run make install" >&2; exit 2; }; \
	echo "+ uv pip install --upgrade -e .[dev] -r requirements/template.in (PyPI and $(CPU_TORCH_INDEX))"; \
	"$$uv" pip install --quiet --python $(BIN)/python --upgrade --index-strategy unsafe-best-match \
		--extra-index-url $(CPU_TORCH_INDEX) -e '.[dev]' -r requirements/template.in; \
	mkdir -p $(SELF_TEST_DIR); "$$uv" pip freeze --python $(BIN)/python > $(SELF_TEST_DIR)/freeze.txt
	$(BIN)/python -c "import sys, torch; sys.exit(torch.version.cuda and 'torch ' + torch.__version__ + ' is a CUDA build')"
	@touch $(INSTALLED) # this is the environment now: a later make must not reinstall the locked set into it

self-test: ## The weekly self-test here: newest allowed versions in $(SELF_TEST_VENV), fast tests, pipeline
	$(MAKE) --no-print-directory self-test-upgrade VENV=$(SELF_TEST_VENV)
	$(MAKE) --no-print-directory test-fast VENV=$(SELF_TEST_VENV) MLCI_TEST_SCOPE=full
	$(MAKE) --no-print-directory repro VENV=$(SELF_TEST_VENV)

# The quality gate (gates.yaml) on the workspace's predictions against BASE_REF's committed ones: exit 1 on a breach,
# the same command and exit status as CI's `quality` job. OVERRIDE names who accepts a breach (CI passes the PR label).
OVERRIDE ?=
.PHONY: gate
gate: $(INSTALLED) ## Check the quality gates (gates.yaml) against BASE_REF (default main); make exits 2 on a breach
	$(BIN)/mlci gate --base-ref "$(BASE_REF)" --out "$(REPORT_DIR)" $(if $(OVERRIDE),--override "$$OVERRIDE")

# The model server (mlci serve): the workspace's trained model (`make repro` first) behind HTTP on 127.0.0.1:$(PORT).
# The project's predictor is the `mlci.predictor` entry point in pyproject.toml. SERVE_ARGS: e.g. --device cpu.
PORT ?= 8000
SERVE_ARGS ?=
.PHONY: serve
serve: $(INSTALLED) ## Serve the trained model: GET /health, /metadata; POST /predict {"rows": [...]} (PORT=8000)
	$(BIN)/mlci serve --port $(PORT) $(SERVE_ARGS)

# Release (release.yml runs these; see docs/release.md). The model of this commit, never silently retrained: DVC
# restores what its remote holds, `dvc repro` runs only what is missing, and the metrics must then equal the committed
# ones, or the release stops. VERSION defaults to `git describe` (the tag on a tagged commit).
VERSION ?= $(shell git describe --tags --always --dirty --match 'v*' 2>/dev/null)
RELEASE_DIR ?= build/release
BUNDLE_DIR ?= build/serve
SERVE_IMAGE ?= $(IMAGE_NAME)-serve:$(VERSION)
# The signature (docs/release.md): `make sign` signs BUNDLE_DIR with model-signing, keyless (Sigstore, the workflow's
# OIDC identity: release.yml on GitHub) unless SIGNING_KEY names a PEM private key (`mlci keygen` makes a pair).
SIGNING_KEY ?=
# `make verify` checks a bundle or a released model archive (VERIFY=...): with PUBLIC_KEY, or keyless with REPOSITORY
# (OWNER/REPO; the release workflow at the tag metadata.json names).
VERIFY ?= $(BUNDLE_DIR)
PUBLIC_KEY ?=
REPOSITORY ?=
.PHONY: release-model bundle keygen sign verify sbom release-assets serve-image smoke-test deploy
release-model: data ## Restore (dvc pull) or reproduce this commit's model; stop unless its metrics equal the committed
	$(BIN)/mlci check-params
	$(BIN)/dvc pull --quiet || echo "notice: the DVC remote lacks some outputs: reproducing them, then checking the metrics"
	$(BIN)/dvc repro
	@metrics="$$($(BIN)/python -c 'import pathlib, mlci.dvcfiles as d; print(" ".join(d.metrics_files(pathlib.Path("."))))')"; \
	git diff --exit-code --stat -- $$metrics || { echo "error: the reproduced metrics differ from the committed ones" \
		"(above): refusing to release a model other than the one reviewed" >&2; exit 1; }

bundle: $(INSTALLED) ## Write the serving bundle (model, contract, metadata.json) of this workspace to BUNDLE_DIR
	$(BIN)/mlci bundle --out $(BUNDLE_DIR) --model-version "$(VERSION)"

KEYS_DIR ?= build/keys
keygen: $(INSTALLED) ## Make a key pair to sign with where keyless is not (KEYS_DIR/signing-key.pem and .pub)
	$(BIN)/mlci keygen --out $(KEYS_DIR)

sign: $(INSTALLED) ## Sign BUNDLE_DIR into BUNDLE_DIR/model.sig: SIGNING_KEY=key.pem, else keyless (Sigstore)
	$(BIN)/mlci sign $(BUNDLE_DIR) $(if $(SIGNING_KEY),--private-key "$(SIGNING_KEY)")

verify: $(INSTALLED) ## Verify VERIFY (a bundle or model-vX.Y.Z.tar.gz) with PUBLIC_KEY=..., or keyless REPOSITORY=owner/repo
	$(BIN)/mlci verify "$(VERIFY)" $(if $(PUBLIC_KEY),--public-key "$(PUBLIC_KEY)") $(if $(REPOSITORY),--repository "$(REPOSITORY)")

# A CycloneDX 1.5 SBOM of the locked environment this venv holds (every package with its version and purl).
SBOM ?= $(RELEASE_DIR)/sbom-environment.cdx.json
sbom: $(INSTALLED) ## Write the CycloneDX SBOM of the installed locked environment to SBOM
	@mkdir -p $(dir $(SBOM))
	$(BIN)/cyclonedx-py environment --of JSON --sv 1.5 --output-reproducible --no-validate --pyproject pyproject.toml \
		-o $(SBOM) $(BIN)/python

release-assets: $(INSTALLED) ## From the signed BUNDLE_DIR: model card, model archive, signature, metrics, SBOM, SHA256SUMS
	@test -f $(BUNDLE_DIR)/model.sig || { echo "error: $(BUNDLE_DIR) is not signed: run \`make bundle sign\` first" \
		"(SIGNING_KEY=key.pem off GitHub)" >&2; exit 1; }
	rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	$(BIN)/mlci model-card --bundle $(BUNDLE_DIR) --out $(RELEASE_DIR)/MODEL_CARD.md
	tar -C $(BUNDLE_DIR) --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -czf $(RELEASE_DIR)/model-$(VERSION).tar.gz .
	cp $(BUNDLE_DIR)/model.sig $(RELEASE_DIR)/model-$(VERSION).sig
	cp $(BUNDLE_DIR)/metadata.json $(RELEASE_DIR)/metadata.json
	@for file in $$($(BIN)/python -c 'import pathlib, mlci.dvcfiles as d; print(" ".join(d.metrics_files(pathlib.Path("."))))'); do \
		cp "$$file" "$(RELEASE_DIR)/metrics-$$(echo "$${file%.json}" | tr / -).json"; done
	@$(MAKE) --no-print-directory sbom SBOM=$(RELEASE_DIR)/sbom-environment.cdx.json
	cd $(RELEASE_DIR) && sha256sum -- * > SHA256SUMS && cat SHA256SUMS

# SIGNER_IDENTITY: the keyless signer the image's server expects (release.yml passes its own workflow's identity).
SIGNER_IDENTITY ?=
serve-image: ## Build the serving image SERVE_IMAGE from the runtime image IMAGE and the signed bundle
	docker build -f Containerfile.serve --build-arg RUNTIME_IMAGE=$(IMAGE) \
		$(if $(SIGNER_IDENTITY),--build-arg SIGNER_IDENTITY="$(SIGNER_IDENTITY)") -t $(SERVE_IMAGE) $(BUNDLE_DIR)

smoke-test: $(INSTALLED) ## Start SERVE_IMAGE on 127.0.0.1:PORT; check it answers the test split as evaluate did
	@cid="$$(docker run -d -p 127.0.0.1:$(PORT):8000 $(SERVE_IMAGE))"; trap 'docker rm -f "$$cid" >/dev/null' EXIT; \
	$(BIN)/mlci smoke-test --url http://127.0.0.1:$(PORT) || { docker logs "$$cid" 2>&1 | tail -40; exit 1; }

# The deploy hook: deploy.yml runs it after moving the image's ENV tag (IMAGE_REF: the image by digest). Your
# platform's command is in scripts/deploy.sh, a file of yours; it gets ENV, VERSION and IMAGE_REF in its environment
# (exported, so their values never pass through a shell's parsing).
ENV ?=
IMAGE_REF ?= $(SERVE_IMAGE)
deploy: export ENV := $(ENV)
deploy: export VERSION := $(VERSION)
deploy: export IMAGE_REF := $(IMAGE_REF)
deploy: ## Deploy VERSION to ENV with your platform's command in scripts/deploy.sh: make deploy ENV=staging VERSION=v1.2.0
	@test -n "$$ENV" -a -n "$$VERSION" || { echo "usage: make deploy ENV=staging VERSION=v1.2.0" >&2; exit 2; }
	@test -f scripts/deploy.sh || { echo "error: scripts/deploy.sh not found: the deploy hook runs it; put your" \
		"platform's command there (docs/release.md)" >&2; exit 2; }
	@test -x scripts/deploy.sh || { echo "error: scripts/deploy.sh is not executable:" \
		"chmod +x scripts/deploy.sh && git add --chmod=+x scripts/deploy.sh" >&2; exit 2; }
	scripts/deploy.sh

# The two commands a new user needs: `make demo` and `make test`. Each installs what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
# Byte-compile at install: a process that may not write .pyc files (PYTHONDONTWRITEBYTECODE, a
# read-only venv) would otherwise compile every import on every start.
export UV_COMPILE_BYTECODE := 1
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
VENV := .venv
PY := $(VENV)/bin/python
BAZEL ?= bazel
PYTEST_ARGS ?=

.PHONY: help setup system-deps test check lint lint-workflows typecheck demo bazel-demo golden bench build clean images

help:
	@echo "make demo       install what is missing, then build //examples:churn"
	@echo "make bazel-demo the same with Bazel: bazel build //examples:churn (needs bazel)"
	@echo "make test       install what is missing (incl. system services), then run the whole suite"
	@echo "make check      fast inner loop: lint, typecheck, tests without the heavy integration ones"
	@echo "make lint | lint-workflows | typecheck | golden | bench | build | clean"
	@echo "make images     build the runner base image axl-runner:latest (needs Docker)"

# uv is installed with pip when it is missing, so a machine with only Python and pip suffices.
setup: $(VENV)/.axl-setup
$(VENV)/.axl-setup: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-extras
	@touch $@

# System components that the integration tests drive for real (nginx, Docker, Bazel, ...).
system-deps:
	@bash scripts/system-deps.sh

lint: setup lint-workflows
	$(VENV)/bin/ruff check axl tests examples bench
	$(VENV)/bin/ruff format --check axl tests examples bench

# The GitHub Actions workflows can only be linted here, not run: zizmor's security audits
# (offline: no GitHub API, so pinned SHAs are checked for shape, not existence) and GitHub's
# workflow JSON schema, shipped inside check-jsonschema. WORKFLOWS: another directory to check.
WORKFLOWS ?= .github/workflows
lint-workflows: setup
	$(VENV)/bin/zizmor --offline --strict-collection --quiet --no-progress $(WORKFLOWS)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows \
		$(wildcard $(WORKFLOWS)/*.yml $(WORKFLOWS)/*.yaml)

typecheck: setup
	$(VENV)/bin/mypy

test: setup system-deps lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

check: setup lint typecheck
	$(PY) -m pytest -m "not integration" -x -q $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/axl build //examples:churn

# This checkout is a Bazel workspace (WORKSPACE, BUILD.bazel, .bazelrc): every step of the churn
# example is a Bazel action run by .venv's Python, and writes the bytes `make demo` writes.
bazel-demo: setup
	$(BAZEL) build //examples:churn

golden: setup
	AXL_REGENERATE_GOLDEN=1 $(PY) -m pytest -q -k golden

bench: setup
	$(PY) bench/run.py

build: setup
	rm -rf dist
	$(UV) build
	$(VENV)/bin/twine check --strict dist/*

# The runner base image (images/Dockerfile.runner) from axl's wheel and locked requirements.
# AXL_BUILD_CA_BUNDLE / AXL_BUILD_NETWORK as for `axl build-image`; AXL_RUNNER_BASE: the base.
images: setup
	rm -rf build/runner && mkdir -p build/runner/ca build/runner/dist
	$(UV) build --wheel --out-dir build/runner/dist
	$(UV) export --frozen --no-dev --no-emit-project --format requirements-txt \
		--output-file build/runner/requirements.txt
	cp images/Dockerfile.runner build/runner/Dockerfile
	if [ -n "$$AXL_BUILD_CA_BUNDLE" ]; then cp "$$AXL_BUILD_CA_BUNDLE" build/runner/ca/ca.crt; fi
	docker build $${AXL_BUILD_NETWORK:+--network $$AXL_BUILD_NETWORK} \
		$${AXL_RUNNER_BASE:+--build-arg BASE=$$AXL_RUNNER_BASE} -t axl-runner:latest build/runner

clean:
	rm -rf $(VENV) .axl dist .mypy_cache .ruff_cache .pytest_cache .services

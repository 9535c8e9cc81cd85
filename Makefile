# cherrypy_rs: `make help` lists the targets.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
MATURIN := $(VENV)/bin/maturin

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "maturin>=1.5,<2"

.PHONY: venv
venv: $(VPY) ## Create the virtualenv (.venv) with maturin

.PHONY: build-dev
build-dev: venv ## Build the extension (debug) into .venv with the test extras
	VIRTUAL_ENV=$(abspath $(VENV)) $(MATURIN) develop --extras test

.PHONY: build-prod
build-prod: venv ## Build the extension (release, LTO) into .venv: measure only this
	VIRTUAL_ENV=$(abspath $(VENV)) $(MATURIN) develop --release --extras test

.PHONY: demo
demo: build-dev ## Build and serve the demo site on http://127.0.0.1:8080
	$(VENV)/bin/cherrypy-rs demo --bind 127.0.0.1:8080

.PHONY: format
format: venv ## Format Rust and Python
	cargo fmt --all
	$(VENV)/bin/ruff format cherrypy_rs tests benchmarks examples

.PHONY: lint
lint: build-dev ## cargo fmt --check, clippy -D warnings, ruff, stubtest (_core.pyi), mypy
	cargo fmt --all -- --check
	cargo clippy --all-targets --all-features -- -D warnings
	$(VENV)/bin/ruff check cherrypy_rs tests benchmarks examples
	$(VENV)/bin/ruff format --check cherrypy_rs tests benchmarks examples
	$(VPY) -m mypy.stubtest cherrypy_rs._core
	$(VPY) -m mypy cherrypy_rs tests/typing_api.py

.PHONY: test
test: build-dev ## Build, then run the Rust unit tests and the pytest suite
	cargo test --quiet --all-features
	$(VPY) -m pytest -q -p no:cacheprovider

.PHONY: test-upstream
test-upstream: build-dev ## Run CherryPy 18.10's own test suite against cherrypy_rs (ARGS="core --markdown")
	@# CherryPy's own test dependencies (its "testing" extra) that ours do not have.
	$(VPY) -m pip install -q path requests-toolbelt
	@# The memcached session tests import python-memcached's "memcache" to decide to run.
	$(VPY) -m pip install -q python-memcached
	$(VPY) tests/upstream/run_upstream.py $(ARGS)

# Fuzz targets (fuzz/fuzz_targets, entry points in rust/fuzzing.rs), built with plain cargo
# on stable by fuzz/run.sh (libfuzzer-sys + the fuzz/rustc-sancov wrapper; no cargo-fuzz,
# no nightly); each runs FUZZ_SECONDS on its committed corpus (fuzz/corpus/<target>).
FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= 1

.PHONY: fuzz
fuzz: ## Build the fuzz targets and run each for FUZZ_SECONDS (fails on a crash)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh

.PHONY: bench
bench: build-prod ## Hello-world benchmark vs CherryPy and granian (needs wrk)
	$(VPY) -m pip install -q cherrypy granian
	$(VPY) benchmarks/bench_hello.py

.PHONY: bench-static
bench-static: build-prod ## Static-file benchmark vs CherryPy and nginx (needs wrk, nginx)
	$(VPY) -m pip install -q cherrypy
	@command -v wrk >/dev/null || echo "wrk not found: apt-get update && apt-get install -y wrk"
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		echo "nginx not found: apt-get update && apt-get install -y nginx (the nginx targets will fail to start)"
	$(VPY) benchmarks/bench_static.py

.PHONY: clean
clean: ## Remove build products
	cargo clean
	rm -rf $(VENV) .pytest_cache .ruff_cache

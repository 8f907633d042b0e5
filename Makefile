# Rounds: `make run` serves the demo conference, `make test` runs every test.
# Both install what is missing first (Python venv, npm packages, Debian packages for tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NPM_STAMP := frontend/node_modules/.installed
APT_TEST_PACKAGES := postgresql redis-server chromium

.PHONY: run test install install-test system-test-packages lint typecheck bench clean

run: install
	$(VENV)/bin/rounds serve

test: install-test
	$(PY) -m pytest

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

install: $(STAMP) $(NPM_STAMP)

install-test: install $(TEST_STAMP) system-test-packages

# PostgreSQL, Redis and Chromium binaries for the tests (the tests start their own servers).
system-test-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install-test
	$(VENV)/bin/ruff check server media tests

typecheck: install-test
	$(VENV)/bin/mypy

bench: install-test
	$(PY) tests/bench/relay_fanout.py --quick

clean:
	rm -rf $(VENV) frontend/node_modules .pytest_cache

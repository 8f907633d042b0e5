# Rounds: `make run` serves the demo conference, `make test` runs every test.
# Both install what is missing first (Python venv, npm packages, Debian packages for tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NPM_STAMP := frontend/node_modules/.installed
APT_TEST_PACKAGES := postgresql redis-server chromium
# GStreamer's webrtcbin publishes into the relay in tests/media/test_gstreamer.py (Debian's
# python3 runs it through PyGObject); x264enc is in -ugly, vp8enc in -good, webrtcbin in -bad.
GST_TEST_PACKAGES := python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 \
	gir1.2-gst-plugins-bad-1.0 gir1.2-nice-0.1 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-nice

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

# PostgreSQL, Redis, Chromium and GStreamer for the tests (the tests start their own servers).
system-test-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	for package in $(GST_TEST_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" \
			|| missing="$$missing $$package"; \
	done; \
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

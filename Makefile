# Two commands matter: `make run` starts the whole venue, `make test` runs every test.
# Both create .venv and install what they need first, from the lock: exact versions with hashes
# (requirements/*.lock, made by `make lock`; docs/dependencies.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCKED := pip install --quiet --require-hashes --no-deps

.PHONY: run test bench lint install clean tools lock lock-upgrade test-latest versions

# A new lock or pyproject.toml makes a new .venv: exactly the locked set, nothing left over.
$(STAMP): pyproject.toml requirements/build.lock requirements/dev.lock
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/$(LOCKED) -r requirements/build.lock
	$(BIN)/$(LOCKED) -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tradestack up --demo-traders

test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/tradestack bench engine

lint: $(STAMP)
	$(BIN)/ruff check services tests
	$(BIN)/ruff format --check services tests
	$(BIN)/mypy services

versions: $(STAMP)
	@$(BIN)/tradestack version

clean:
	rm -rf $(VENV) $(TOOLS) .venv-lock .venv-latest .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The lock: `make lock` after editing pyproject.toml or requirements/*.in (keeps every other
# pin); `make lock-upgrade` moves everything to the newest versions the ranges allow, and
# `make lock-upgrade PACKAGES="moto boto3"` only those. Then `make test` before committing.
UV := .venv-lock/bin/uv
UV_COMPILE = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(UPGRADE)

$(UV): requirements/uv.lock
	$(PYTHON) -m venv --clear .venv-lock
	.venv-lock/bin/$(LOCKED) -r requirements/uv.lock

lock: $(UV)
	$(UV_COMPILE) pyproject.toml --extra dev -o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml --constraints requirements/dev.lock -o requirements/runtime.lock
	$(UV_COMPILE) requirements/build.in -o requirements/build.lock
	$(UV_COMPILE) requirements/tools.in -o requirements/tools.lock
	$(UV_COMPILE) requirements/uv.in -o requirements/uv.lock

lock-upgrade:
	$(MAKE) lock UPGRADE="$(if $(PACKAGES),$(addprefix --upgrade-package ,$(PACKAGES)),--upgrade)"

# Drift check (not in CI): the newest versions pyproject.toml allows, in a throwaway venv,
# against the fast suites; prints what changed against the lock and what broke.
test-latest: $(STAMP)
	$(BIN)/python -m services.drift --venv .venv-latest

# Infrastructure checks (tests/infra): checkov and hadolint in their own venv, Debian's
# docker-compose (validates docker-compose.yml without an engine) and an nginx binary unpacked
# from Debian's package (nginx -t, routing test; never installed as a system service). Where apt
# is unavailable the matching test is skipped and says why.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

$(TOOLS_STAMP): requirements/build.lock requirements/tools.lock
	$(PYTHON) -m venv --clear $(TOOLS)
	$(TOOLS)/bin/$(LOCKED) -r requirements/build.lock
	$(TOOLS)/bin/$(LOCKED) -r requirements/tools.lock
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)
	@if command -v docker-compose >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }; \
	else echo "tools: no docker-compose and no apt as root: the compose validation will be skipped"; fi
	@if [ ! -x $(TOOLS)/nginx/usr/sbin/nginx ] && command -v apt-get >/dev/null 2>&1; then \
	  tmp=$$(mktemp -d) && chmod 777 $$tmp && \
	  { (cd $$tmp && apt-get download -qq nginx nginx-common >/dev/null 2>&1) || \
	    { [ "$$(id -u)" = 0 ] && apt-get update -qq && (cd $$tmp && apt-get download -qq nginx nginx-common >/dev/null); }; } && \
	  for deb in $$tmp/*.deb; do dpkg -x $$deb $(TOOLS)/nginx; done; rm -rf $$tmp; \
	  [ -x $(TOOLS)/nginx/usr/sbin/nginx ] || echo "tools: could not unpack nginx: the nginx checks will be skipped"; \
	fi

test: tools

# Browser tests (tests/web) drive Debian's chromium with Playwright (never `playwright install`);
# without chromium they are skipped and say why.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "browser: could not install chromium: the web tests will be skipped"; \
	else echo "browser: no /usr/bin/chromium and no apt as root: the web tests will be skipped"; fi

test: browser

# The whole venue under load through the gateway (docs/performance.md): accepted orders/s,
# trades/s, submit->202 and submit->fill latency, projection catch-up, CPU per process.
# Options pass through, e.g. `make bench-e2e ARGS="--duration 20 --json"`.
.PHONY: bench-e2e
bench-e2e: $(STAMP)
	$(BIN)/tradestack bench e2e $(ARGS)

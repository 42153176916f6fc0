# Two commands matter: `make run` starts the whole venue, `make test` runs every test.
# Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint install clean tools

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Infrastructure checks (tests/infra): checkov and hadolint in their own venv, Debian's
# docker-compose (validates docker-compose.yml without an engine) and an nginx binary unpacked
# from Debian's package (nginx -t, routing test; never installed as a system service). Where apt
# is unavailable the matching test is skipped and says why.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

$(TOOLS_STAMP): infra/requirements-tools.txt
	test -d $(TOOLS) || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r infra/requirements-tools.txt
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

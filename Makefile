# The two set-up commands (README): `make demo` and `make test`.
PYTHON ?= python3
OUT ?= output
# Servers' state per checkout, under /tmp so the postgres account can reach it.
export AGENTAUDIT_SERVICES_DIR ?= /tmp/agentaudit-services-$(shell echo "$(CURDIR)" | md5sum | cut -c1-8)

# Azurite (the Blob Storage emulator the export tests use), from npm into a cache folder.
AZURITE_DIR ?= $(HOME)/.cache/agentaudit/azurite
export AGENTAUDIT_AZURITE_BIN ?= $(AZURITE_DIR)/node_modules/.bin/azurite-blob

.PHONY: demo install install-dev system-deps azurite test lint bench

install:
	$(PYTHON) -m pip install -q -e .

install-dev:
	$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	agentaudit run --demo --out $(OUT)

# Debian packages the tests need; installed only when missing.
system-deps:
	@missing=""; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v pdfsig >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	command -v jq >/dev/null 2>&1 || missing="$$missing jq"; \
	ldconfig -p | grep -q libharfbuzz-subset || missing="$$missing libharfbuzz-subset0"; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# azurite@3.35.0: the last release that runs on Node 20.
azurite: system-deps
	@[ -x "$(AGENTAUDIT_AZURITE_BIN)" ] || npm install --prefix "$(AZURITE_DIR)" --no-audit --no-fund --silent azurite@3.35.0

test: system-deps install-dev azurite
	@scripts/services.sh start > .services.env
	@. ./.services.env; status=0; $(PYTHON) -m pytest -q || status=$$?; scripts/services.sh stop; rm -f .services.env; exit $$status

lint:
	ruff check .
	ruff format --check .
	mypy

bench: install
	$(PYTHON) benchmarks/collect_check.py --identities 10000

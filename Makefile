# The two set-up commands (README): `make demo` and `make test`.
PYTHON ?= python3
OUT ?= output
# Servers' state per checkout, under /tmp so the postgres account can reach it.
export AGENTAUDIT_SERVICES_DIR ?= /tmp/agentaudit-services-$(shell echo "$(CURDIR)" | md5sum | cut -c1-8)

.PHONY: demo install install-dev system-deps test lint bench

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
	ldconfig -p | grep -q libharfbuzz-subset || missing="$$missing libharfbuzz-subset0"; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: system-deps install-dev
	@scripts/services.sh start > .services.env
	@. ./.services.env; status=0; $(PYTHON) -m pytest -q || status=$$?; scripts/services.sh stop; rm -f .services.env; exit $$status

lint:
	ruff check .
	ruff format --check .
	mypy

bench: install
	$(PYTHON) benchmarks/collect_check.py --identities 10000

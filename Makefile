# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUN_VERSION := 1.4.4
STRIPE_PORT ?= 8420
MAIL_PORT ?= 8025
DATA := .data
# Debian packages the test suite needs: browser, database and cache stand-ins, PDF tools.
TEST_APT_PACKAGES := chromium postgresql redis-server poppler-utils fonts-noto-cjk

.PHONY: run run-scaled test soak bench setup test-setup bun system-test-deps migrate seed clean

run: setup
	@mkdir -p $(DATA)
	@test -f .env || cp .env.example .env
	$(BIN)/python -m billing_portal migrate
	$(BIN)/python -m billing_portal seed-demo
	@echo "Starting the Stripe sandbox (localstripe) on http://localhost:$(STRIPE_PORT) ..."
	@echo "Starting the mail sink on smtp://localhost:$(MAIL_PORT); messages land in $(DATA)/mail/ as .eml files ..."
	@$(BIN)/python -m billing_portal.sandbox.localstripe_server --port $(STRIPE_PORT) > $(DATA)/localstripe.log 2>&1 & \
	  stripe_pid=$$!; \
	  $(BIN)/python -m billing_portal.sandbox.mail_sink --port $(MAIL_PORT) --dir $(DATA)/mail > $(DATA)/mail_sink.log 2>&1 & \
	  mail_pid=$$!; trap 'kill $$stripe_pid $$mail_pid 2>/dev/null' EXIT INT TERM; \
	  echo "Portal: PUBLIC_URL in .env, http://localhost:3000 by default  (Ctrl-C stops the portal and the sandboxes)"; \
	  $(BIN)/reflex run --env dev

# Scale-out locally: PostgreSQL and Redis (data in .data/), two backend workers on Redis, one
# procrastinate job worker, the Stripe sandbox (billing_portal/sandbox/scaled.py).
run-scaled: setup
	@$(MAKE) --no-print-directory system-test-deps TEST_APT_PACKAGES="postgresql redis-server"
	@mkdir -p $(DATA)
	@test -f .env || cp .env.example .env
	$(BIN)/python -m billing_portal.sandbox.scaled --stripe-port $(STRIPE_PORT)

test: test-setup
	$(BIN)/python -m pytest

# The long variants of the reliability and security tests (README "Soak"): 100,000 webhook
# deliveries, and many more fuzz examples. `make test` runs the same tests short.
SOAK_DELIVERIES ?= 100000
SOAK_FUZZ_EXAMPLES ?= 1000
soak: test-setup
	TORTURE_DELIVERIES=$(SOAK_DELIVERIES) FUZZ_EXAMPLES=$(SOAK_FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest tests/reliability tests/security tests/test_rate_limits.py

# Benchmarks print one JSON line per figure (bench/README.md); copy them into README.md's table.
BENCHES := invoice_pdf webhook_ingest dashboard history upload ui_sessions entitlements
bench: test-setup
	@for b in $(BENCHES); do $(BIN)/python -m bench.$$b || exit 1; done

setup: $(VENV)/.installed bun

test-setup: setup $(VENV)/.installed-dev system-test-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

# Reflex would download bun from the internet; the npm registry has it.
bun:
	@command -v bun >/dev/null 2>&1 || npm install -g --silent bun@$(BUN_VERSION)

system-test-deps:
	@missing=""; \
	for pkg in $(TEST_APT_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

migrate: setup
	$(BIN)/python -m billing_portal migrate

seed: migrate
	$(BIN)/python -m billing_portal seed-demo

clean:
	rm -rf $(VENV) .web $(DATA) .states

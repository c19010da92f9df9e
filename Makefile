# The two commands of the quick start are `make project` and `make test`; both set up
# whatever is missing first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RAINFOREST := $(VENV)/bin/rainforest
JDBC_JAR := /usr/share/java/postgresql.jar
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
SERVE_PORT ?= 10000
SHOW_REPORTS := --show daily_order_report --show daily_category_report --show funnel_report \
	--show daily_business_report --show customer_segments_report --show product_performance_report
COMPOSE := docker compose
# `make up`, `down` and `status` use docker compose when a Docker engine answers, else the
# native stack (`rainforest stack`).
DOCKER_ANSWERS := docker info >/dev/null 2>&1

# `make project PROFILE=cluster` runs on the stack of `make up` (any target: RAINFOREST_PROFILE).
ifdef PROFILE
export RAINFOREST_PROFILE := $(PROFILE)
endif

.PHONY: install jdbc-driver browser setup project serve test test-unit test-integration test-e2e test-faults lint format clean

install: $(STAMP) jdbc-driver

# Editable in compat mode: a plain path entry, which Spark's scan for pyspark_* data sources
# sees (the default import hook is invisible to it outside the repo root).
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

# Debian's package gives Spark its Postgres JDBC driver; without root or apt-get,
# point RAINFOREST_JDBC_JAR at a postgresql.jar instead.
jdbc-driver:
	@if [ ! -f $(JDBC_JAR) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing libpostgresql-jdbc-java for Spark's JDBC reader"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpostgresql-jdbc-java >/dev/null; \
	  else \
	    echo "note: $(JDBC_JAR) is missing; install libpostgresql-jdbc-java or set RAINFOREST_JDBC_JAR"; \
	  fi; \
	fi

# Debian's Chromium, which the docs site's browser test drives headless (through Playwright);
# without root or apt-get that test is skipped outside CI.
browser:
	@if ! command -v chromium >/dev/null && [ -z "$$RAINFOREST_CHROMIUM" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium for the docs site's browser test"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: chromium is missing; install Debian's chromium or set RAINFOREST_CHROMIUM"; \
	  fi; \
	fi

# With a Docker engine and the compose stack of `make up` running, `setup` and `project` run
# in its spark-master container (against its Postgres, MinIO and workers); otherwise natively.
COMPOSE_RUNNING := $(DOCKER_ANSWERS) && [ -n "$$($(COMPOSE) ps -q spark-master 2>/dev/null)" ]
IN_COMPOSE := $(COMPOSE) exec spark-master rainforest

# The upstream database: the local server (unless RAINFOREST_PG_DSN names another),
# the schema, and scale-1 data when it holds none yet.
setup:
	@if $(COMPOSE_RUNNING); then $(IN_COMPOSE) datagen --scale 1 --if-empty; \
	else $(MAKE) --no-print-directory install && $(RAINFOREST) db up \
	  && $(RAINFOREST) datagen --scale 1 --if-empty; fi

# The whole pipeline on the embedded default, then the first rows of the reports.
project: setup
	@if $(COMPOSE_RUNNING); then $(IN_COMPOSE) run $(SHOW_REPORTS); \
	else $(RAINFOREST) run $(SHOW_REPORTS); fi

# JDBC/ODBC for BI tools on 127.0.0.1:$(SERVE_PORT) until Ctrl-C (background it with `make serve &`).
serve: install
	$(RAINFOREST) serve --port $(SERVE_PORT)

.PHONY: up down status

# Spark master, two workers, history server, S3 (MinIO or SeaweedFS) and Postgres.
up:
	@if $(DOCKER_ANSWERS); then $(COMPOSE) up -d --build; fi
	@$(DOCKER_ANSWERS) || $(MAKE) --no-print-directory install
	@$(DOCKER_ANSWERS) || $(RAINFOREST) stack up

down:
	@if $(DOCKER_ANSWERS); then $(COMPOSE) down; \
	elif [ -x $(RAINFOREST) ]; then $(RAINFOREST) stack down; fi

status:
	@if $(DOCKER_ANSWERS); then $(COMPOSE) ps; \
	elif [ -x $(RAINFOREST) ]; then $(RAINFOREST) stack status; \
	else echo "Not installed yet: run make up"; fi

# The import contracts of pyproject.toml (the architecture), then every suite.
test: install browser
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install browser
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

test-faults: install
	$(PY) -m pytest tests/faults $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf lakehouse spark-warehouse metastore_db derby.log .pytest_cache .ruff_cache

# Both entry points create .venv and install what they need, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_DATA ?= $(abspath ../shared/data)
export BANKMARKETING_DATA ?= $(SHARED_DATA)/bankmarketing_train.csv
export BANKMARKETING_HOLDOUT ?= $(SHARED_DATA)/bankmarketing_holdout_derived.csv

.PHONY: venv demo test lint typecheck pytest model-report clean system-deps codegen codegen-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip check
	touch $(STAMP)

venv: $(STAMP)

# Benchmarks and some tests use ab and wrk (Debian apache2-utils, wrk); the Swagger UI test uses Debian
# chromium (driven headless over the DevTools protocol); Spark needs a Java 17+ runtime (default-jre-headless). Install them when missing and we can.
system-deps:
	@missing=""; \
	command -v ab >/dev/null || missing="$$missing apache2-utils"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "note: missing$$missing (Debian); install them as root, or the tests that need them fail"; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/python -m bankmarketing_client.demo

lint: $(STAMP)
	$(BIN)/ruff check bankmarketing_client tests bench codegen loadtest loadtest_shapes
	$(BIN)/ruff format --check bankmarketing_client tests bench codegen loadtest loadtest_shapes

typecheck: $(STAMP)
	$(BIN)/mypy bankmarketing_client tests bench codegen loadtest loadtest_shapes

pytest: $(STAMP) system-deps
	$(BIN)/pytest

# The typed low-level client is generated from the committed swagger snapshots (codegen/README.md).
codegen: $(STAMP)
	$(BIN)/python -m codegen project

codegen-check: $(STAMP)
	$(BIN)/python -m codegen check

test: lint typecheck codegen-check pytest

model-report: $(STAMP)
	$(BIN)/bankmarketing-client local model

clean:
	rm -rf $(VENV) build dist *.egg-info

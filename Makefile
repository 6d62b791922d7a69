# Elster: `make run` installs and runs the main job; `make test` installs and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
REGION ?= heidelberg
# A local mirror of the data sources: ../shared/data when it exists beside the checkout.
ELSTER_MIRROR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export ELSTER_MIRROR

.PHONY: install test-deps run test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# System packages the tests drive (chromium, postgresql); the tests never install anything.
test-deps: install
	sh scripts/ensure_test_deps.sh
	$(BIN)/python -m scripts.ensure_axe

run: install
	$(BIN)/elster fetch $(REGION)
	$(BIN)/elster build $(REGION)
	$(BIN)/elster route $(REGION) --samples
	$(BIN)/elster serve $(REGION) --host 127.0.0.1 --port 8000

test: install test-deps
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) data/cache .pytest_cache

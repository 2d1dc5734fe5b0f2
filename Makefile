# The README's commands. `make test` is what CI runs on a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATAFLUX_HOME ?= $(abspath data)
export DATAFLUX_HOME
FIXTURES := $(wildcard ../shared/fixtures)

.PHONY: install demo test up lint fmt clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first, so nothing pulls the CUDA wheels (see README for GPU hosts).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/dataflux demo $(if $(FIXTURES),--fixtures $(FIXTURES))

test: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest -q

up: install
	mkdir -p $(DATAFLUX_HOME)/dagster $(DATAFLUX_HOME)/landing
	trap 'kill 0' EXIT INT TERM; \
	DAGSTER_HOME=$(DATAFLUX_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml & \
	$(BIN)/dataflux serve & \
	wait

lint:
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

fmt:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

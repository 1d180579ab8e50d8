# FactorNet suite — the two commands of the README's quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# `cpu` pulls the small tensorflow-cpu wheel; use EXTRAS=gpu,test on a CUDA machine.
EXTRAS ?= cpu,test
STAMP   = $(VENV)/.installed-$(EXTRAS)

.PHONY: setup demo test test-fast lint galaxy-test nextflow-test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v bedtools >/dev/null 2>&1 || bash scripts/install_bedtools.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

## Run the whole chain on built-in simulated data (writes demo_out/).
demo: setup
	rm -rf demo_out
	$(BIN)/factornet demo --out demo_out

## All tests. Galaxy / Nextflow / linters run when installed (CI installs them), else they skip.
test: setup
	$(BIN)/ruff check factornet_core tools tests bench
	$(BIN)/ruff format --check factornet_core tools tests bench
	$(BIN)/python -m pytest --durations=25

## Unit tests only (no slow, Galaxy or Nextflow tests).
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not galaxy and not nextflow"

galaxy-test: setup
	bash tests/galaxy/install_galaxy.sh
	$(BIN)/python -m pytest -m galaxy tests/galaxy

nextflow-test: setup
	$(BIN)/python -m pytest -m nextflow tests/nextflow

bench: setup
	$(BIN)/python bench/bench_loader.py

clean:
	rm -rf $(VENV) demo_out build *.egg-info

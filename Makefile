# Two commands set up and run everything on a fresh machine:
#   make demo   build .venv, then run relufind on a bundled sample model
#   make test   build .venv, then run ruff, the test suite and the conformance cases
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_CASES := ../shared/check_cases.py

.PHONY: demo test lint bench clean

$(BIN)/relufind: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

demo: $(BIN)/relufind
	$(BIN)/relufind sample_models/placements.py:ConvRNNClassifier

lint: $(BIN)/relufind
	$(BIN)/ruff check relufind tests sample_models benchmarks

test: lint
	$(BIN)/pytest -q
	@if [ -f $(SHARED_CASES) ]; then $(BIN)/python $(SHARED_CASES) --relufind $(BIN)/relufind; \
	else echo "($(SHARED_CASES) not found: conformance cases skipped)"; fi

bench: $(BIN)/relufind
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands set up and run everything on a fresh machine:
#   make demo   build .venv, then run relufind on a bundled sample model
#   make test   build .venv, then run ruff, the test suite and the conformance cases
#   make test-min   the CLI tests with the lowest typer and rich pyproject.toml admits
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_CASES := ../shared/check_cases.py

.PHONY: demo test test-min lint bench clean

# the floors, read from pyproject.toml's own dependencies (typer>=X -> typer==X), so the
# versions tested are the ones declared
MIN_VENV := .venv-min
FLOORS = $(shell $(PYTHON) -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(" ".join(re.sub(r"\s*>=\s*", "==", d) for d in deps if re.match(r"(typer|rich)\s*>=", d)))')

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

$(MIN_VENV)/bin/relufind: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install -q --upgrade pip
	$(MIN_VENV)/bin/pip install -q -c constraints.txt -e ".[dev]" $(FLOORS)
	touch $@

test-min: $(MIN_VENV)/bin/relufind
	@$(MIN_VENV)/bin/python -c 'from importlib.metadata import version as v; print("floors:", ", ".join(f"{p} {v(p)}" for p in ("typer", "rich", "click", "torch")))'
	$(MIN_VENV)/bin/pytest -q -p no:cacheprovider tests/test_cli.py tests/test_lint_cli.py tests/test_discover.py tests/test_e2e.py tests/test_render.py \
		tests/test_terminal.py tests/test_baseline.py tests/test_emitters.py tests/test_argv.py

bench: $(BIN)/relufind
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) $(MIN_VENV) .pytest_cache .ruff_cache

# `make demo` and `make test` work on a fresh machine: they create ./.venv (once) and
# install symconv into it, editable, with the constraints that pin torch to the CPU wheel.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench fuzz report clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/symconv demo

# the LaTeX solution sheet of the built-in exercise (reports/exercise2.tex and .pdf)
report: $(STAMP)
	$(BIN)/symconv report

lint: $(STAMP)
	$(BIN)/ruff check symconv tests benchmarks examples scripts
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# the long fuzzing run (tests/fuzz.py; CI runs its bounded part in `make test`): prints the
# figures — crashes, budget overruns, slowest equation and document, peak memory
FUZZ_DOCUMENTS ?= 10000
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz.py --documents $(FUZZ_DOCUMENTS) --out fuzz-results

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# make train: train the default model on the embedded digits set and print its test accuracy.
# make test:  run the whole test suite.  Both create .venv (with torch's local CPU wheel) when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: train test lint bench clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[test,datasets,viz,studio,dev,bench]"
	touch $@

train: $(BIN)/.installed
	$(BIN)/python -m deepling train

test: $(BIN)/.installed
	# Two workers on two cores, one BLAS thread each (no oversubscription).
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 tests

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

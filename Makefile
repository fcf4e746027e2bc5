# make train: train the default model on the embedded digits set and print its test accuracy.
#             Installs only the core with the `datasets` and `viz` extras (no PyTorch).
# make test:  run the whole test suite; adds the `test` extras (PyTorch from the local CPU wheel).
# Both create .venv when missing. Each target has its own stamp, so `make train` on a fresh clone
# does not install torch, and a later `make test` installs what it adds.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

# extras per stamp
EXTRAS_train := datasets,viz
EXTRAS_test := datasets,viz,studio,test
EXTRAS_lint := dev
EXTRAS_bench := datasets,bench

.PHONY: train test lint bench clean

$(BIN)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[$(EXTRAS_$*)]"
	touch $@

train: $(BIN)/.installed-train
	$(BIN)/python -m deepling train

test: $(BIN)/.installed-test
	# Two workers on two cores, one BLAS thread each (no oversubscription).
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 tests

lint: $(BIN)/.installed-lint
	$(BIN)/ruff check src tests benchmarks

bench: $(BIN)/.installed-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

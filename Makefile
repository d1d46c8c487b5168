# Two commands for a new user (see README.md):
#   make demo   install into .venv (CPU torch) and run the main job (train a language model)
#   make test   install into .venv (CPU torch) and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnkit-installed

.PHONY: demo parity test test-fast lint bench install clean

install: $(STAMP)

# torch==2.13.0 is installed first, on its own, so that the CPU wheel is taken and no CUDA
# packages are downloaded; the package itself is then installed in editable mode with its extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,all]'
	touch $(STAMP)

# The main job: train the default LSTM on the default corpus (Python's own reference manual,
# no download) for its default 2,000 updates (about 2.5 minutes on a quiet 2-core CPU), print a
# sample and where the model and logs went.
demo: $(STAMP)
	$(VENV)/bin/rnnkit train lm --out runs/demo --overwrite

parity: $(STAMP)
	$(PY) examples/parity_demo.py

# The whole suite (what CI runs, after the lint): every test, the slow end-to-end ones included.
test: $(STAMP) lint
	$(PY) -m pytest -q

# The fast lane: everything but the tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check rnnkit tests benchmarks examples
	$(VENV)/bin/ruff format --check rnnkit tests benchmarks examples

bench: $(STAMP)
	$(PY) benchmarks/bench_layers.py

clean:
	rm -rf $(VENV) .pytest_cache

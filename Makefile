# Two commands for a new user (see README.md):
#   make demo   install into .venv (CPU torch) and run the main job
#   make test   install into .venv (CPU torch) and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnkit-installed

.PHONY: demo test bench install clean

install: $(STAMP)

# torch==2.13.0 is installed first, on its own, so that the CPU wheel is taken and no CUDA
# packages are downloaded; the package itself is then installed in editable mode with its extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,all]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/parity_demo.py

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_layers.py

clean:
	rm -rf $(VENV) .pytest_cache

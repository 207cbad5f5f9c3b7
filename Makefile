# The two commands: `make book` builds the site, `make test` runs every test.
# Both create .venv from the pinned requirements when it is missing (or when the pins change).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHAPTER ?= intro
ARGS ?=

.PHONY: book test test-fast run list bench clean datasets paper

$(STAMP): requirements.txt requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The datasets the book needs, before any chapter runs (Fashion-MNIST: data/datasets/, else
# Debian's folder, else `apt-get install dataset-fashion-mnist` as root, else a download).
datasets: $(STAMP)
	$(PY) -m avalley datasets

# Executes every chapter at its default (quick) profile; a chapter that raises fails the build.
book: datasets
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going

# The whole suite, including a full book build and the rendered-site test.
test: datasets
	$(PY) -m pytest tests

# Library tests only (seconds to a minute).
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow"

# Rerun one chapter with other parameters, e.g.
#   make run CHAPTER=swa ARGS="-p profile paper -p device cuda"
run: $(STAMP)
	$(PY) -m avalley run $(CHAPTER) $(ARGS)

list: $(STAMP)
	$(PY) -m avalley list

bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/line_scan.py
	$(PY) benchmarks/cold_budget.py

clean:
	rm -rf _build

# The paper's experiments as jobs on an executor (see README), e.g.
#   make paper ARGS="--plan"      make paper ARGS="--executor ray"
paper: $(STAMP)
	$(PY) -m avalley paper $(ARGS)

# The two commands a reader needs (see README.md):
#   make book   set up .venv and build the HTML book into _build/html (offline, warnings are errors)
#   make test   set up .venv, build the book and run every test (package, checks, notebooks, browser)
# and for instructors:
#   make student-book   the book without its solutions, in _build/student/_build/html

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.attnbook-installed
# One thread per torch/BLAS process: notebooks and tests never fight over the cores.
export OMP_NUM_THREADS ?= 2
export OMP_WAIT_POLICY ?= PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION = 1

.PHONY: setup book student-book test exercises check-exercises clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

book: setup
	rm -rf _build/html _build/.jupyter_cache
	$(BIN)/jupyter-book build . --all -W --keep-going

# The book without the Solutions part, for students (reuses the outputs cached by `make book`).
student-book: setup
	$(BIN)/python tools/student_edition.py

exercises: setup
	$(BIN)/python tools/make_exercises.py

check-exercises: setup
	$(BIN)/python tools/make_exercises.py --check

# Builds the book beside the tests that do not need it, then tests the built book (tools/test.sh).
test: setup
	BIN=$(BIN) bash tools/test.sh

clean:
	rm -rf _build

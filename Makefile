# The two commands a reader needs (see README.md):
#   make book   set up .venv and build the HTML book into _build/html (offline, warnings are errors)
#   make test   set up .venv, run every test (package, checks, notebooks), build the book, test it
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
# The notebooks' kernels read an IPython profile of the build's own (tools/ipython): their figures
# record the size of their text, which the tests of the built book check.
export IPYTHONDIR = $(CURDIR)/_build/ipython

.PHONY: setup ipython book student-book test exercises check-exercises clean

setup: $(STAMP)

ipython:
	mkdir -p $(IPYTHONDIR)/profile_default/startup
	cp tools/ipython/*.py $(IPYTHONDIR)/profile_default/startup/

# The versions CI tested are in constraints.txt. On Linux without a GPU, PyTorch's CPU build
# comes from PyTorch's own index when it can be reached (tools/torch_index.py).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $$($(PYTHON) tools/torch_index.py) \
	  -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Notebooks whose code and package are unchanged are not run again (tools/book_cache.py).
book: setup ipython
	rm -rf _build/html
	$(BIN)/python tools/book_cache.py refresh
	$(BIN)/jupyter-book build . --all -W --keep-going

# The book without the Solutions part, for students (reuses the outputs cached by `make book`).
student-book: setup
	$(BIN)/python tools/student_edition.py

exercises: setup
	$(BIN)/python tools/make_exercises.py

check-exercises: setup
	$(BIN)/python tools/make_exercises.py --check

# Runs the tests and the notebooks, builds the book from what they ran, tests it (tools/test.sh).
test: setup ipython
	BIN=$(BIN) bash tools/test.sh

clean:
	rm -rf _build

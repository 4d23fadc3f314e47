# `make book` builds the site into _build/html; `make test` runs every test; `make lab` opens
# the notebooks. Each first creates .venv and installs requirements.txt (and the library) into it.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book

# The developers and CI have MNIST beside the checkout; a reader's machine downloads it instead.
SHARED_MNIST := $(abspath ../shared/data/mnist)
ifneq ($(wildcard $(SHARED_MNIST)/SHA256SUMS),)
export MNIST_DIR ?= $(SHARED_MNIST)
endif

# Tests and builds must never wait on a figure window.
export MPLBACKEND := Agg

.PHONY: install book test unit notebooks build-strict lab clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

# jupyter-cache keys on the notebooks' code alone, so it would keep outputs made by an older
# library: throw the cache away whenever src/ changes.
_build/.library-stamp: $(wildcard src/hellograd/*.py)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: install _build/.library-stamp
	$(JB) build .

# Everything CI checks: unit tests, every notebook under nbval, and a build with warnings as errors.
test: unit notebooks build-strict

unit: install
	$(PYTHON) -m pytest tests

# pytest exits 5 when it finds no notebook at all: not a failure while book/ has none.
notebooks: install
	$(PYTHON) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider book \
		|| test $$? -eq 5

build-strict: install _build/.library-stamp
	$(JB) build . -W -n --keep-going

lab: install
	$(VENV)/bin/jupyter lab book

clean:
	rm -rf _build

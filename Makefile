# `make help` lists the targets. `make book` builds the site into _build/html; `make test` runs
# every test; `make lab` opens the notebooks. Each first creates .venv and installs
# requirements.txt (and the library) into it.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py
# The unit tests also run on the oldest versions pyproject.toml allows (`make oldest`).
OLDEST_VENV ?= _build/venv-oldest
OLDEST_PINS := numpy==1.24.4 matplotlib==3.7.5 threadpoolctl==3.1.0 pytest==9.2.0 hypothesis==6.170.15
# Seconds a notebook cell may run before the test fails (the longest cell takes about 15 s).
CELL_TIMEOUT := 300
# Extra flags for `make lab`, e.g. make lab LAB_FLAGS="--port 8899 --no-browser"
LAB_FLAGS ?=

# The developers and CI have MNIST beside the checkout; a reader's machine downloads it instead.
SHARED_MNIST := $(abspath ../shared/data/mnist)
ifneq ($(wildcard $(SHARED_MNIST)/SHA256SUMS),)
export MNIST_DIR ?= $(SHARED_MNIST)
endif

# Tests and builds must never wait on a figure window.
export MPLBACKEND := Agg
# ...but the notebooks the site build executes must keep Jupyter's inline backend: under Agg
# their figures would silently vanish from the pages. So the builds below unset it.
# The site shows a cell that raises on purpose in IPython's "Minimal" error mode: the error,
# not a traceback through the build machine's temporary files. Only the builds use this
# profile; a reader's own Jupyter (make lab) keeps full tracebacks.
BUILD_IPYTHONDIR := $(abspath _build/ipython)
BUILD_PROFILE := $(BUILD_IPYTHONDIR)/profile_default/ipython_kernel_config.py
BUILD_ENV := env -u MPLBACKEND IPYTHONDIR=$(BUILD_IPYTHONDIR)

.DEFAULT_GOAL := help
.PHONY: help install mnist book test lint unit oldest notebooks standalone build-strict browser \
	lab-browser figures bench lab clean

help: ## list the targets
	@echo "make TARGET, where TARGET is one of:"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:[^#]*## / {printf "  %-13s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

install: $(VENV)/.installed $(KERNEL_CONFIG) ## create .venv with requirements.txt and the library

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

# Sharp figures on high-DPI screens: the notebooks' kernel draws matplotlib figures as
# "retina" PNGs (twice the pixels, shown at the same size). IPython reads kernel settings from
# the environment's etc/ipython; Jupyter Book has no setting of its own for this.
$(KERNEL_CONFIG): | $(VENV)/.installed
	mkdir -p $(dir $@)
	echo "c.InlineBackend.figure_formats = {'retina'}" > $@

# The chapters read MNIST: find it ($MNIST_DIR, the cache) or download it, and check it, before
# anything executes them, so that a missing data set stops the build with one short message.
mnist: install ## find, download if needed, and check the MNIST files
	@$(PYTHON) -m hellograd.data

# jupyter-cache keys on the notebooks' code alone, so it would keep outputs made by an older
# library: throw the cache away whenever src/ changes.
$(BUILD_PROFILE):
	mkdir -p $(dir $@)
	echo "c.InteractiveShell.xmode = 'Minimal'" > $@

_build/.library-stamp: $(wildcard src/hellograd/*.py) $(KERNEL_CONFIG) $(BUILD_PROFILE)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: install mnist _build/.library-stamp ## build the site into _build/html (and its PDF)
	$(BUILD_ENV) $(JB) build .
	$(MAKE) --no-print-directory pdf || echo "make book: the site is built, but not its PDF" \
		"(make pdf needs Debian's chromium and poppler-utils; see README.md)"

# Everything CI checks: the linter, unit tests (also on the oldest NumPy allowed), every
# notebook under nbval and each on its own, a build with warnings as errors, every page of
# that build opened in headless Chromium, and every chapter opened in JupyterLab there.
test: lint unit oldest notebooks standalone build-strict pdf browser lab-browser ## every test (what CI runs)

lint: install ## ruff over the Python sources (settings in pyproject.toml)
	$(VENV)/bin/ruff check src tests benchmarks book/figures

# The browser tests need a built site or a running JupyterLab, and the stand-alone test
# builds its own environment: each is its own step, which a plain `pytest tests` leaves out
# (tests/conftest.py).
unit: install ## unit tests
	$(PYTHON) -m pytest tests

# The oldest NumPy, matplotlib and threadpoolctl pyproject.toml accepts (float32 must stay
# float32 there too), in a venv of their own beside the site (_build/venv-oldest; `make clean`
# removes it). They have wheels for Python 3.11 and 3.12 only: on a newer Python this step says so and passes
# (OLDEST_PYTHON=python3.12 picks an interpreter that can run it).
OLDEST_PYTHON ?= python3
$(OLDEST_VENV)/.installed: pyproject.toml Makefile
	test -x $(OLDEST_VENV)/bin/python || $(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet $(OLDEST_PINS)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

oldest: ## unit tests on the oldest NumPy, matplotlib, threadpoolctl allowed
	@if $(OLDEST_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] > (3, 12))'; then \
		$(MAKE) --no-print-directory $(OLDEST_VENV)/.installed && \
		$(OLDEST_VENV)/bin/python -m pytest tests -p no:cacheprovider; \
	else \
		echo "make oldest: not run: NumPy 1.24 has no wheels for Python 3.13+" \
		     "(OLDEST_PYTHON=python3.12 make oldest runs it)"; \
	fi

# pytest exits 5 when it finds no notebook at all: not a failure while book/ has none.
notebooks: install mnist ## run every notebook in book/ under nbval
	$(PYTHON) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) \
		-p no:cacheprovider book || test $$? -eq 5

# Each notebook alone in an empty folder, in a fresh venv holding only hellograd[notebooks],
# with MNIST downloaded from a server on 127.0.0.1 (see the test's docstring).
standalone: install ## run each notebook alone, with only `pip install hellograd[notebooks]`
	$(PYTHON) -m pytest tests/test_standalone_chapters.py -p no:cacheprovider

build-strict: install mnist _build/.library-stamp ## build the site, warnings as errors
	$(BUILD_ENV) $(JB) build . -W -n --keep-going

# Every page of _build/html (SITE_DIR=... for another build) in headless Chromium: maths
# typeset, images loaded, no console errors, no request off the machine; screenshots in
# _build/screenshots. Skips, saying why, where Chromium is missing, except under CI=true.
browser: install ## open every page of the built site in headless Chromium
	$(PYTHON) -m pytest tests/browser -p no:cacheprovider

# The whole book as one PDF: the book built as a single page (_build/singlehtml), printed by
# headless Chromium (book/_ext/print_pdf.py: maths typeset, each chapter on a new page, a table
# of contents), offline like the site; then copied into the site, whose pages link to it.
.PHONY: pdf
pdf: install mnist _build/.library-stamp ## the whole book as one PDF: _build/pdf/hello-autodiff.pdf
	$(BUILD_ENV) $(JB) build . --builder singlehtml
	$(PYTHON) book/_ext/print_pdf.py _build/singlehtml _build/pdf/hello-autodiff.pdf
	if [ -d _build/html ]; then cp _build/pdf/hello-autodiff.pdf _build/html/; fi

# Each chapter opened in a real JupyterLab (with jupyterlab-myst) in headless Chromium:
# screenshots in _build/jupyterlab-screenshots.
lab-browser: install ## open every chapter in JupyterLab in headless Chromium
	$(PYTHON) -m pytest tests/jupyterlab -p no:cacheprovider

# The intro's pictures (committed; regenerate after changing hellograd.viz or the script).
figures: install ## redraw the intro's figures
	$(PYTHON) book/figures/make_intro_figures.py

# Speed and memory of the MNIST training: hellograd, NumPy by hand, JAX with the step jitted,
# and PyTorch if installed (about 5 minutes; run it on a quiet machine: the runs take turns
# epoch by epoch, but Python code still slows more than BLAS when the machine is shared). The
# figures quoted in README.md and in the appendix page book/benchmarks are the ones recorded
# in benchmarks/results/mnist_mlp.json.
bench: install ## time the MNIST training (about 5 minutes)
	$(PYTHON) benchmarks/mnist_mlp.py --json benchmarks/results/mnist_mlp.json

lab: install ## JupyterLab on book/ (flags: LAB_FLAGS="--port 8899 --no-browser")
	env -u MPLBACKEND $(VENV)/bin/jupyter lab book $(LAB_FLAGS)

clean: ## remove _build (the site, caches, screenshots, the oldest-versions venv)
	rm -rf _build

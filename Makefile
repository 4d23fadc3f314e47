# `make book` builds the site into _build/html; `make test` runs every test; `make lab` opens
# the notebooks. Each first creates .venv and installs requirements.txt (and the library) into it.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

# The developers and CI have MNIST beside the checkout; a reader's machine downloads it instead.
SHARED_MNIST := $(abspath ../shared/data/mnist)
ifneq ($(wildcard $(SHARED_MNIST)/SHA256SUMS),)
export MNIST_DIR ?= $(SHARED_MNIST)
endif

# Tests and builds must never wait on a figure window.
export MPLBACKEND := Agg
# ...but the notebooks the site build executes must keep Jupyter's inline backend: under Agg
# their figures would silently vanish from the pages. So the builds below unset it.
BUILD_ENV := env -u MPLBACKEND

.PHONY: install book test unit notebooks build-strict browser figures bench lab clean

install: $(VENV)/.installed $(KERNEL_CONFIG)

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

# jupyter-cache keys on the notebooks' code alone, so it would keep outputs made by an older
# library: throw the cache away whenever src/ changes.
_build/.library-stamp: $(wildcard src/hellograd/*.py) $(KERNEL_CONFIG)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: install _build/.library-stamp
	$(BUILD_ENV) $(JB) build .

# Everything CI checks: unit tests, every notebook under nbval, a build with warnings as
# errors, and then every page of that build opened in headless Chromium.
test: unit notebooks build-strict browser

# The browser test needs a built site, so it is its own step (`browser`), not part of `unit`.
unit: install
	$(PYTHON) -m pytest tests --ignore=tests/browser

# pytest exits 5 when it finds no notebook at all: not a failure while book/ has none.
notebooks: install
	$(PYTHON) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider book \
		|| test $$? -eq 5

build-strict: install _build/.library-stamp
	$(BUILD_ENV) $(JB) build . -W -n --keep-going

# Every page of _build/html (SITE_DIR=... for another build) in headless Chromium: maths
# typeset, images loaded, no console errors, no request off the machine; screenshots in
# _build/screenshots. Skips, saying why, where Chromium is missing, except under CI=true.
browser: install
	$(PYTHON) -m pytest tests/browser -p no:cacheprovider

# The intro's pictures (committed; regenerate after changing hellograd.viz or the script).
figures: install
	$(PYTHON) book/figures/make_intro_figures.py

# Speed and memory of the MNIST training: hellograd, NumPy by hand, and PyTorch if installed
# (about 3 minutes; run it on a quiet machine). The figures quoted in README.md and in the
# appendix page book/benchmarks are the ones recorded in benchmarks/results/mnist_mlp.json.
bench: install
	$(PYTHON) benchmarks/mnist_mlp.py --json benchmarks/results/mnist_mlp.json

lab: install
	$(VENV)/bin/jupyter lab book

clean:
	rm -rf _build

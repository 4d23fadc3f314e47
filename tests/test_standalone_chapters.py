"""Every notebook of the book runs on its own, as a reader who downloaded it would run it.

For each notebook in book/, copied alone into an empty folder, the test runs it top to bottom
in a kernel from a fresh virtual environment that holds nothing but

    pip install "<this checkout>[notebooks]"

(the library installed from a copy of pyproject.toml, README.md, LICENSE and src/, not
editable), so a chapter that imports something the `notebooks` extra does not declare, or that
reads a file from the repository, fails here. One environment serves every notebook; pip's
own cache keeps its creation short (it may reach PyPI, as a reader's pip would).

MNIST comes the way a reader's copy gets it, by download, but from a local http.server on
127.0.0.1 serving the files of $MNIST_DIR (or ../shared/data/mnist beside the checkout), named
by HELLOGRAD_MNIST_MIRRORS; MNIST_DIR is unset in the kernel, and the download cache
(HELLOGRAD_CACHE) is a fresh temporary folder shared by the notebooks of one run.

It takes a few minutes (the environment, then every chapter), so a plain `pytest` leaves it
out (tests/conftest.py): run it by naming this file (`make standalone`, part of `make test`). STANDALONE_CELL_TIMEOUT
(seconds, default 120) bounds each cell; STANDALONE_NOTEBOOKS=ch01,ch10 runs only the
notebooks whose names start with one of those prefixes.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
IN_CI = os.environ.get("CI", "").lower() == "true"
KERNEL_NAME = "hellograd-standalone"
CELL_TIMEOUT = int(os.environ.get("STANDALONE_CELL_TIMEOUT", "120"))
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# What the library's wheel is built from: what a `pip install git+<repository>` would see of it.
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", "src")

_only = [p for p in os.environ.get("STANDALONE_NOTEBOOKS", "").split(",") if p]
NOTEBOOKS = [path for path in sorted(BOOK.glob("*.ipynb"))
             if not _only or any(path.name.startswith(prefix) for prefix in _only)]


def _skip_or_fail(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the stand-alone test must run)", pytrace=False)
    pytest.skip(reason)


def _tail(text, lines=25):
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(args, what, **kwargs):
    """Run a command; on failure, fail the test with the command's last lines of output."""
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(map(str, args))}\n"
                    f"{_tail(done.stdout + done.stderr)}", pytrace=False)
    return done


@pytest.fixture(scope="module")
def mnist_mirror(tmp_path_factory, serve_directory):
    """A base URL on 127.0.0.1 serving the four `<name>.gz` files, the layout of a mirror."""
    source = Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
    if not all((source / f"{n}.gz").is_file() or (source / n).is_file() for n in MNIST_FILES):
        _skip_or_fail(f"the MNIST files are not in {source}: set MNIST_DIR to a folder that "
                      "holds them")
    served = source
    if not all((source / f"{n}.gz").is_file() for n in MNIST_FILES):
        served = tmp_path_factory.mktemp("mnist-mirror")
        for name in MNIST_FILES:
            if (source / f"{name}.gz").is_file():
                shutil.copy(source / f"{name}.gz", served)
            else:
                with gzip.open(served / f"{name}.gz", "wb", compresslevel=1) as out:
                    out.write((source / name).read_bytes())
    with serve_directory(served) as url:
        yield url


@pytest.fixture(scope="module")
def standalone_kernel(tmp_path_factory):
    """A fresh venv holding only `hellograd[notebooks]`, and a kernel spec that runs its Python.

    Returns the folder to put on JUPYTER_PATH for the kernel spec to be found.
    """
    root = tmp_path_factory.mktemp("standalone")
    package = root / "package"
    package.mkdir()
    for name in PACKAGE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, package / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, package / name)
    venv = root / "venv"
    started = time.monotonic()
    _run([sys.executable, "-m", "venv", venv], "creating the venv")
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", f"{package}[notebooks]"],
         'pip install "hellograd[notebooks]"', cwd=root)
    _run([python, "-m", "ipykernel", "install", "--prefix", root / "jupyter",
          "--name", KERNEL_NAME, "--display-name", "hellograd (stand-alone)"],
         "installing the kernel spec")
    installed = _run([python, "-m", "pip", "list", "--format=freeze"], "pip list").stdout
    print(f"stand-alone venv ready in {time.monotonic() - started:.0f} s:",
          " ".join(installed.split()))
    return root / "jupyter" / "share" / "jupyter"


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory):
    """One download cache for every notebook of the run, as a reader's machine keeps one."""
    return tmp_path_factory.mktemp("hellograd-cache")


def _kernel_env(mirror, cache, folder):
    """The kernel's environment: the reader's, with nothing pointing back at this checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"MNIST_DIR", "PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND",
                        "JUPYTER_PATH", "PYTHONSTARTUP"}
           and not k.startswith("HELLOGRAD_")}
    env.update(HELLOGRAD_MNIST_MIRRORS=mirror, HELLOGRAD_CACHE=str(cache),
               XDG_CACHE_HOME=str(folder / ".cache"), MPLCONFIGDIR=str(folder / ".matplotlib"))
    return env


def _first_line(text):
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _failure(name, nb, error):
    """One clear paragraph: which notebook, which cell, what it raised, and the cell's start."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    failed = None
    for i in code_cells:
        if any(o.get("output_type") == "error" for o in nb.cells[i].get("outputs", [])):
            failed = i
    if failed is None:  # a timeout or a dead kernel leaves no error output: the last one run
        ran = [i for i in code_cells if nb.cells[i].get("execution_count")]
        failed = ran[-1] + 1 if ran and ran[-1] + 1 < len(nb.cells) else (ran or [0])[-1]
    if isinstance(error, CellTimeoutError):
        what = f"a cell ran longer than {CELL_TIMEOUT} s (STANDALONE_CELL_TIMEOUT)"
    elif isinstance(error, DeadKernelError):
        what = "the kernel died"
    else:
        what = f"{getattr(error, 'ename', type(error).__name__)}: " \
               f"{_first_line(getattr(error, 'evalue', str(error)))}"
    source = "\n".join("    " + line for line in nb.cells[failed].source.splitlines()[:8])
    number = code_cells.index(failed) + 1 if failed in code_cells else "?"
    return (f"{name} does not run on its own (only hellograd[notebooks] installed, the "
            f"notebook alone in an empty folder): code cell {number} (cell {failed}) "
            f"failed with {what}\n{source}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_alone(path, tmp_path, standalone_kernel, mnist_mirror, mnist_cache,
                             monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    folder = tmp_path / "reader"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    nb = nbformat.read(folder / path.name, as_version=4)
    monkeypatch.setenv("JUPYTER_PATH", str(standalone_kernel))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=120,
                            kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(folder)}})
    started = time.monotonic()
    failure = None
    try:
        client.execute(env=_kernel_env(mnist_mirror, mnist_cache, folder))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        failure = _failure(path.name, nb, error)
    if failure:  # outside the except: the report is this paragraph, not a chained traceback
        pytest.fail(failure, pytrace=False)
    print(f"{path.name}: ran alone in {time.monotonic() - started:.1f} s")

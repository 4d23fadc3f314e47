import contextlib
import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: every test is deterministic."""
    return np.random.default_rng(0)


TESTS = Path(__file__).resolve().parent
# Tests that run only when asked for by path (each has its make target), never as part of a
# plain `pytest`: tests/browser drives headless Chromium over whatever old _build/html lies
# around, tests/jupyterlab drives a JupyterLab, and test_standalone_chapters.py builds a fresh
# venv and runs every chapter in it.
ONLY_WHEN_NAMED = (TESTS / "browser", TESTS / "jupyterlab", TESTS / "test_standalone_chapters.py")


def pytest_ignore_collect(collection_path, config):
    """Leave out ONLY_WHEN_NAMED unless the command line names it (`pytest tests/browser`,
    `make browser`, `make lab-browser`, `make standalone`)."""
    target = Path(collection_path).resolve()
    if target not in ONLY_WHEN_NAMED:
        return None
    here = config.invocation_params.dir
    asked = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    if any(path == target or target in path.parents for path in asked):
        return None
    return True


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def _serving(directory):
    """Serve ``directory`` on http://127.0.0.1:PORT/ (a free port) inside the ``with``
    block: tests reach files over HTTP without leaving the machine."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def serve_directory():
    """``with serve_directory(folder) as url:`` serves a folder on 127.0.0.1."""
    return _serving
